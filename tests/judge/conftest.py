"""A scriptable, misbehaving OpenAI-compatible chat server for the judge's fault tests.

It binds 127.0.0.1 only, on a free port, answers only the requests the test's own client
sends, and every deliberate hang is bounded and ends as soon as the test tears it down.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Behaviour = tuple[Any, ...] | Callable[[dict[str, Any]], tuple[Any, ...]]

MAX_HANG_S = 5.0  # upper bound on any deliberate hang, whatever a test asks for


def verdict_json(
    accuracy: Any = 8, relevance: Any = 6, completeness: Any = 4, evidence_size: int = 0, **extra: Any
) -> str:
    """A reply body as a well-behaved judge would write it (``evidence_size`` pads the first
    evidence string to that many characters)."""
    return json.dumps(
        {
            "accuracy_evidence": "no contradiction".ljust(evidence_size, "."),
            "relevance_evidence": "concise",
            "completeness_evidence": "one omission",
            "accuracy": accuracy,
            "relevance": relevance,
            "completeness": completeness,
            **extra,
        }
    )


def ok(content: str | None = None, finish_reason: str = "stop") -> tuple[Any, ...]:
    return ("reply", verdict_json() if content is None else content, finish_reason)


def status(code: int, headers: dict[str, str] | None = None) -> tuple[Any, ...]:
    return ("status", code, headers or {})


def flood(size: int, length_header: bool = True) -> tuple[Any, ...]:
    """A valid verdict padded to ``size`` bytes, with or without a Content-Length."""
    return ("flood", size, length_header)


def hang(seconds: float) -> tuple[Any, ...]:
    return ("hang", seconds)


def delay(seconds: float, content: str | None = None) -> tuple[Any, ...]:
    return ("delay", seconds, verdict_json() if content is None else content)


class FakeLLMServer:
    """Pops one scripted behaviour per request, then repeats ``default``.

    The behaviour builders are attached as static methods so tests reach them through the
    fixture (``--import-mode=importlib`` makes conftest helpers awkward to import).
    """

    ok = staticmethod(ok)
    status = staticmethod(status)
    hang = staticmethod(hang)
    flood = staticmethod(flood)
    delay = staticmethod(delay)
    verdict_json = staticmethod(verdict_json)

    def __init__(self) -> None:
        self.script: deque[Behaviour] = deque()
        self.default: Behaviour = ok()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []  # time.monotonic() of each request's arrival
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def next_behaviour(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[Any, ...]:
        with self._lock:
            self.requests.append(body)
            self.times.append(time.monotonic())
            self.headers.append(headers)
            behaviour = self.script.popleft() if self.script else self.default
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        return behaviour(body) if callable(behaviour) else behaviour

    def done(self) -> None:
        with self._lock:
            self.inflight -= 1

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _send(
                self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _flood(self, size: int, length_header: bool) -> None:
                data = json.dumps(_completion("m", verdict_json(evidence_size=size))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if length_header:
                    self.send_header("Content-Length", str(len(data)))
                else:  # the body ends when the connection closes
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                for start in range(0, len(data), 1 << 16):
                    self.wfile.write(data[start : start + (1 << 16)])

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                behaviour = server.next_behaviour(
                    body, {k.lower(): v for k, v in self.headers.items()}
                )
                try:
                    self._act(body, behaviour)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): expected in hang tests
                finally:
                    server.done()

            def _act(self, body: dict[str, Any], behaviour: tuple[Any, ...]) -> None:
                kind = behaviour[0]
                if kind == "status":
                    headers = behaviour[2] if len(behaviour) > 2 else None
                    self._send(behaviour[1], {"error": {"message": "scripted failure"}}, headers)
                    return
                if kind == "flood":
                    self._flood(behaviour[1], behaviour[2])
                    return
                if kind == "hang":
                    server._stop.wait(min(behaviour[1], MAX_HANG_S))
                    behaviour = ok()
                elif kind == "delay":
                    server._stop.wait(min(behaviour[1], MAX_HANG_S))
                    behaviour = ("reply", behaviour[2], "stop")
                _, content, finish_reason = behaviour
                self._send(200, _completion(body.get("model", "?"), content, finish_reason))

        return Handler


def _completion(model: str, content: str, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer()
    try:
        yield server
    finally:
        server.close()
