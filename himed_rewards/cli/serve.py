"""``himed-rewards serve``: run the reward HTTP server with uvicorn.

Binds 127.0.0.1 by default; binding another address without a token prints a warning, since
anyone who can reach the port can then use the server. The token comes from ``--token`` or
``$HIMED_REWARDS_TOKEN``. ``--openapi`` prints the OpenAPI spec and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

__all__ = ["register", "run", "TOKEN_ENV"]

TOKEN_ENV = "HIMED_REWARDS_TOKEN"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand to the ``himed-rewards`` argparse subparsers.

    Examples:
        >>> parser = argparse.ArgumentParser(prog="himed-rewards")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["serve", "--port", "9000"])
        >>> args.host, args.port, args.func is run
        ('127.0.0.1', 9000, True)
    """
    parser = subparsers.add_parser(
        "serve",
        help="run the reward HTTP server (OpenRLHF /get_reward, slime /score, /v1/score_batch)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--config", default=None, help="RewardConfig YAML/JSON file")
    parser.add_argument(
        "--token", default=None, help=f"bearer token clients must send (default: ${TOKEN_ENV})"
    )
    parser.add_argument("--max-batch", type=_positive_int, default=4096, help="pairs per request")
    parser.add_argument(
        "--max-body-bytes", type=_positive_int, default=8 * 1024 * 1024, help="request body limit"
    )
    parser.add_argument(
        "--request-timeout", type=_positive_float, default=120.0, help="seconds per request"
    )
    parser.add_argument(
        "--batch-wait-ms", type=float, default=5.0, help="how long to collect concurrent requests"
    )
    parser.add_argument(
        "--default-step", type=int, default=0, help="step for requests that do not send one"
    )
    parser.add_argument(
        "--max-queued-pairs",
        type=_positive_int,
        default=None,
        help="pairs queued or being scored before new requests get 503 (default: 4 x max-batch)",
    )
    parser.add_argument(
        "--body-timeout", type=_positive_float, default=30.0, help="seconds to receive a body"
    )
    parser.add_argument(
        "--docs", action="store_true", help="serve /openapi.json, /docs and /redoc"
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    parser.add_argument("--openapi", action="store_true", help="print the OpenAPI spec and exit")
    parser.set_defaults(func=run)


def build_app(args: argparse.Namespace) -> Any:
    """The app the parsed arguments describe (token from --token, else $HIMED_REWARDS_TOKEN)."""
    from himed_rewards.server import create_app

    token = args.token if args.token is not None else (os.environ.get(TOKEN_ENV) or None)
    return create_app(
        args.config,
        token=token,
        max_batch=args.max_batch,
        max_body_bytes=args.max_body_bytes,
        request_timeout=args.request_timeout,
        batch_wait_ms=args.batch_wait_ms,
        default_step=args.default_step,
        docs=args.docs,
        max_queued_pairs=args.max_queued_pairs,
        body_timeout=args.body_timeout,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; uvicorn drains open requests, the app drains its queue."""
    try:
        app = build_app(args)
    except ImportError as exc:
        print(f"himed-rewards serve: {exc}", file=sys.stderr)
        return 2
    except (TypeError, ValueError) as exc:
        print(f"himed-rewards serve: {exc}", file=sys.stderr)
        return 2
    if args.openapi:
        print(json.dumps(app.openapi(), indent=2, sort_keys=True))
        return 0
    if args.host not in LOOPBACK and not (args.token or os.environ.get(TOKEN_ENV)):
        print(
            f"himed-rewards serve: warning: binding {args.host} without a token; "
            f"set --token or ${TOKEN_ENV}",
            file=sys.stderr,
        )
    import uvicorn

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=max(1, int(args.request_timeout)),
    )
    return 0
