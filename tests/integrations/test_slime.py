"""slime adapter, driven by a replay of slime's own call sequence at THUDM/slime 624b824
(slime is not on PyPI; the PyPI "slime" is unrelated). Replayed from that commit:

- slime/ray/rollout.py:493-506 ``RolloutManager.generate``: ``set_current_rollout_id(rollout_id)``,
  rollout, then ``log_rollout_data(rollout_id, args, samples, metrics, time)``.
- slime/rollout/sglang_rollout.py:225-294 ``generate_and_rm``: sample hooks
  (``apply_rollout_sample_hooks``, l. 264), then without ``--group-rm`` ``async_rm`` per sample;
  l. 297-336 ``generate_and_rm_group``: with ``--group-rm`` ``batched_async_rm`` on the group.
- slime/rollout/rm_hub/__init__.py:55-64 ``async_rm`` -> ``rm(args, sample)``; l. 99-111
  ``batched_async_rm`` -> ``rm(args, samples)``.
- slime/rollout/sample_hooks.py:9-49: hooks get ``rollout_id`` (the module's current rollout id)
  and ``evaluation``, filtered by the hook's signature.
- slime/observability/rollout_metrics.py:223-271: the custom log function first; when it returns
  falsy, slime logs ``{**rollout_extra_metrics, ...}``.
- slime/utils/arguments.py:2013-2018: ``--custom-config-path`` YAML keys become ``args`` attributes.

Generation is not replayed (no SGLang): samples arrive with their response. Nothing in the replay
hands the step to the reward except what slime does: the rollout id given to sample hooks."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import sys
import types
from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace

import pytest
import yaml

import himed_rewards as hr
from himed_rewards.integrations import slime
from himed_rewards.integrations._common import MissingRewardError


@dataclass
class Sample:
    """The fields of slime.utils.types.Sample (types.py:94-149) this path reads or writes."""

    class Status(Enum):
        PENDING = "pending"
        COMPLETED = "completed"

    index: int | None = None
    prompt: str = ""
    response: str = ""
    label: str | None = None
    reward: float | dict | None = None
    status: Status = Status.PENDING
    metadata: dict = field(default_factory=dict)
    custom_rm_path: str | None = None


def load_function(path: str):
    """slime/utils/misc.py:39-47: 'pkg.module.attr' -> attr."""
    module_path, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module_path), name)


class SampleHooks:
    """slime/rollout/sample_hooks.py: the current rollout id and hook application."""

    current_rollout_id: int | None = None

    @classmethod
    async def apply(cls, args, sample, **kwargs):
        kwargs.setdefault("rollout_id", cls.current_rollout_id)
        for path in getattr(args, "rollout_sample_hook_path", None) or []:
            hook = load_function(path)
            params = inspect.signature(hook).parameters
            result = hook(args, sample, **{k: v for k, v in kwargs.items() if k in params})
            if inspect.isawaitable(result):
                result = await result
            sample = result if result is not None else sample
        return sample


async def async_rm(args, sample):
    """rm_hub/__init__.py:55-64 (custom_rm_path branch)."""
    return await load_function(sample.custom_rm_path or args.custom_rm_path)(args, sample)


async def batched_async_rm(args, samples):
    """rm_hub/__init__.py:99-111 (custom_rm_path branch)."""
    return await load_function(args.custom_rm_path)(args, samples)


async def generate_and_rm(args, sample, evaluation=False):
    """sglang_rollout.py:225-294, generation already done."""
    sample.status = Sample.Status.COMPLETED
    sample = await SampleHooks.apply(args, sample, evaluation=evaluation)
    if args.group_rm:
        return sample
    if sample.reward is None:
        sample.reward = await async_rm(args, sample)
    return sample


async def generate_and_rm_group(args, group, evaluation=False):
    """sglang_rollout.py:297-336."""
    group = await asyncio.gather(*(generate_and_rm(args, s, evaluation) for s in group))
    if args.group_rm:
        rewards = await batched_async_rm(args, group)
        for sample, value in zip(group, rewards, strict=False):
            sample.reward = value
    return group


def log_rollout_data(rollout_id, args, samples, rollout_extra_metrics, rollout_time):
    """rollout_metrics.py:256-271: custom function first, then slime's own log dict."""
    custom = args.custom_rollout_log_function_path
    if custom is not None and load_function(custom)(
        rollout_id, args, samples, rollout_extra_metrics, rollout_time
    ):
        return None
    log_dict = {**(rollout_extra_metrics or {})}
    log_dict["rollout/step"] = rollout_id
    return log_dict


