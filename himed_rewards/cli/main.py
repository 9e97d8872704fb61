"""``himed-rewards``: the command-line entry point; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]

SUBCOMMANDS = ("demo", "score", "serve", "eval", "plot")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="himed-rewards",
        description="Clinically-aware hierarchical rewards and exact report-generation metrics.",
    )
    from himed_rewards import __version__

    parser.add_argument("--version", action="version", version=f"himed-rewards {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"himed_rewards.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"himed_rewards.cli.{name}":
                continue  # that subcommand is not part of this build
            raise
        module.register(sub)
    return parser


#: Set to 1 to see the Python traceback behind a one-line error.
TRACEBACK_ENV = "HIMED_REWARDS_TRACEBACK"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code.

    A bad input (missing file or column, malformed CSV/JSONL, an invalid option value) is
    reported on one line, ``himed-rewards COMMAND: error: ...``, with exit code 2 and no
    traceback (set ``HIMED_REWARDS_TRACEBACK=1`` to see it).

    Examples:
        >>> main(["eval", "--predictions", "missing.csv", "--references", "missing.csv"])
        2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as error:  # InputError is a ValueError
        if os.environ.get(TRACEBACK_ENV) == "1":
            raise
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        message = "; ".join(lines) or type(error).__name__
        print(f"himed-rewards {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"himed-rewards {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
