"""A RewardConfig that validates always gives finite totals; bools are never numbers (item 10)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import himed_rewards as hr
from himed_rewards import RewardConfig, score_batch
from himed_rewards.rewards.config import MAX_WEIGHT

COMPLETIONS = [
    "<think>x</think><finding>Heart size is enlarged. Small left effusion.</finding>"
    "<impression>Cardiomegaly with effusion.</impression>",
    "no tags, lungs clear, no pneumothorax",
    "",
]
REFERENCES = ["The heart is enlarged. Left pleural effusion. No pneumothorax."] * 3

weights = st.one_of(st.just(0.0), st.just(MAX_WEIGHT), st.floats(0.0, MAX_WEIGHT))
schedules = st.one_of(
    st.builds(hr.ConstantSchedule, alpha=st.sampled_from([0.0, 0.5, 1.0])),
    st.builds(hr.LinearSchedule, T=st.integers(1, 10**12), alpha_min=st.floats(0.0, 1.0)),
)


@settings(max_examples=40, deadline=None)
@given(w_token=weights, w_concept=weights, w_format=weights, beta=weights, cap=weights,
       schedule=schedules, step=st.integers(0, 10**15))
def test_every_valid_config_gives_finite_totals(w_token, w_concept, w_format, beta, cap,
                                                 schedule, step):
    config = RewardConfig(w_token=w_token, w_concept=w_concept, w_format=w_format,
                          keyword_beta=beta, keyword_cap=cap, schedule=schedule,
                          semantic="clinical")
    for result in score_batch(COMPLETIONS, REFERENCES, step=step, config=config):
        assert result.total is not None and math.isfinite(result.total), result
        assert math.isfinite(result.low_level)


@pytest.mark.parametrize("field", ["w_token", "w_concept", "w_format", "keyword_beta",
                                   "keyword_cap", "meteor_beta"])
def test_weights_that_would_overflow_are_refused(field):
    # 1e308 used to validate and give total=inf (and nan once multiplied by alpha1=0).
    with pytest.raises(ValueError, match=field):
        RewardConfig(**{field: 1e308}, semantic=None)
    RewardConfig(**{field: MAX_WEIGHT}, semantic=None)


@pytest.mark.parametrize("fields", [
    {"w_token": True}, {"w_format": False}, {"bleu_max_order": True}, {"meteor_alpha": False},
    {"schedule": {"kind": "linear", "T": True}},
    {"schedule": {"kind": "step", "boundaries": [False], "values": [0.5]}},
    {"schedule": {"kind": "step", "boundaries": [10], "values": [True]}},
    {"schedule": {"kind": "constant", "alpha": False}},
])
def test_bools_are_not_numbers(fields):
    with pytest.raises(ValueError, match="must be a number, got bool"):
        RewardConfig(**fields, semantic=None)


def test_yaml_false_step_values_are_refused(tmp_path):
    path = tmp_path / "reward.yaml"
    path.write_text("semantic: null\nschedule:\n  kind: step\n  boundaries: [false, 100]\n"
                    "  values: [0.5, 0.1]\n")
    with pytest.raises(ValueError, match="boundaries must be a number"):
        RewardConfig.from_file(path)
    path.write_text("semantic: null\nkeyword_grounded: true\n")
    assert RewardConfig.from_file(path).keyword_grounded is True  # real bool fields still work


@pytest.mark.parametrize("step", [False, True])
def test_bool_steps_are_refused_by_every_reward_entry(step):
    config = RewardConfig(semantic=None)
    for call in (lambda: score_batch(COMPLETIONS, REFERENCES, step=step, config=config),
                 lambda: hr.score(COMPLETIONS[0], REFERENCES[0], step=step, config=config),
                 lambda: hr.total_reward(COMPLETIONS[0], REFERENCES[0], step=step, config=config),
                 lambda: hr.LinearSchedule().alpha1(step)):
        with pytest.raises(TypeError, match="step must be a non-negative int"):
            call()
