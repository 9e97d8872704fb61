"""Pure ASGI middlewares of the reward server: body-size limit and request metrics.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) keeps the per-request cost small, which
matters when many small scoring requests arrive at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from typing import Any

from himed_rewards.server.metrics import ServerMetrics

__all__ = ["BodySizeLimit", "RequestMetrics"]


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over ``max_bytes``, by Content-Length or while streaming."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

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

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException passes FastAPI's body parsing untouched (anything
                    # else becomes a 400) and is rendered by its exception middleware.
                    raise HTTPException(413, self._detail())
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except HTTPException as exc:  # read outside a route (no handler there)
            if exc.status_code != 413 or started:
                raise
            await self._reject(send)

    def _detail(self) -> str:
        return f"request body is larger than the server limit of {self.max_bytes} bytes"

    async def _reject(self, send: Callable) -> None:
        body = json.dumps({"detail": self._detail()}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


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
