"""Shared fixtures for the launch preflight tests: a real loopback verifier server and a
tiny IU X-ray release on disk."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


class LoopbackVerifier:
    """An OpenAI-compatible server on 127.0.0.1: ``GET /v1/models`` and
    ``POST /v1/chat/completions``, answering with ``reply`` (a verdict by default)."""

    VERDICT = json.dumps({
        "accuracy_evidence": "no contradiction", "relevance_evidence": "concise",
        "completeness_evidence": "complete", "accuracy": 9, "relevance": 8, "completeness": 7,
    })  # fmt: skip

    def __init__(self) -> None:
        self.models = ["qwen3-30b-a3b"]
        self.reply = self.VERDICT
        self.requests: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the judge's lean transport keeps connections alive

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [
                        {"id": m, "object": "model"} for m in server.models
                    ]})  # fmt: skip
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": "not found"})
                    return
                self._send(200, {
                    "id": "cmpl-1", "object": "chat.completion", "created": 0,
                    "model": body.get("model", ""),
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                        "role": "assistant", "content": server.reply}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })  # fmt: skip

        return Handler


@pytest.fixture
def loopback_verifier() -> Iterator[LoopbackVerifier]:
    server = LoopbackVerifier()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def tiny_iu_xray(tmp_path: Path) -> dict[str, str]:
    """``data.paths`` of a three-study IU X-ray release (R2Gen layout) with real PNGs."""
    Image = pytest.importorskip("PIL.Image", reason="Pillow (train extra) is not installed")

    from himed_train.smoke import synthetic_reports

    studies = []
    for i, report in enumerate(synthetic_reports()[:3]):
        sid = f"CXR{i}_1_IM-000{i}"
        folder = tmp_path / "images" / sid
        folder.mkdir(parents=True)
        Image.new("RGB", (16, 16), color=(i * 40, 0, 0)).save(folder / "0.png")
        studies.append({"id": sid, "report": f"{report['findings']} {report['impression']}",
                        "image_path": [f"{sid}/0.png"], "split": "train"})  # fmt: skip
    (tmp_path / "annotation.json").write_text(json.dumps({"train": studies, "val": [], "test": []}))
    return {"annotation_path": str(tmp_path / "annotation.json"),
            "images_dir": str(tmp_path / "images")}  # fmt: skip
