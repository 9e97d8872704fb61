"""One rule for the default step: the schedule's final step, in every entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from himed_rewards import CosineSchedule, RewardConfig
from himed_rewards.cli.main import main
from himed_rewards.evaluation import evaluate
from himed_rewards.evaluation.steps import final_step, resolve_step
from himed_rewards.rewards.schedule import ConstantSchedule, StepSchedule

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iu_xray"


@pytest.mark.parametrize(("schedule", "expected"), [
    (CosineSchedule(T=300), 300),
    (StepSchedule(boundaries=[100, 400], values=[0.5, 0.2]), 400),
    (ConstantSchedule(alpha=0.3), 0),
])
def test_final_step_is_where_alpha1_stops_changing(schedule, expected):
    config = RewardConfig(schedule=schedule)
    step = final_step(config)
    assert step == expected
    assert schedule.alpha1(step) == schedule.alpha1(step + 10_000)
    if step > 0:
        assert schedule.alpha1(step - 1) != schedule.alpha1(step)


def test_resolve_step_validates():
    assert resolve_step(7, RewardConfig()) == 7
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="step"):
            resolve_step(bad, RewardConfig())
    with pytest.raises(TypeError, match="config"):
        final_step(object())


def test_every_entry_point_defaults_to_the_same_step(capsys):
    expected = final_step(RewardConfig())
    refs = ["No effusion.", "Heart is normal."]
    assert evaluate({"s": refs}, refs, n_resamples=10).signature["reward"]["step"] == expected
    assert main(["demo"]) == 0
    assert f"step {expected}: alpha1=0.100" in capsys.readouterr().out
    preds, gts = str(FIXTURES / "preds.csv"), str(FIXTURES / "gts.csv")
    assert main(["score", "--predictions", preds, "--references", gts, "--quiet"]) == 0
    assert f"590 pairs, step {expected}," in capsys.readouterr().out
