"""Regression tests for issue 12, item 6: the server under hostile or heavy traffic.

Loopback only; every loop and wait is bounded. The live tests run uvicorn in a thread on a
socket bound to 127.0.0.1 by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

import himed_rewards as hr
from himed_rewards.server import create_app


@contextlib.contextmanager
def live_server(app):
    """uvicorn serving ``app`` on a free 127.0.0.1 port, in a daemon thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def _raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        chunks = []
        with contextlib.suppress(TimeoutError, socket.timeout, ConnectionResetError):
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


# -- huge lists of wrong-typed items ----------------------------------------------------


def test_200k_wrong_typed_items_are_refused_fast_and_small():
    body = json.dumps({"completions": [0] * 200_000, "references": [0] * 200_000}, separators=",:")
    assert len(body) < 1 << 20  # 0.8 MiB, under the 8 MiB body limit
    with TestClient(create_app()) as c:
        start = time.perf_counter()
        r = c.post("/v1/score_batch", content=body, headers={"content-type": "application/json"})
        elapsed = time.perf_counter() - start
        assert r.status_code == 413 and "max_batch=4096" in r.json()["detail"]
        assert len(r.content) < 1000
        assert elapsed < 2.0  # before: a 20 MB 422 after 23 s
        assert c.get("/health").status_code == 200


def test_a_422_lists_at_most_20_errors_without_inputs():
    with TestClient(create_app(max_batch=4096)) as c:
        r = c.post("/v1/score_batch", json={"completions": [0] * 4096, "references": [1] * 4096})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert len(detail) == 21 and detail[-1]["msg"] == "8172 more errors not shown"
    assert all("input" not in e for e in detail)
    assert len(r.content) < 5000


# -- NaN and Infinity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/score_batch", '{"completions": ["a"], "references": ["a"], "step": NaN}'),
        ("/v1/score_batch", '{"completions": ["a"], "references": ["a"], "step": Infinity}'),
        ("/v1/score_batch", '{"completions": ["a"], "references": ["a"], "step": -Infinity}'),
        ("/v1/score_batch", '{"completions": ["a"], "references": ["a"], "step": 1e999}'),
        ("/v1/score_batch", '{"completions": [NaN], "references": ["a"]}'),
        ("/score", '{"response": "a", "label": "a", "prompt": [{"role": NaN}]}'),
        ("/score", '{"response": "a", "label": "a", "extra": Infinity}'),
        ("/get_reward", '{"query": ["a"], "labels": [Infinity]}'),
    ],
)
def test_nan_and_infinity_anywhere_are_422_without_a_traceback(path, body, caplog):
    with caplog.at_level(logging.ERROR), TestClient(
        create_app(), raise_server_exceptions=False
    ) as c:
        r = c.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "detail" in r.json()
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]


# -- auth before the body; docs closed ------------------------------------------------------


def test_the_token_is_checked_before_the_body_is_parsed():
    with TestClient(create_app(token="t0ken")) as c:
        r = c.post("/score", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 401  # before: 422, the body was parsed first
        assert r.headers["www-authenticate"] == "Bearer"


def test_an_unauthenticated_body_is_never_waited_for():
    with live_server(create_app(token="t0ken", body_timeout=30)) as port:
        start = time.monotonic()
        head = (
            b"POST /v1/score_batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n"
        )
        reply = _raw(port, head)  # no body at all
        assert reply.startswith(b"HTTP/1.1 401")
        assert time.monotonic() - start < 3.0


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
def test_docs_are_closed_unless_enabled(path):
    with TestClient(create_app()) as c:
        assert c.get(path).status_code == 404
    with TestClient(create_app(docs=True)) as c:
        assert c.get(path).status_code == 200
    with TestClient(create_app(docs=True, token="t")) as c:
        assert c.get(path).status_code == 401
        assert c.get(path, headers={"Authorization": "Bearer t"}).status_code == 200
    assert "/v1/score_batch" in create_app().openapi()["paths"]  # the CLI's --openapi


# -- /health names the offline judge -------------------------------------------------------


def test_health_reports_the_default_offline_judge():
    with TestClient(create_app()) as c:
        health = c.get("/health").json()
    assert health["semantic_judge"] is True  # before: False while the offline judge scored
    assert health["semantic_scorer"] == hr.RewardConfig().semantic.name
    with TestClient(create_app(hr.RewardConfig(semantic=None))) as c:
        health = c.get("/health").json()
    assert health["semantic_judge"] is False and health["semantic_scorer"] is None


# -- admission control ----------------------------------------------------------------------


def test_a_full_queue_sheds_with_503_and_retry_after(slow_judge):
    app = create_app(hr.RewardConfig(semantic=slow_judge(1.0)), max_batch=4, max_queued_pairs=8)

    async def flood() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"completions": ["Normal."] * 4, "references": ["Normal."] * 4}
            return await asyncio.gather(
                *(client.post("/v1/score_batch", json=body, timeout=30) for _ in range(10))
            )

    start = time.monotonic()
    replies = asyncio.run(flood())
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 200] + [503] * 8  # before: all ten queued
    shed = [r for r in replies if r.status_code == 503]
    assert all(r.headers["retry-after"] == "1" for r in shed)
    assert "capacity" in shed[0].json()["detail"]
    assert time.monotonic() - start < 15


