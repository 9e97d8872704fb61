"""slime adapter: custom reward functions for ``--custom-rm-path``.

Configuration (one line)::

    --custom-rm-path himed_rewards.integrations.slime.reward            # one Sample at a time
    --custom-rm-path himed_rewards.integrations.slime.group_reward --group-rm   # a list

What this matches in slime (THUDM/slime, commit 0b420f1):

- ``slime/rollout/rm_hub/__init__.py:async_rm`` loads ``args.custom_rm_path`` with
  ``load_function`` and awaits ``rm_function(args, sample)``; ``batched_async_rm`` awaits
  ``rm_function(args, samples)`` and expects one reward per sample, in order.
- ``slime/utils/types.py:Sample`` carries ``response`` (the generated text only),
  ``label`` (here: the reference report) and ``metadata`` (a dict).

The step comes from ``sample.metadata["global_step"]``, else ``$HIMED_REWARDS_STEP``, else
0; the config from ``args.himed_rewards_config`` if set, else ``$HIMED_REWARDS_CONFIG``.
Scoring runs through ``ascore_batch`` so semantic judges are awaited concurrently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import himed_rewards as hr
from himed_rewards.integrations._common import (
    check_texts,
    require_total,
    resolve_config,
    resolve_step,
)

__all__ = ["reward", "group_reward"]


def _step_of(sample: Any, index: int) -> int:
    metadata = getattr(sample, "metadata", None) or {}
    return resolve_step(
        metadata.get("global_step"), name=f"sample[{index}].metadata['global_step']"
    )


async def group_reward(args: Any, samples: Sequence[Any]) -> list[float]:
    """slime group/batch reward (``--group-rm``): one total per ``Sample``, in order.

    Examples:
        >>> import asyncio, types
        >>> s = types.SimpleNamespace(response="Normal heart.", label="Heart is normal.",
        ...                           metadata={})
        >>> rewards = asyncio.run(group_reward(types.SimpleNamespace(), [s, s]))
        >>> len(rewards), rewards[0] == rewards[1]
        (2, True)
    """
    samples = list(samples)
    steps = {_step_of(s, i) for i, s in enumerate(samples)}
    if len(steps) > 1:
        raise ValueError(f"one slime group must share one global_step, got {sorted(steps)}")
    responses = check_texts([getattr(s, "response", None) for s in samples], "sample.response")
    labels = check_texts([getattr(s, "label", None) for s in samples], "sample.label")
    config = resolve_config(getattr(args, "himed_rewards_config", None))
    breakdowns = await hr.ascore_batch(
        responses, labels, step=steps.pop() if steps else 0, config=config
    )
    return [require_total(b, i) for i, b in enumerate(breakdowns)]


async def reward(args: Any, sample: Any) -> float:
    """slime custom reward ``(args, sample) -> float``: the HiMed-RL total of one ``Sample``.

    Examples:
        >>> import asyncio, types
        >>> s = types.SimpleNamespace(response="No pneumothorax.", label="No pneumothorax.",
        ...                           metadata={"global_step": 5})
        >>> isinstance(asyncio.run(reward(types.SimpleNamespace(), s)), float)
        True
    """
    (value,) = await group_reward(args, [sample])
    return value