def generate(args, rollout_id, groups, evaluation=False):
    """rollout.py:493-506 ``RolloutManager.generate``: the rollout, then its log."""
    SampleHooks.current_rollout_id = rollout_id

    async def run():
        return await asyncio.gather(*(generate_and_rm_group(args, g, evaluation) for g in groups))

    data = asyncio.run(run())
    samples = [s for group in data for s in group]
    return samples, log_rollout_data(rollout_id, args, samples, {}, 1.0)


@pytest.fixture(autouse=True)
def _fresh_state(fresh_step_state, monkeypatch):
    monkeypatch.delitem(sys.modules, "slime.rollout.sample_hooks", raising=False)
    SampleHooks.current_rollout_id = None


def make_args(tmp_path, *, group_rm, hook=True, rm="reward", **custom):
    """The parsed command line, with --custom-config-path applied (arguments.py:2013-2018)."""
    args = SimpleNamespace(
        custom_rm_path=f"himed_rewards.integrations.slime.{rm}",
        group_rm=group_rm,
        rollout_sample_hook_path=["himed_rewards.integrations.slime.stamp_step"] if hook else [],
        custom_rollout_log_function_path="himed_rewards.integrations.slime.log_rollout",
    )
    if custom:
        path = tmp_path / "himed.yaml"
        path.write_text(yaml.safe_dump(custom))
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            setattr(args, key, value)
    return args


def groups_of(pairs, n):
    return [
        [Sample(index=g * n + k, prompt="p", response=pred, label=ref) for k in range(n)]
        for g, (pred, ref) in enumerate(pairs)
    ]


@pytest.mark.parametrize("rm", ["reward", "group_reward"])
@pytest.mark.parametrize("group_rm", [False, True], ids=["per-sample", "group-rm"])
@pytest.mark.parametrize(("rollout_id", "alpha1"), [(0, 1.0), (5_000, 0.5), (20_000, 0.1)])
def test_rollout_id_reaches_the_reward_and_the_log(
    iu_pairs, tmp_path, group_rm, rm, rollout_id, alpha1
):
    args = make_args(tmp_path, group_rm=group_rm, rm=rm)
    pairs = iu_pairs[:3]
    samples, log_dict = generate(args, rollout_id, groups_of(pairs, 2))
    expected = hr.score_batch([p for p, _ in pairs], [r for _, r in pairs], step=rollout_id)
    assert [s.reward for s in samples] == pytest.approx([b.total for b in expected for _ in "ab"])
    assert all(isinstance(s.reward, float) for s in samples)
    assert log_dict["himed/alpha1"] == pytest.approx(alpha1)
    assert log_dict["himed/alpha2"] == pytest.approx(1 - alpha1)
    for level in ("token", "concept", "format", "low_level", "semantic", "total"):
        mean = sum(getattr(b, level) for b in expected) / len(expected)
        assert log_dict[f"himed/{level}"] == pytest.approx(mean)
    assert all(s.metadata["global_step"] == rollout_id for s in samples)


def test_without_the_hook_the_rollout_id_slime_keeps_is_used(iu_pairs, tmp_path, monkeypatch):
    # sample_hooks.py:9-14: the module slime's RolloutManager writes the rollout id into
    hooks = types.ModuleType("slime.rollout.sample_hooks")
    hooks._current_rollout_id = None
    monkeypatch.setitem(sys.modules, "slime.rollout.sample_hooks", hooks)
    args = make_args(tmp_path, group_rm=False, hook=False)
    hooks._current_rollout_id = 5_000  # RolloutManager.generate -> set_current_rollout_id
    _, log_dict = generate(args, 5_000, groups_of(iu_pairs[:2], 2))
    assert log_dict["himed/alpha1"] == pytest.approx(0.5)