def test_requests_whose_client_left_are_not_scored(slow_judge):
    app = create_app(hr.RewardConfig(semantic=slow_judge(2.0)), batch_wait_ms=0)
    with live_server(app) as port:
        url = f"http://127.0.0.1:{port}"
        busy = threading.Thread(
            target=httpx.post,
            args=(f"{url}/score",),
            kwargs={"json": {"response": "Normal.", "label": "Normal."}, "timeout": 30},
        )
        busy.start()  # keeps the worker busy for two seconds
        time.sleep(0.3)
        body = json.dumps({"completions": ["Gone."] * 5, "references": ["Gone."] * 5}).encode()
        head = (
            b"POST /v1/score_batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(head + body)
            time.sleep(0.2)  # queued behind the busy batch; then the client hangs up
        busy.join(timeout=30)
        time.sleep(2.5)  # the worker would have scored the abandoned job by now
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
    assert "himed_rewards_pairs_scored_total 1\n" in metrics  # before: 6
    assert 'endpoint="/v1/score_batch",status="499"' in metrics


# -- half-sent requests ---------------------------------------------------------------------


def test_a_half_sent_body_is_answered_408_and_closed():
    with live_server(create_app(body_timeout=0.5)) as port:
        start = time.monotonic()
        head = (
            b"POST /v1/score_batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        reply = _raw(port, head + b'{"completions": [', timeout=5.0)
        elapsed = time.monotonic() - start
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"connection: close" in reply.lower()
        assert elapsed < 3.0  # answered and closed, not held until the 5 s read timeout
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200


def test_body_timeout_is_validated():
    with pytest.raises(ValueError, match="body_timeout"):
        create_app(body_timeout=0)
    with pytest.raises(ValueError, match="max_queued_pairs"):
        create_app(max_queued_pairs=0)


# -- under load the server still matches in-process scoring ------------------------------------


def test_concurrent_load_matches_in_process_scoring(iu_pairs):
    pairs = iu_pairs[:40]
    expected = {i: b.total for i, b in enumerate(hr.score_batch(*map(list, zip(*pairs, strict=True))))}
    with live_server(create_app(max_batch=64)) as port:
        url = f"http://127.0.0.1:{port}/v1/score_batch"

        async def run() -> list[tuple[int, float | None, int]]:
            async with httpx.AsyncClient(timeout=60) as client:
                sem = asyncio.Semaphore(32)

                async def one(k: int) -> tuple[int, float | None, int]:
                    i = k % len(pairs)
                    async with sem:
                        r = await client.post(
                            url, json={"completions": [pairs[i][0]], "references": [pairs[i][1]]}
                        )
                    return i, (r.json()["totals"][0] if r.status_code == 200 else None), r.status_code

                return await asyncio.gather(*(one(k) for k in range(200)))

        results = asyncio.run(run())
    assert [code for _, _, code in results] == [200] * 200
    assert all(total == pytest.approx(expected[i], abs=1e-12) for i, total, _ in results)
