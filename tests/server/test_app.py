"""The reward server in process: endpoints against the public API, auth, limits, timeouts."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient

import himed_rewards as hr
from himed_rewards.integrations._common import numeric_components
from himed_rewards.server import create_app

VLM_PROMPT = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Findings?<|im_end|>\n"


def vlm_query(response: str) -> str:
    expanded = VLM_PROMPT.replace("<|image_pad|>", "<|image_pad|>" * 32)
    return f"{expanded}<|im_start|>assistant\n{response}<|im_end|>"


@pytest.fixture
def client():
    with TestClient(create_app(max_batch=16)) as c:
        yield c


def test_score_batch_returns_the_public_breakdowns(client, iu_pairs):
    preds, refs = map(list, zip(*iu_pairs[:5], strict=True))
    r = client.post(
        "/v1/score_batch", json={"completions": preds, "references": refs, "step": 5000}
    )
    assert r.status_code == 200
    body = r.json()
    expected = hr.score_batch(preds, refs, step=5000)
    assert body["step"] == 5000
    assert body["breakdowns"] == [b.to_dict() for b in expected]
    assert body["totals"] == [b.total for b in expected]


def test_openrlhf_get_reward(client, iu_pairs):
    preds, refs = map(list, zip(*iu_pairs[:4], strict=True))
    payload = {"query": [vlm_query(p) for p in preds], "prompts": [VLM_PROMPT] * 4, "labels": refs}
    r = client.post("/get_reward", json=payload)
    assert r.status_code == 200
    expected = hr.score_batch(preds, refs, step=0)
    body = r.json()
    assert body["rewards"] == pytest.approx([b.total for b in expected])
    assert body["scores"] == body["rewards"]
    assert body["extra_logs"]["token"] == pytest.approx(
        [numeric_components(b)["token"] for b in expected]
    )
    # prompts are optional: the assistant header is enough
    del payload["prompts"]
    assert client.post("/get_reward", json=payload).json() == body


def test_slime_score_is_a_bare_number(client, iu_pairs):
    pred, ref = iu_pairs[0]
    r = client.post(
        "/score",
        json={
            "prompt": [{"role": "user", "content": "x"}],
            "response": pred,
            "label": ref,
            "step": 7000,
        },
    )
    assert r.status_code == 200
    assert r.json() == pytest.approx(hr.score_batch([pred], [ref], step=7000)[0].total)


def test_default_step_applies_when_a_request_sends_none(iu_pairs):
    pred, ref = iu_pairs[1]
    with TestClient(create_app(default_step=9000)) as c:
        value = c.post("/score", json={"response": pred, "label": ref}).json()
    assert value == pytest.approx(hr.score_batch([pred], [ref], step=9000)[0].total)


def test_bearer_token(iu_pairs):
    with TestClient(create_app(token="s3cret", docs=True)) as c:
        body = {"response": "Normal.", "label": "Normal."}
        assert c.get("/health").status_code == 200  # liveness stays open
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            r = c.post("/score", json=body, headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/metrics").status_code == 401
        ok = {"Authorization": "Bearer s3cret"}
        assert c.post("/score", json=body, headers=ok).status_code == 200
        assert c.get("/metrics", headers=ok).status_code == 200
        assert c.get("/openapi.json").status_code == 401  # the docs need the token too
        spec = c.get("/openapi.json", headers=ok).json()
        assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_size_and_batch_limits():
    with TestClient(create_app(max_batch=3, max_body_bytes=2000)) as c:
        r = c.post("/v1/score_batch", json={"completions": ["a"] * 4, "references": ["a"] * 4})
        assert r.status_code == 413 and "max_batch=3" in r.json()["detail"]
        r = c.post(
            "/get_reward", json={"query": ["<|im_start|>assistant\na"] * 4, "labels": ["a"] * 4}
        )
        assert r.status_code == 413
        big = {"completions": ["x" * 3000], "references": ["x"]}
        r = c.post("/v1/score_batch", json=big)
        assert r.status_code == 413 and "2000 bytes" in r.json()["detail"]

        def chunks():  # no Content-Length: the limit is enforced while reading
            yield b'{"completions": ["'
            for _ in range(30):
                yield b"y" * 100
            yield b'"], "references": ["y"]}'

        r = c.post(
            "/v1/score_batch", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


def test_malformed_requests_get_422(client):
    r = client.post("/v1/score_batch", json={"completions": ["a", "b"], "references": ["a"]})
    assert r.status_code == 422 and "aligned" in r.json()["detail"]
    assert client.post("/v1/score_batch", json={"completions": ["a"]}).status_code == 422
    assert (
        client.post(
            "/v1/score_batch", json={"completions": ["a"], "references": ["a"], "step": -1}
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/score", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    r = client.post(
        "/get_reward", json={"query": ["no header here"], "prompts": ["other"], "labels": ["a"]}
    )
    assert r.status_code == 422 and "cannot find the response" in r.json()["detail"]
    r = client.post("/get_reward", json={"query": ["a"], "prompts": ["a", "b"], "labels": ["a"]})
    assert r.status_code == 422


def test_empty_batches_are_fine(client):
    r = client.post("/v1/score_batch", json={"completions": [], "references": []})
    assert r.status_code == 200 and r.json()["breakdowns"] == []


def test_timeout_answers_504(slow_judge):
    config = hr.RewardConfig(semantic=slow_judge(0.6))
    with TestClient(create_app(config, request_timeout=0.1)) as c:
        r = c.post("/score", json={"response": "Normal.", "label": "Normal."})
        assert r.status_code == 504 and "0.1 s" in r.json()["detail"]


def test_judge_failures_503_on_framework_endpoints_null_on_ours_and_counted(failing_judge):
    config = hr.RewardConfig(semantic=failing_judge)
    with TestClient(create_app(config, missing="raise")) as c:
        r = c.post("/score", json={"response": "Normal.", "label": "Normal."})
        assert r.status_code == 503 and "backend unreachable" in r.json()["detail"]
        r = c.post("/v1/score_batch", json={"completions": ["a", "b"], "references": ["a", "b"]})
        assert r.status_code == 200
        assert r.json()["totals"] == [None, None]
        assert r.json()["breakdowns"][0]["semantic_error"] == "backend unreachable"
        metrics = c.get("/metrics").text
        assert "himed_rewards_judge_failures_total 3\n" in metrics
        assert c.get("/health").json()["semantic_judge"] is True


def test_judge_failures_are_imputed_and_flagged_by_default(failing_judge):
    config = hr.RewardConfig(semantic=failing_judge)
    with TestClient(create_app(config)) as c:
        r = c.post("/score", json={"response": "Normal.", "label": "Normal."})
        [b] = hr.score_batch(["Normal."], ["Normal."])  # no judge: total = low level
        assert r.status_code == 200 and r.json() == pytest.approx(b.low_level)
        assert r.headers["x-himed-semantic-imputed"] == "1"
        assert "backend unreachable" in r.headers["x-himed-semantic-error"]
        r = c.post("/get_reward", json={"query": ["a", "b"], "labels": ["a", "b"]})
        assert r.status_code == 200
        assert r.json()["extra_logs"]["semantic_imputed"] == [1.0, 1.0]
        assert r.json()["extra_logs"]["alpha1"] == [1.0, 1.0]


def test_metrics_count_requests_latency_and_pairs(client, iu_pairs):
    preds, refs = map(list, zip(*iu_pairs[:3], strict=True))
    client.post("/v1/score_batch", json={"completions": preds, "references": refs})
    client.post("/v1/score_batch", json={"completions": preds[:1], "references": refs})
    text = client.get("/metrics").text
    assert 'himed_rewards_requests_total{endpoint="/v1/score_batch",status="200"} 1' in text
    assert 'himed_rewards_requests_total{endpoint="/v1/score_batch",status="422"} 1' in text
    assert 'himed_rewards_request_duration_seconds_count{endpoint="/v1/score_batch"} 2' in text
    assert "himed_rewards_pairs_scored_total 3\n" in text
    assert "# TYPE himed_rewards_request_duration_seconds histogram" in text
    client.get("/no/such/path")
    assert 'endpoint="other",status="404"' in client.get("/metrics").text


def test_factory_refuses_bad_settings():
    with pytest.raises(ValueError, match="max_batch"):
        create_app(max_batch=0)
    with pytest.raises(ValueError, match="request_timeout"):
        create_app(request_timeout=0)
    with pytest.raises(ValueError, match="batch_wait_ms"):
        create_app(batch_wait_ms=5000)
    with pytest.raises(ValueError, match="token"):
        create_app(token="")


def test_missing_server_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(ImportError, match=r"pip install 'himed-rewards\[server\]'"):
        create_app()
