"""The ``missing`` policy of every adapter: a failed semantic verdict never crashes training
under "impute" (group mean, else call mean, else low level; flagged), and raises under "raise"."""

from __future__ import annotations

import asyncio
import logging
import sys
import types

import pytest

import himed_rewards as hr
from himed_rewards.integrations import easyr1, openrlhf, slime, verl
from himed_rewards.integrations._common import (
    MISSING_ENV,
    MissingRewardError,
    resolve_missing,
)

STEP = 5_000  # alpha1 = 0.5 with the default schedule: the semantic level matters
R1 = "Heart size is normal. The lungs are clear. No pleural effusion."
R2 = "Small left pleural effusion. Mild cardiomegaly."
CANDS = [
    "FAIL Heart size is normal.",  # R1 group, fails -> mean of samples 1, 2
    "The lungs are clear. No pleural effusion.",
    "Heart size is normal. The lungs are clear.",
    "FAIL Small left pleural effusion.",  # R2 group, fails -> mean of sample 4
    "Mild cardiomegaly with effusion.",
    "FAIL no group",  # R3 alone, fails -> mean of every successful sample
]
REFS = [R1, R1, R1, R2, R2, "Normal chest radiograph."]
EXPECTED_HOW = ["group_mean", None, None, "group_mean", None, "call_mean"]
DONORS = {0: [1, 2], 3: [4], 5: [1, 2, 4]}


@pytest.fixture
def config() -> hr.RewardConfig:
    helpers = sys.modules["himed_integration_test_helpers"]  # loaded by conftest.py
    return hr.RewardConfig(semantic=helpers.PartlyFailingJudge())


@pytest.fixture(autouse=True)
def _no_missing_env(monkeypatch):
    monkeypatch.delenv(MISSING_ENV, raising=False)


def _expected_totals(config: hr.RewardConfig) -> list[float]:
    """Computed independently from the breakdowns, the way the docs state the policy."""
    bds = hr.score_batch(CANDS, REFS, step=STEP, config=config)
    totals = []
    for i, b in enumerate(bds):
        if i in DONORS:
            semantic = sum(bds[j].semantic for j in DONORS[i]) / len(DONORS[i])
            totals.append(b.alpha1 * b.low_level + b.alpha2 * semantic)
        else:
            totals.append(b.total)
    return totals


def test_verl_batch_imputes_group_then_call_mean_and_flags(config, caplog):
    infos = [{"global_step": STEP}] * len(CANDS)
    with caplog.at_level(logging.WARNING, logger="himed_rewards.integrations"):
        rows = verl.compute_score_batch(["x"] * len(CANDS), CANDS, REFS, infos, config=config)
    assert [r["score"] for r in rows] == pytest.approx(_expected_totals(config))
    assert [r["semantic_imputed"] for r in rows] == [float(h is not None) for h in EXPECTED_HOW]
    assert len({frozenset(r) for r in rows}) == 1  # verl appends every key per sample
    assert "3 of 6 samples" in caplog.text and "timeout: no reply" in caplog.text
    # the imputed semantic of sample 0 is its group's mean: no semantic advantage in-group
    assert rows[0]["semantic"] == pytest.approx((rows[1]["semantic"] + rows[2]["semantic"]) / 2)


def test_verl_single_sample_falls_back_to_low_level(config):
    out = verl.compute_score("x", CANDS[0], R1, {"global_step": STEP}, config=config)
    [b] = hr.score_batch([CANDS[0]], [R1], step=STEP, config=config)
    assert out["score"] == pytest.approx(b.low_level)
    assert out["semantic_imputed"] == 1.0 and (out["alpha1"], out["alpha2"]) == (1.0, 0.0)
    # verl stacks reward_extra_info by the first sample's keys, so the columns stay, weightless
    assert out["semantic"] == 0.0


@pytest.mark.parametrize("how", ["keyword", "env"])
def test_verl_raise_policy_keeps_the_old_behaviour(config, monkeypatch, how):
    kwargs = {"config": config}
    if how == "keyword":
        kwargs["missing"] = "raise"
    else:
        monkeypatch.setenv(MISSING_ENV, "raise")
    with pytest.raises(MissingRewardError, match="timeout: no reply"):
        verl.compute_score_batch(["x"] * len(CANDS), CANDS, REFS, **kwargs)
    with pytest.raises(MissingRewardError):
        verl.compute_score("x", CANDS[0], R1, None, **kwargs)


