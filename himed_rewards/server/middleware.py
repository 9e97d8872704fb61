"""Pure ASGI middlewares of the reward server: bearer token, body limits, request metrics.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) keeps the per-request cost small, which
matters when many small scoring requests arrive at once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable, Collection
from typing import Any

from himed_rewards.server.metrics import ServerMetrics

__all__ = ["BearerAuth", "BodySizeLimit", "RequestMetrics", "send_json"]


async def send_json(
    send: Callable, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer a request directly from a middleware (before any route ran)."""
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """ASGI middleware: 401 unless ``Authorization: Bearer <token>``, for every path but the
    open ones, checked on the headers alone, so an unauthenticated body is never read.

    The comparison is constant-time (``hmac.compare_digest``).
    """

    def __init__(self, app: Any, token: str, open_paths: Collection[str] = ("/health",)) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                given = value
                break
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        await send_json(
            send,
            401,
            {"detail": "missing or wrong bearer token"},
            [(b"www-authenticate", b"Bearer"), (b"connection", b"close")],
        )


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over ``max_bytes``, by Content-Length or while streaming;
    408 (and the connection closed) when the body does not arrive within ``read_timeout``
    seconds, so a half-sent request cannot hold a connection and a slot for ever."""

    def __init__(self, app: Any, max_bytes: int, read_timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(send)
                return
        from fastapi import HTTPException

        seen = 0
        started = False
        body_done = False
        deadline = (
            None
            if self.read_timeout is None
            else asyncio.get_running_loop().time() + self.read_timeout
        )

        async def limited_receive() -> dict:
            nonlocal seen, body_done
            if body_done or deadline is None:
                message = await receive()  # after the body: waits for a disconnect, unbounded
            else:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    message = await asyncio.wait_for(receive(), max(remaining, 0.0))
                except asyncio.TimeoutError:
                    # An HTTPException passes FastAPI's body parsing untouched (anything
                    # else becomes a 400) and is rendered by its exception middleware.
                    raise HTTPException(
                        408,
                        f"request body not received within {self.read_timeout} s",
                        {"Connection": "close"},
                    ) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > self.max_bytes:
                    raise HTTPException(413, self._detail())
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except HTTPException as exc:  # read outside a route (no handler there)
            if exc.status_code not in (408, 413) or started:
                raise
            if exc.status_code == 408:
                await send_json(send, 408, {"detail": exc.detail}, [(b"connection", b"close")])
            else:
                await self._reject(send)

    def _detail(self) -> str:
        return f"request body is larger than the server limit of {self.max_bytes} bytes"

    async def _reject(self, send: Callable) -> None:
        await send_json(send, 413, {"detail": self._detail()}, [(b"connection", b"close")])


class RequestMetrics:
    """ASGI middleware: count every HTTP request by path and status and time it.

    Paths outside ``known_paths`` are counted as ``other`` so that a scanner cannot grow the
    label set without bound.
    """

    def __init__(self, app: Any, metrics: ServerMetrics, known_paths: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.known_paths = frozenset(known_paths)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in self.known_paths else "other"
        status = 500  # what the client sees if the app dies before answering
        start = time.perf_counter()

        async def status_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, status_send)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.observe_request(path, status, time.perf_counter() - start)
