"""``himed-rewards``: the command-line entry point; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import importlib
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
