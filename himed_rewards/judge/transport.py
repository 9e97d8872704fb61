"""A lean HTTP/1.1 keep-alive transport for the ``openai`` client, for plain ``http://`` servers.

Why it exists: the judge's target is >= 2,000 verdicts/s of client-side throughput, so the
client is never the bottleneck of RL training. The ``openai`` client stays the transport of
record (it builds each request, sends the auth header, maps status codes and network errors to
its exceptions); only the layer under it changes. The default layer (httpcore + anyio) costs
about 0.5 ms of CPU per request on a 2-core machine, mostly in pool scans (every pooled
connection is probed for readability on each request), per-request anyio objects and separate
writes of headers and body. This transport keeps idle connections in a LIFO stack (O(1) per
request), writes each request in one ``send`` and parses the response with a few ``bytes``
operations: about 0.15 ms per request.

Scope, deliberately small: HTTP/1.1 (and 1.0) over plain TCP, ``Content-Length`` or
``chunked`` bodies, no proxies, no TLS. ``LLMJudge`` uses it only for ``http://`` URLs with no
proxy configured for the host (see ``usable_for``); everything else keeps the default stack.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections import deque
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "KeepAliveTransport",
    "MAX_REPLY_BYTES",
    "ReplyTooLargeError",
    "cap_reply_size",
    "usable_for",
    "httpx_module",
]

_MAX_HEAD = 64 * 1024  # bytes of status line + headers; more is not an HTTP server we know

#: The largest reply body the judge reads. A verdict is a few hundred bytes (``max_tokens``
#: bounds it); a broken or hostile server could otherwise make us buffer gigabytes.
MAX_REPLY_BYTES = 4 * 1024 * 1024


class ReplyTooLargeError(Exception):
    """A reply body larger than the cap; the connection is dropped before it is read whole."""

    def __init__(self, limit: int, seen: int | None = None) -> None:
        size = "" if seen is None else f" ({seen} bytes announced or read)"
        super().__init__(f"reply body larger than {limit} bytes{size}")
        self.limit = limit


_NO_BODY = frozenset((204, 304))


def httpx_module() -> Any:
    """The HTTP library the installed ``openai`` client is built on (``httpx`` or ``httpx2``).

    The transport raises that library's exceptions and builds its ``Response``, so that the
    ``openai`` client maps errors exactly as it does for its own transport.

    Example:
        >>> httpx_module().__name__ in ("httpx", "httpx2")
        True
    """
    import openai._base_client as base

    module = getattr(base, "httpx2", None) or getattr(base, "httpx", None)
    if module is None:  # pragma: no cover - an openai release we do not know
        import httpx as module
    return module


def usable_for(base_url: str) -> bool:
    """Whether the lean transport may carry requests to ``base_url``: plain ``http://``
    with no proxy configured for its host (environment ``HTTP_PROXY``/``ALL_PROXY`` and
    ``NO_PROXY``, as the default stack would honour them).

    Examples:
        >>> usable_for("https://api.openai.com/v1")
        False
        >>> import os
        >>> proxied = any(k.lower() in ("http_proxy", "all_proxy") for k in os.environ)
        >>> usable_for("http://127.0.0.1:8000/v1") == (not proxied)
        True
    """
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    proxies = urllib.request.getproxies()
    if not (proxies.get("http") or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass(parts.hostname))


def _capped(stream: Any, limit: int) -> Any:
    """``stream`` as an httpx async byte stream that raises ``ReplyTooLargeError`` past
    ``limit`` bytes (an ``AsyncByteStream`` subclass, or httpx would treat it as sync)."""
    httpx = httpx_module()

    class CappedStream(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            seen = 0
            async for chunk in stream:
                seen += len(chunk)
                if seen > limit:
                    raise ReplyTooLargeError(limit, seen)
                yield chunk

        async def aclose(self) -> None:
            await stream.aclose()

    return CappedStream()


def cap_reply_size(limit: int = MAX_REPLY_BYTES) -> Any:
    """An httpx ``response`` event hook that bounds the body read for the default HTTP stack:
    a ``Content-Length`` over ``limit`` fails at once, a longer stream fails when it passes.

    Example:
        >>> hook = cap_reply_size(1024)
        >>> callable(hook)
        True
    """

    async def hook(response: Any) -> None:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise ReplyTooLargeError(limit, int(length))
        response.stream = _capped(response.stream, limit)

    return hook


class _Connection(asyncio.Protocol):
    """One keep-alive TCP connection; bytes arrive in ``buf`` and wake one reader."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def _more(self, httpx: Any) -> None:
        if self.closed:
            raise httpx.RemoteProtocolError("server closed the connection mid-response")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def exchange(
        self, httpx: Any, request_bytes: bytes, head_only: bool, max_body: int = MAX_REPLY_BYTES
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Send one request, read one response: ``(status, headers, body, keep_alive)``.

        A body over ``max_body`` raises ``ReplyTooLargeError`` as soon as that is known."""
        assert self.transport is not None
        self.transport.write(request_bytes)
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > _MAX_HEAD:
                raise httpx.RemoteProtocolError("response head larger than 64 KiB")
            await self._more(httpx)
        lines = bytes(buf[:end]).split(b"\r\n")
        del buf[: end + 4]
        version, _, rest = lines[0].partition(b" ")
        try:
            status = int(rest[:3])
        except ValueError:
            raise httpx.RemoteProtocolError(f"bad status line {lines[0][:80]!r}") from None
        if not version.startswith(b"HTTP/1."):
            raise httpx.RemoteProtocolError(f"bad status line {lines[0][:80]!r}")
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        keep_alive = version == b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            value = value.strip()
            headers.append((name, value))
            lname = name.lower()
            if lname == b"content-length":
                if not value.isdigit():
                    raise httpx.RemoteProtocolError(f"bad Content-Length {value[:40]!r}")
                length = int(value)
            elif lname == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lname == b"connection":
                token = value.lower()
                keep_alive = token == b"keep-alive" or (keep_alive and token != b"close")
        if head_only or status in _NO_BODY or 100 <= status < 200:
            return status, headers, b"", keep_alive
        if chunked:
            return status, headers, await self._read_chunked(httpx, max_body), keep_alive
        if length is not None:
            if length > max_body:
                raise ReplyTooLargeError(max_body, length)
            while len(buf) < length:
                await self._more(httpx)
            body = bytes(buf[:length])
            del buf[:length]
            return status, headers, body, keep_alive
        while not self.closed:  # no length: the body ends when the server closes
            if len(buf) > max_body:
                raise ReplyTooLargeError(max_body, len(buf))
            await self._more(httpx)
        if len(buf) > max_body:
            raise ReplyTooLargeError(max_body, len(buf))
        body = bytes(buf)
        buf.clear()
        return status, headers, body, False

    async def _read_chunked(self, httpx: Any, max_body: int) -> bytes:
        buf, parts, total = self.buf, [], 0
        while True:
            while (eol := buf.find(b"\r\n")) < 0:
                await self._more(httpx)
            try:
                size = int(bytes(buf[:eol]).split(b";", 1)[0], 16)
            except ValueError:
                raise httpx.RemoteProtocolError("bad chunk size") from None
            total += size
            if total > max_body:
                raise ReplyTooLargeError(max_body, total)
            if size == 0:  # the last chunk, then optional trailers and an empty line
                while (end := buf.find(b"\r\n\r\n", eol)) < 0:
                    await self._more(httpx)
                del buf[: end + 4]
                return b"".join(parts)
            while len(buf) < eol + 2 + size + 2:
                await self._more(httpx)
            parts.append(bytes(buf[eol + 2 : eol + 2 + size]))
            del buf[: eol + 2 + size + 2]


class KeepAliveTransport:
    """An ``httpx``-style async transport (``handle_async_request``/``aclose``) over
    HTTP/1.1 keep-alive connections, for one ``http://`` origin.

    Args:
        max_idle: idle connections kept open at most (the judge passes its concurrency, so
            every request slot finds a warm connection).
        max_body: the largest response body read (``ReplyTooLargeError`` past it, and the
            connection is closed).

    Example:
        >>> import openai
        >>> httpx = httpx_module()
        >>> client = openai.AsyncOpenAI(
        ...     base_url="http://127.0.0.1:8000/v1", api_key="EMPTY",
        ...     http_client=httpx.AsyncClient(transport=KeepAliveTransport(max_idle=4)))
        >>> type(client._client._transport).__name__
        'KeepAliveTransport'
    """

    def __init__(self, max_idle: int = 64, max_body: int = MAX_REPLY_BYTES) -> None:
        if isinstance(max_idle, bool) or not isinstance(max_idle, int) or max_idle < 1:
            raise ValueError(f"max_idle must be an int >= 1, got {max_idle!r}")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ValueError(f"max_body must be an int >= 1, got {max_body!r}")
        self.max_idle = max_idle
        self.max_body = max_body
        self._idle: deque[_Connection] = deque()
        self._httpx = httpx_module()

    async def __aenter__(self) -> KeepAliveTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def handle_async_request(self, request: Any) -> Any:
        httpx = self._httpx
        url = request.url
        body = await request.aread()
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), url.raw_path)]
        head.extend(b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw)
        head.append(b"\r\n")
        request_bytes = b"".join(head) + body
        head_only = request.method == "HEAD"

        conn = self._take_idle()
        reused = conn is not None
        while True:
            if conn is None:
                conn = await self._connect(url.host, url.port or 80)
            keep = False
            try:
                status, headers, content, keep = await conn.exchange(
                    httpx, request_bytes, head_only, self.max_body
                )
            except httpx.RemoteProtocolError:
                # A reused keep-alive connection the server closed while idle fails before
                # any byte of a response: resend once on a fresh connection, as browsers do.
                if reused and conn.closed and not conn.buf:
                    conn.close()
                    reused, conn = False, None
                    continue
                raise
            finally:
                if conn is not None and not keep:
                    conn.close()  # an error, a cancellation (timeout) or "Connection: close"
            break
        if keep:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
            else:
                conn.close()
        return httpx.Response(status, headers=headers, content=content, request=request)

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()  # LIFO: the warmest connection first
            if not conn.closed and not conn.buf:
                return conn
            conn.close()  # closed by the server, or unread bytes we cannot attribute
        return None

    async def _connect(self, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(_Connection, host, port)
        except OSError as exc:
            raise self._httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    async def aclose(self) -> None:
        """Close every idle connection (in-flight ones close when their exchange ends)."""
        while self._idle:
            self._idle.pop().close()
