"""verl adapter: compute_score / compute_score_batch against the public score_batch.

These run without verl; test_verl_manager.py and test_verl_rollout.py drive the same functions
through verl 0.9.1's own loaders, managers and rollout.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import himed_rewards as hr
from himed_rewards.integrations import verl, verl_agent_loop, verl_manager
from himed_rewards.integrations._common import MissingRewardError, numeric_components


def test_score_and_components_equal_the_public_api(iu_pairs):
    pred, ref = iu_pairs[0]
    out = verl.compute_score("iu_xray", pred, ref, {"global_step": 4000})
    (expected,) = hr.score_batch([pred], [ref], step=4000)
    assert out["score"] == pytest.approx(expected.total)
    assert {k: v for k, v in out.items() if k != "score"} == pytest.approx(
        {**numeric_components(expected), "semantic_imputed": 0.0}
    )
    assert all(isinstance(v, float) for v in out.values())


def test_step_comes_from_extra_info_and_accepts_numpy_ints(iu_pairs):
    pred, ref = iu_pairs[1]
    late = verl.compute_score("x", pred, ref, {"global_step": np.int64(9000)})
    early = verl.compute_score("x", pred, ref, None)
    assert late == pytest.approx(_as_dict(hr.score_batch([pred], [ref], step=9000)[0]))
    assert early == pytest.approx(_as_dict(hr.score_batch([pred], [ref], step=0)[0]))
    alias = verl.compute_score("x", pred, ref, {"global_steps": 9000})
    assert alias == late


def test_env_step_is_the_fallback(iu_pairs, monkeypatch):
    pred, ref = iu_pairs[2]
    monkeypatch.setenv("HIMED_REWARDS_STEP", "7000")
    assert verl.compute_score("x", pred, ref, {}) == verl.compute_score(
        "x", pred, ref, {"global_step": 7000}
    )


@pytest.mark.parametrize(
    ("step", "error"), [(-1, ValueError), (True, TypeError), (2.5, TypeError), ("3x", ValueError)]
)
def test_bad_steps_are_refused_with_the_value(step, error):
    with pytest.raises(error, match="global_step"):
        verl.compute_score("x", "a", "b", {"global_step": step})


def test_batch_variant_matches_per_sample_calls(iu_pairs):
    preds, refs = zip(*iu_pairs[:6], strict=True)
    infos = [{"global_step": 2500, "index": i} for i in range(6)]
    rows = verl.compute_score_batch(["iu"] * 6, preds, refs, infos)
    singles = [
        verl.compute_score("iu", p, r, info) for p, r, info in zip(preds, refs, infos, strict=True)
    ]
    assert len(rows) == len(singles)
    for row, single in zip(rows, singles, strict=True):
        assert row.keys() == single.keys()
        for key in single:
            assert row[key] == pytest.approx(single[key]), key


def test_batch_variant_refuses_mixed_steps_and_misaligned_inputs():
    with pytest.raises(ValueError, match="share one global_step"):
        verl.compute_score_batch(
            ["a", "a"], ["x", "y"], ["x", "y"], [{"global_step": 1}, {"global_step": 2}]
        )
    with pytest.raises(ValueError, match="data_sources"):
        verl.compute_score_batch(["a"], ["x", "y"], ["x", "y"])
    with pytest.raises(ValueError, match="same length"):
        verl.compute_score_batch(["a", "a"], ["x", "y"], ["x"])


def test_config_from_reward_kwargs_and_from_the_environment(tmp_path, monkeypatch, iu_pairs):
    pred, ref = iu_pairs[3]
    base = hr.RewardConfig()
    config = base.model_copy(update={"w_token": base.w_token * 3 + 1})
    path = tmp_path / "reward.json"
    config.to_file(path)
    expected = _as_dict(hr.score_batch([pred], [ref], step=0, config=config)[0])
    assert verl.compute_score("x", pred, ref, {}, config=str(path)) == pytest.approx(expected)
    monkeypatch.setenv("HIMED_REWARDS_CONFIG", str(path))
    assert verl.compute_score("x", pred, ref, {}) == pytest.approx(expected)
    default = _as_dict(hr.score_batch([pred], [ref], step=0)[0])
    assert expected["token"] == pytest.approx(default["token"])
    assert expected["score"] != pytest.approx(default["score"])


def test_missing_config_file_and_bad_config_type_are_named(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        verl.compute_score("x", "a", "b", {}, config=str(tmp_path / "nope.yaml"))
    with pytest.raises(TypeError, match="config must be"):
        verl.compute_score("x", "a", "b", {}, config=42)


def test_a_pair_without_reward_raises_under_the_raise_policy(failing_judge):
    config = hr.RewardConfig(semantic=failing_judge)
    with pytest.raises(MissingRewardError, match="backend unreachable"):
        verl.compute_score("x", "Normal.", "Normal.", {}, config=config, missing="raise")


def test_non_text_inputs_are_refused():
    with pytest.raises(TypeError, match="completions\\[0\\]"):
        verl.compute_score("x", None, "b", {})


@pytest.mark.parametrize("extra_info", ["global_step=3", ["global_step", 3], 7])
def test_non_dict_extra_info_is_refused_by_name(extra_info):
    with pytest.raises(TypeError, match="extra_info must be a dict"):
        verl.compute_score("x", "Normal chest.", "Normal chest.", extra_info)
    with pytest.raises(TypeError, match="extra_infos\\[1\\] must be a dict"):
        verl.compute_score_batch(["x", "x"], ["a", "b"], ["a", "b"], [{}, extra_info])


@pytest.mark.parametrize("ground_truth", [None, 3, ["Normal chest."]])
def test_a_missing_reference_is_refused_not_scored_as_text(ground_truth):
    with pytest.raises(TypeError, match="ground_truth must be the reference report"):
        verl.compute_score("x", "None", ground_truth, {"global_step": 1})
    with pytest.raises(TypeError, match="ground_truths\\[0\\] must be the reference report"):
        verl.compute_score_batch(["x"], ["None"], [ground_truth])


def test_without_a_step_it_warns_once_per_process(caplog, monkeypatch):
    from himed_rewards.integrations import step as step_module

    monkeypatch.delenv("HIMED_REWARDS_STEP_FILE", raising=False)
    monkeypatch.delenv("HIMED_REWARDS_SAMPLES_PER_STEP", raising=False)
    monkeypatch.setattr(step_module, "_warned", set())
    with caplog.at_level("WARNING", logger="himed_rewards.integrations"):
        first = verl.compute_score("x", "Normal chest.", "Normal chest.", {})
        second = verl.compute_score("x", "Normal chest.", "Normal chest.", None)
    warnings = [r for r in caplog.records if "handed no training step" in r.getMessage()]
    assert len(warnings) == 1
    assert "HimedAgentLoopManager" in warnings[0].getMessage()
    assert first["alpha1"] == second["alpha1"] == 1.0


def test_a_published_step_file_is_the_fallback(tmp_path, monkeypatch, iu_pairs):
    from himed_rewards.integrations.step import publish_step

    pred, ref = iu_pairs[4]
    step_file = tmp_path / "step.json"
    monkeypatch.setenv("HIMED_REWARDS_STEP_FILE", str(step_file))
    publish_step(20000)
    out = verl.compute_score("x", pred, ref, {"index": 0})
    assert out["alpha1"] == pytest.approx(0.1)
    # what the framework hands over wins over the file
    assert verl.compute_score("x", pred, ref, {"global_step": 5000})["alpha1"] == 0.5


def test_a_sample_without_verdict_keeps_every_column(failing_judge):
    """verl stacks reward_extra_info by the first sample's keys: the keys must not vary."""
    ok = verl.compute_score("x", "Normal chest.", "Normal chest.", {"global_step": 5000})
    config = hr.RewardConfig(semantic=failing_judge)
    failed = verl.compute_score(
        "x", "Normal chest.", "Normal chest.", {"global_step": 5000}, config=config
    )
    assert failed.keys() == ok.keys()
    assert failed["semantic_imputed"] == 1.0 and failed["alpha2"] == 0.0
    assert failed["score"] == pytest.approx(failed["low_level"])


def _as_dict(breakdown) -> dict[str, float]:
    flags = {"semantic_imputed": 0.0}
    return {"score": breakdown.total, **numeric_components(breakdown), **flags}


def test_modules_import_without_verl_and_name_it_when_a_class_is_needed(monkeypatch):
    # `import verl...` fails, even for submodules an earlier test imported
    for name in [m for m in sys.modules if m == "verl" or m.startswith("verl.")] + ["verl"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(verl_manager, "_built", {})
    monkeypatch.setattr(verl_agent_loop, "_built", {})
    with pytest.raises(ImportError, match="install verl"):
        verl_manager.HimedRewardLoopManager  # noqa: B018
    with pytest.raises(ImportError, match="install verl"):
        verl_agent_loop.HimedAgentLoopManager  # noqa: B018
    with pytest.raises(AttributeError):
        verl_manager.NoSuchManager  # noqa: B018
