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
0; the config from ``args.himed_rewards_config`` if set, else ``$HIMED_REWARDS_CONFIG``; the
policy for a failed semantic judge from ``args.himed_rewards_missing`` (or the ``missing=``
keyword of ``group_reward``), else ``$HIMED_REWARDS_MISSING``, else ``"impute"``. slime takes
a bare float, so the imputation flag and error are recorded in the log (WARNING on logger
``himed_rewards.integrations``) and, when ``sample.metadata`` is a dict, in it as
``himed_semantic_imputed`` / ``himed_semantic_error``.
Scoring runs through ``ascore_batch`` so semantic judges are awaited concurrently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import himed_rewards as hr
from himed_rewards.integrations._common import (
    check_texts,
    resolve_config,
    resolve_missing,
    resolve_rewards,
    resolve_step,
)

__all__ = ["reward", "group_reward"]


def _step_of(sample: Any, index: int) -> int:
    metadata = getattr(sample, "metadata", None) or {}
    return resolve_step(
        metadata.get("global_step"), name=f"sample[{index}].metadata['global_step']"
    )


async def group_reward(
    args: Any, samples: Sequence[Any], *, missing: str | None = None
) -> list[float]:
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
    policy = resolve_missing(
        missing if missing is not None else getattr(args, "himed_rewards_missing", None)
    )
    resolved = resolve_rewards(breakdowns, labels, missing=policy)
    for sample, item in zip(samples, resolved, strict=True):
        metadata = getattr(sample, "metadata", None)
        if item.imputed and isinstance(metadata, dict):
            metadata["himed_semantic_imputed"] = 1
            metadata["himed_semantic_error"] = item.error
    return [r.total for r in resolved]


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
