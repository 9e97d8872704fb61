"""slime adapter: ``async (args, sample)`` and the group variant, with slime-shaped samples."""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

import himed_rewards as hr
from himed_rewards.integrations._common import MissingRewardError


@dataclass
class Sample:
    """The fields of slime.utils.types.Sample that a reward function reads."""

    prompt: str = ""
    response: str = ""
    label: str | None = None
    metadata: dict = field(default_factory=dict)


def load_function(path: str):
    """slime.utils.misc.load_function: 'pkg.module.attr' -> attr."""
    module_path, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module_path), name)


def test_single_sample_reward_matches_the_public_api(iu_pairs):
    rm = load_function("himed_rewards.integrations.slime.reward")
    assert asyncio.iscoroutinefunction(rm)
    pred, ref = iu_pairs[0]
    value = asyncio.run(rm(SimpleNamespace(), Sample("p", pred, ref, {"global_step": 4000})))
    (expected,) = hr.score_batch([pred], [ref], step=4000)
    assert isinstance(value, float)
    assert value == pytest.approx(expected.total)


def test_group_reward_keeps_order_and_step(iu_pairs):
    rm = load_function("himed_rewards.integrations.slime.group_reward")
    samples = [Sample("p", p, r, {"global_step": 100}) for p, r in iu_pairs[:6]]
    values = asyncio.run(rm(SimpleNamespace(), samples))
    preds, refs = zip(*iu_pairs[:6], strict=True)
    assert values == pytest.approx(
        [b.total for b in hr.score_batch(list(preds), list(refs), step=100)]
    )


def test_config_from_args_and_bad_samples(tmp_path, failing_judge):
    from himed_rewards.integrations import slime

    path = tmp_path / "c.json"
    hr.RewardConfig().to_file(path)
    args = SimpleNamespace(himed_rewards_config=str(path))
    assert asyncio.run(slime.reward(args, Sample("p", "Normal.", "Normal."))) == pytest.approx(
        hr.score_batch(["Normal."], ["Normal."], step=0)[0].total
    )
    with pytest.raises(TypeError, match="sample.label\\[0\\]"):
        asyncio.run(slime.reward(SimpleNamespace(), Sample("p", "Normal.", None)))
    with pytest.raises(ValueError, match="share one global_step"):
        asyncio.run(
            slime.group_reward(
                SimpleNamespace(), [Sample("", "a", "a", {"global_step": 1}), Sample("", "a", "a")]
            )
        )
    args = SimpleNamespace(himed_rewards_config=hr.RewardConfig(semantic=failing_judge))
    with pytest.raises(MissingRewardError):
        sample = Sample("p", "Normal.", "Normal.")
        asyncio.run(slime.group_reward(args, [sample], missing="raise"))
