"""EasyR1 adapter, driven by a replay of EasyR1's own call sequence at hiyouga/EasyR1 b44b311
(EasyR1 is not on PyPI). Replayed, line for line, from that commit:

- verl/workers/reward/function.py:110-137 ``AutoRewardManager.__init__``: spec_from_file_location
  ("custom_reward_fn"), ``sys.modules`` entry, ``REWARD_NAME``/``REWARD_TYPE``, and
  ``partial(reward_fn, **reward_function_kwargs)``.
- function.py:77-104 ``compute_reward_batch``: ``{"response", "response_length",
  "ground_truth"}`` per sample, one call, ``reward_metrics[key].append(value)``.
- verl/trainer/ray_trainer.py:585-688 ``fit``: ``global_step += 1``, reward, validation when
  ``global_step % val_freq == 0``, then ``self.logger.log(metrics, step=global_step)``; metrics
  are ``{f"reward/{k}": np.mean(v)}`` (l. 631, verl/trainer/metrics.py:23).
- verl/utils/logger/logger.py:64-80 ``FileLogger``: truncates ``experiment_log.jsonl`` at start,
  appends ``{"step": step, **unflatten_dict(data)}`` per log call.

Nothing in the replay hands the step to the reward: it comes from the file EasyR1 writes."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from collections import defaultdict
from functools import partial

import numpy as np
import pytest

import himed_rewards as hr
from himed_rewards.integrations import easyr1
from himed_rewards.integrations._common import numeric_components


@pytest.fixture(autouse=True)
def _fresh_state(fresh_step_state):
    yield
    sys.modules.pop("custom_reward_fn", None)  # the module load_like_easyr1 registers


def load_like_easyr1(**reward_function_kwargs):
    """function.py:110-137: spec_from_file_location + sys.modules + REWARD_TYPE + partial."""
    spec = importlib.util.spec_from_file_location("custom_reward_fn", easyr1.__file__)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_reward_fn"] = module
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
            {**numeric_components(breakdown), "semantic_imputed": 0.0, "schedule_step": 3000.0}
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


def test_bad_inputs_name_the_argument():
    with pytest.raises(TypeError, match=r"reward_inputs\[0\]\['ground_truth'\] must be a str"):
        easyr1.compute_score([{"response": "a", "ground_truth": None}])
    with pytest.raises(TypeError, match=r"reward_inputs\[1\] must be a dict"):
        easyr1.compute_score([{"response": "a", "ground_truth": "b"}, "oops"])
    with pytest.raises(TypeError, match="step_log must be a path"):
        easyr1.compute_score([{"response": "a", "ground_truth": "b"}], step_log=3)


class FileLogger:
    """verl/utils/logger/logger.py:64-80 (b44b311), minus the config dump."""

    def __init__(self, save_checkpoint_path):
        self.path = save_checkpoint_path / "experiment_log.jsonl"
        self.path.write_text("")  # open(..., "w")

    def log(self, data, step):
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, **unflatten_dict(data)}) + "\n")


def unflatten_dict(data, sep="/"):
    """verl/utils/py_functional.py:91-104 (b44b311)."""
    out = {}
    for key, value in data.items():
        pieces, pointer = key.split(sep), out
        for piece in pieces[:-1]:
            pointer = pointer.setdefault(piece, {})
        pointer[pieces[-1]] = value
    return out


def compute_reward_batch(reward_fn, pairs):
    """function.py:77-104: one call with the whole batch; every returned key appended."""
    reward_inputs = [
        {"response": p, "response_length": len(p.split()), "ground_truth": r} for p, r in pairs
    ]
    scores = reward_fn(reward_inputs)
    reward_metrics = defaultdict(list)
    for score in scores:
        for key, value in score.items():
            reward_metrics[key].append(value)
    return [s["overall"] for s in scores], reward_metrics


def reduce_metrics(metrics):
    """verl/trainer/metrics.py:23."""
    return {key: np.mean(value) for key, value in metrics.items()}


def fit(reward_fn, val_reward_fn, logger, pairs, *, steps, val_freq, start=0):
    """ray_trainer.py:585-688: the order of reward, validation and logging in one step."""
    logged = []
    global_step = start
    while global_step < start + steps:
        global_step += 1
        metrics = {}
        _, reward_metrics = compute_reward_batch(reward_fn, pairs)
        metrics.update({f"reward/{k}": v for k, v in reduce_metrics(reward_metrics).items()})
        if val_freq > 0 and global_step % val_freq == 0:  # _validate, l. 421-444
            _, val_metrics = compute_reward_batch(val_reward_fn, pairs[:1])
            metrics.update({f"val/{k}_reward": v for k, v in reduce_metrics(val_metrics).items()})
        logger.log(data=metrics, step=global_step)
        logged.append((global_step, metrics))
    return logged


def test_step_follows_training_through_easyr1s_file_logger(iu_pairs, tmp_path, monkeypatch):
    schedule = hr.RewardConfig(schedule={"kind": "linear", "T": 4, "alpha_min": 0.1})
    config_path = tmp_path / "reward.yaml"
    schedule.to_file(config_path)
    logger = FileLogger(tmp_path)  # trainer.logger=["console","file"]
    kwargs = {"step_log": str(logger.path), "config": str(config_path)}
    # main.py:68-70: one manager for training, one for validation, same kwargs
    reward_fn, _, _ = load_like_easyr1(**kwargs)
    val_reward_fn, _, _ = load_like_easyr1(**kwargs)
    logged = fit(reward_fn, val_reward_fn, logger, iu_pairs[:4], steps=5, val_freq=2)
    for global_step, metrics in logged:
        alpha1 = schedule.schedule.alpha1(global_step)
        assert metrics["reward/schedule_step"] == global_step
        assert metrics["reward/alpha1"] == pytest.approx(alpha1)
        assert metrics["reward/alpha2"] == pytest.approx(1 - alpha1)
        if global_step % 2 == 0:
            assert metrics["val/alpha1_reward"] == pytest.approx(alpha1)
    # every level's mean is in what EasyR1 logs
    last = json.loads(logger.path.read_text().splitlines()[-1])
    assert {"alpha1", "alpha2", "token", "concept", "format", "low_level", "semantic"} <= set(
        last["reward"]
    )


@pytest.mark.parametrize(("global_step", "alpha1"), [(1, 0.9999), (5_000, 0.5), (20_000, 0.1)])
def test_alpha1_at_steps_of_a_resumed_run(iu_pairs, tmp_path, global_step, alpha1):
    logger = FileLogger(tmp_path)
    if global_step > 1:
        logger.log({"reward/overall": 0.0}, step=global_step - 1)  # the step before
    reward_fn, _, _ = load_like_easyr1(step_log=str(logger.path))
    _, reward_metrics = compute_reward_batch(reward_fn, iu_pairs[:2])
    assert reduce_metrics(reward_metrics)["alpha1"] == pytest.approx(alpha1)
    assert reduce_metrics(reward_metrics)["schedule_step"] == global_step


def test_fixed_step_kwarg_wins_and_no_step_warns_once(iu_pairs, caplog):
    fixed, _, _ = load_like_easyr1(step=5000)
    assert compute_reward_batch(fixed, iu_pairs[:1])[1]["alpha1"] == [0.5]
    bare, _, _ = load_like_easyr1()
    with caplog.at_level(logging.WARNING, logger="himed_rewards.integrations"):
        compute_reward_batch(bare, iu_pairs[:1])
        compute_reward_batch(bare, iu_pairs[:1])
    warnings = [r for r in caplog.records if "handed no training step" in r.getMessage()]
    assert len(warnings) == 1 and "step_log" in warnings[0].getMessage()


def test_a_step_log_that_does_not_exist_is_named_in_the_warning(iu_pairs, tmp_path, caplog):
    missing = tmp_path / "nowhere" / "experiment_log.jsonl"
    fn, _, _ = load_like_easyr1(step_log=str(missing))
    with caplog.at_level(logging.WARNING, logger="himed_rewards.integrations"):
        assert compute_reward_batch(fn, iu_pairs[:1])[1]["alpha1"] == [1.0]
    assert str(missing) in caplog.text and "does not exist" in caplog.text
