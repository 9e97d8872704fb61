"""verl adapter: compute_score / compute_score_batch against the public score_batch."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import himed_rewards as hr
from himed_rewards.integrations import verl
from himed_rewards.integrations._common import MissingRewardError, numeric_components


def load_like_verl(path: str, name: str):
    """verl.utils.import_utils.load_extern_object for a ``pkg://`` path."""
    assert path.startswith("pkg://")
    module = importlib.import_module(path[len("pkg://") :].replace("/", "."))
    return getattr(module, name)


def test_loadable_as_pkg_path_with_verls_default_name():
    fn = load_like_verl("pkg://himed_rewards.integrations.verl", "compute_score")
    assert fn is verl.compute_score


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
    ("step", "error"), [(-1, ValueError), (True, TypeError), (2.5, TypeError), ("3", TypeError)]
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
    assert rows == pytest.approx(singles)


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


def _as_dict(breakdown) -> dict[str, float]:
    flags = {"semantic_imputed": 0.0}
    return {"score": breakdown.total, **numeric_components(breakdown), **flags}
