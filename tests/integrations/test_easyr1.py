"""EasyR1 adapter, loaded the way EasyR1's AutoRewardManager loads a reward file."""

from __future__ import annotations

import importlib.util
from functools import partial

import pytest

import himed_rewards as hr
from himed_rewards.integrations import easyr1
from himed_rewards.integrations._common import numeric_components


def load_like_easyr1(**reward_function_kwargs):
    """verl/workers/reward/function.py: spec_from_file_location + REWARD_TYPE + partial(kwargs)."""
    spec = importlib.util.spec_from_file_location("custom_reward_fn", easyr1.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reward_type = getattr(module, "REWARD_TYPE", "batch")
    return partial(module.compute_score, **reward_function_kwargs), reward_type, module.REWARD_NAME


def inputs(pairs, **extra):
    return [
        {"response": p, "response_length": len(p.split()), "ground_truth": r, **extra}
        for p, r in pairs
    ]


def test_batch_function_matches_the_public_api(iu_pairs):
    fn, reward_type, name = load_like_easyr1(step=3000)
    assert (reward_type, name) == ("batch", "himed_rl")
    rows = fn(inputs(iu_pairs[:8]))
    preds, refs = zip(*iu_pairs[:8], strict=True)
    expected = hr.score_batch(list(preds), list(refs), step=3000)
    assert [row["overall"] for row in rows] == pytest.approx([b.total for b in expected])
    for row, breakdown in zip(rows, expected, strict=True):
        assert {k: v for k, v in row.items() if k != "overall"} == pytest.approx(
            {**numeric_components(breakdown), "semantic_imputed": 0.0}
        )


def test_step_from_the_inputs_when_no_keyword(iu_pairs):
    fn, _, _ = load_like_easyr1()
    rows = fn(inputs(iu_pairs[:3], global_step=8000))
    assert rows == load_like_easyr1(step=8000)[0](inputs(iu_pairs[:3]))
    with pytest.raises(ValueError, match="share one global_step"):
        fn(inputs(iu_pairs[:1], global_step=1) + inputs(iu_pairs[1:2], global_step=2))


def test_sequential_use_and_malformed_inputs_are_refused():
    with pytest.raises(TypeError, match="REWARD_TYPE = 'batch'"):
        easyr1.compute_score({"response": "a", "ground_truth": "b"})
    with pytest.raises(ValueError, match="reward_inputs\\[0\\]"):
        easyr1.compute_score([{"response": "a"}])