def test_easyr1_imputes_and_raises_on_request(config, monkeypatch):
    inputs = [
        {"response": c, "response_length": 3, "ground_truth": r}
        for c, r in zip(CANDS, REFS, strict=True)
    ]
    rows = easyr1.compute_score(inputs, step=STEP, config=config)
    assert [r["overall"] for r in rows] == pytest.approx(_expected_totals(config))
    assert [r["semantic_imputed"] for r in rows] == [float(h is not None) for h in EXPECTED_HOW]
    with pytest.raises(MissingRewardError):
        easyr1.compute_score(inputs, step=STEP, config=config, missing="raise")
    monkeypatch.setenv(MISSING_ENV, "raise")
    with pytest.raises(MissingRewardError):
        easyr1.compute_score(inputs, step=STEP, config=config)


def test_openrlhf_imputes_and_raises_on_request(config, monkeypatch):
    queries = [f"<|im_start|>assistant\n{c}<|im_end|>" for c in CANDS]
    prompts = ["<|im_start|>user\nReport?<|im_end|>\n"] * len(CANDS)
    out = openrlhf.reward_func(queries, prompts, REFS, global_step=STEP, config=config)
    assert out["rewards"] == pytest.approx(_expected_totals(config))
    assert out["scores"] == out["rewards"]
    assert out["extra_logs"]["semantic_imputed"] == [float(h is not None) for h in EXPECTED_HOW]
    assert all(len(v) == len(CANDS) for v in out["extra_logs"].values())
    with pytest.raises(MissingRewardError):
        openrlhf.reward_func(queries, prompts, REFS, global_step=STEP, config=config, missing="raise")
    monkeypatch.setenv(MISSING_ENV, "raise")
    with pytest.raises(MissingRewardError):
        openrlhf.reward_func(queries, prompts, REFS, global_step=STEP, config=config)


def _samples() -> list[types.SimpleNamespace]:
    return [
        types.SimpleNamespace(response=c, label=r, metadata={"global_step": STEP})
        for c, r in zip(CANDS, REFS, strict=True)
    ]


def test_slime_group_imputes_flags_metadata_and_raises_on_request(config, monkeypatch):
    args = types.SimpleNamespace(himed_rewards_config=config)
    samples = _samples()
    rewards = asyncio.run(slime.group_reward(args, samples))
    assert rewards == pytest.approx(_expected_totals(config))
    flagged = [s.metadata.get("himed_semantic_imputed", 0) for s in samples]
    assert flagged == [int(h is not None) for h in EXPECTED_HOW]
    assert samples[0].metadata["himed_semantic_error"] == "timeout: no reply"
    with pytest.raises(MissingRewardError):
        asyncio.run(slime.group_reward(args, _samples(), missing="raise"))
    args_raise = types.SimpleNamespace(himed_rewards_config=config, himed_rewards_missing="raise")
    with pytest.raises(MissingRewardError):
        asyncio.run(slime.group_reward(args_raise, _samples()))
    monkeypatch.setenv(MISSING_ENV, "raise")
    with pytest.raises(MissingRewardError):
        asyncio.run(slime.reward(args, _samples()[0]))


def test_no_verdict_at_all_gives_the_low_level_reward(config):
    cands = ["FAIL a", "FAIL b", "FAIL c"]
    rows = verl.compute_score_batch(["x"] * 3, cands, [R1] * 3, config=config)
    bds = hr.score_batch(cands, [R1] * 3, config=config)
    assert [r["score"] for r in rows] == pytest.approx([b.low_level for b in bds])
    assert all(r["semantic_imputed"] == 1.0 and r["alpha1"] == 1.0 for r in rows)


def test_successful_samples_are_untouched(config):
    cands = [c for c in CANDS if "FAIL" not in c]
    refs = [r for c, r in zip(CANDS, REFS, strict=True) if "FAIL" not in c]
    rows = verl.compute_score_batch(["x"] * len(cands), cands, refs, config=config)
    bds = hr.score_batch(cands, refs, config=config)
    assert [r["score"] for r in rows] == [b.total for b in bds]
    assert all(r["semantic_imputed"] == 0.0 for r in rows)


def test_policy_values_are_validated(monkeypatch, config):
    assert resolve_missing(None) == "impute"
    with pytest.raises(ValueError, match="missing must be one of"):
        verl.compute_score_batch(["x"], ["a"], ["a"], config=config, missing="zero")
    monkeypatch.setenv(MISSING_ENV, "nan")
    with pytest.raises(ValueError, match="HIMED_REWARDS_MISSING"):
        resolve_missing(None)