def test_no_step_warns_once_and_names_the_hook(iu_pairs, tmp_path, caplog):
    args = make_args(tmp_path, group_rm=True, hook=False)
    with caplog.at_level(logging.WARNING, logger="himed_rewards.integrations"):
        generate(args, 7, groups_of(iu_pairs[:2], 2))
        _, log_dict = generate(args, 8, groups_of(iu_pairs[:2], 2))
    warnings = [r for r in caplog.records if "handed no training step" in r.getMessage()]
    assert len(warnings) == 1 and "--rollout-sample-hook-path" in warnings[0].getMessage()
    assert log_dict["himed/alpha1"] == 1.0


def test_config_and_missing_policy_from_custom_config_path(iu_pairs, tmp_path, failing_judge):
    reward_config = tmp_path / "reward.yaml"
    hr.RewardConfig(schedule={"kind": "linear", "T": 4, "alpha_min": 0.1}).to_file(reward_config)
    args = make_args(tmp_path, group_rm=True, himed_rewards_config=str(reward_config))
    _, log_dict = generate(args, 2, groups_of(iu_pairs[:2], 2))
    assert log_dict["himed/alpha1"] == pytest.approx(0.5)  # T = 4 came from the YAML
    args = make_args(tmp_path, group_rm=False, himed_rewards_missing="raise")
    args.himed_rewards_config = hr.RewardConfig(semantic=failing_judge)
    with pytest.raises(MissingRewardError):
        generate(args, 1, groups_of(iu_pairs[:1], 1))


def test_eval_log_function_adds_level_means(iu_pairs, tmp_path):
    args = make_args(tmp_path, group_rm=False)
    samples, _ = generate(args, 5_000, groups_of(iu_pairs[:2], 1), evaluation=True)
    extra = {}
    data = {"iu": {"rewards": [s.reward for s in samples], "samples": samples}}
    assert slime.log_eval_rollout(5_000, args, data, extra) is False
    assert extra["eval/iu/himed/alpha1"] == pytest.approx(0.5)


def test_single_sample_and_list_shapes(iu_pairs):
    pred, ref = iu_pairs[0]
    one = asyncio.run(slime.reward(SimpleNamespace(), Sample(response=pred, label=ref,
                                                             metadata={"global_step": 4000})))  # fmt: skip
    many = asyncio.run(
        slime.group_reward(
            SimpleNamespace(), Sample(response=pred, label=ref, metadata={"global_step": 4000})
        )  # fmt: skip
    )
    as_list = asyncio.run(
        slime.group_reward(
            SimpleNamespace(), [Sample(response=pred, label=ref, metadata={"global_step": 4000})]
        )  # fmt: skip
    )
    (expected,) = hr.score_batch([pred], [ref], step=4000)
    assert one == pytest.approx(expected.total) and many == pytest.approx(expected.total)
    assert isinstance(many, float) and as_list == pytest.approx([expected.total])


def test_bad_samples_name_the_argument():
    with pytest.raises(TypeError, match=r"sample\[0\]\.label must be a str, got None"):
        asyncio.run(slime.reward(SimpleNamespace(), Sample(response="Normal.", label=None)))
    bad = Sample(response="a", label="a")
    bad.metadata = "step 3"
    with pytest.raises(TypeError, match=r"sample\[0\]\.metadata must be a dict"):
        asyncio.run(slime.reward(SimpleNamespace(), bad))
    with pytest.raises(TypeError, match="sample.metadata must be a dict"):
        slime.stamp_step(None, bad, rollout_id=3)
    with pytest.raises(TypeError, match="slime Sample or a list"):
        asyncio.run(slime.reward(SimpleNamespace(), "Normal."))
    with pytest.raises(ValueError, match="share one global_step"):
        two = [Sample(response="a", label="a", metadata={"global_step": s}) for s in (1, 2)]
        asyncio.run(slime.group_reward(SimpleNamespace(), two))
