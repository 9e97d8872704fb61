"""Micro-batching and graceful shutdown, driven through the ASGI app with concurrent clients."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import himed_rewards as hr
from himed_rewards.server import create_app
from himed_rewards.server.batcher import BatcherClosedError, MicroBatcher


class CallRecorder:
    """Wraps the real score_batch and records the size and step of every call."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def __call__(self, completions, references, *, step=0, config=None):
        self.calls.append((len(completions), step))
        return self.real(completions, references, step=step, config=config)


@pytest.fixture
def recorder(monkeypatch):
    rec = CallRecorder(hr.score_batch)
    monkeypatch.setattr(hr, "score_batch", rec)
    return rec


async def post_concurrently(app, bodies, path="/v1/score_batch"):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.post(path, json=b) for b in bodies))


def test_concurrent_requests_share_kernel_calls(recorder, iu_pairs):
    app = create_app(batch_wait_ms=500, max_batch=64)
    bodies = [{"completions": [p], "references": [r], "step": 1000} for p, r in iu_pairs[:12]]
    responses = asyncio.run(post_concurrently(app, bodies))
    assert all(r.status_code == 200 for r in responses)
    assert sum(n for n, _ in recorder.calls) == 12
    assert len(recorder.calls) < 12  # concurrent requests were merged
    # merging changed nothing: each answer equals scoring that pair on its own
    recorder.calls.clear()
    for (p, r), response in zip(iu_pairs[:12], responses, strict=True):
        (alone,) = recorder.real([p], [r], step=1000)
        assert response.json()["breakdowns"] == [alone.to_dict()]


def test_different_steps_in_one_window_get_one_call_each(recorder, iu_pairs):
    app = create_app(batch_wait_ms=500)
    bodies = [
        {"completions": [p], "references": [r], "step": i % 2 * 5000}
        for i, (p, r) in enumerate(iu_pairs[:8])
    ]
    responses = asyncio.run(post_concurrently(app, bodies))
    for i, (response, (p, r)) in enumerate(zip(responses, iu_pairs[:8], strict=True)):
        (alone,) = recorder.real([p], [r], step=i % 2 * 5000)
        assert response.json()["totals"] == [alone.total]
    assert {step for _, step in recorder.calls} == {0, 5000}
    assert sum(n for n, _ in recorder.calls) == 8


def test_a_failing_request_does_not_fail_its_batch_neighbours(monkeypatch, iu_pairs):
    real = hr.score_batch

    def refuses_poison(completions, references, *, step=0, config=None):
        if "POISON" in completions:
            raise ValueError("completions[0] is not allowed: 'POISON'")
        return real(completions, references, step=step, config=config)

    monkeypatch.setattr(hr, "score_batch", refuses_poison)
    app = create_app(batch_wait_ms=500)
    bodies = [{"completions": [p], "references": [r]} for p, r in iu_pairs[:4]]
    bodies.insert(2, {"completions": ["POISON"], "references": ["x"]})
    responses = asyncio.run(post_concurrently(app, bodies))
    assert [r.status_code for r in responses] == [200, 200, 422, 200, 200]
    assert "POISON" in responses[2].json()["detail"]


def test_shutdown_finishes_queued_work_then_refuses_new_work(iu_pairs):
    async def scenario():
        batcher = MicroBatcher(None, max_wait_s=0.05)
        batcher.start()
        pending = [asyncio.create_task(batcher.submit([p], [r], 0)) for p, r in iu_pairs[:5]]
        await asyncio.sleep(0)  # queued, not yet scored
        await batcher.close(timeout=30)
        results = await asyncio.gather(*pending)
        with pytest.raises(BatcherClosedError):
            await batcher.submit(["a"], ["a"], 0)
        return results

    results = asyncio.run(scenario())
    expected = hr.score_batch([p for p, _ in iu_pairs[:5]], [r for _, r in iu_pairs[:5]], step=0)
    assert [b.total for (b,) in results] == [b.total for b in expected]


def test_requests_after_shutdown_get_503(iu_pairs):
    async def scenario():
        app = create_app()
        async with app.router.lifespan_context(app):
            pass
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/score", json={"response": "a", "label": "a"})

    response = asyncio.run(scenario())
    assert response.status_code == 503 and "shutting down" in response.json()["detail"]


def test_batcher_settings_are_checked():
    with pytest.raises(ValueError, match="max_pairs"):
        MicroBatcher(max_pairs=0)
    with pytest.raises(ValueError, match="max_wait_s"):
        MicroBatcher(max_wait_s=5)
