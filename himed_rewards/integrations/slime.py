"""slime adapter: a custom reward function, a rollout sample hook that hands it the step, and
rollout log functions that put alpha1/alpha2 and every level's mean into slime's metrics.

Configuration (THUDM/slime, commit 624b824)::

    --custom-rm-path himed_rewards.integrations.slime.reward          # with or without --group-rm
    --rollout-sample-hook-path himed_rewards.integrations.slime.stamp_step
    --custom-rollout-log-function-path himed_rewards.integrations.slime.log_rollout
    --custom-eval-rollout-log-function-path himed_rewards.integrations.slime.log_eval_rollout
    --custom-config-path himed.yaml   # himed_rewards_config: /path/reward.yaml
                                      # himed_rewards_missing: impute

What this matches in slime (624b824):

- ``slime/rollout/rm_hub/__init__.py``: ``async_rm`` (l. 57-64) awaits
  ``load_function(args.custom_rm_path)(args, sample)`` with **one** ``Sample``;
  ``batched_async_rm`` (l. 99-111) awaits it with a **list** of ``Sample``. Without
  ``--group-rm``, ``sglang_rollout.py:generate_and_rm`` (l. 267-288) calls ``async_rm`` per
  sample (``batched_async_rm`` only when a custom generate function returns a list); with
  ``--group-rm``, ``generate_and_rm_group`` (l. 330-335) calls ``batched_async_rm`` with the
  whole group. :func:`reward` and :func:`group_reward` accept both shapes, so either path
  works with either name.
- ``slime/rollout/sample_hooks.py``: ``--rollout-sample-hook-path`` hooks run on every
  sample before its reward (``sglang_rollout.py:264``, also with ``--group-rm`` and for eval)
  as ``hook(args, sample, rollout_id=..., evaluation=...)``; ``rollout_id`` is what
  ``slime/ray/rollout.py:RolloutManager.generate``/``eval`` (l. 495, 517) set with
  ``set_current_rollout_id``. :func:`stamp_step` writes it to
  ``sample.metadata["global_step"]``. slime's step is the rollout id (one rollout, then one
  training phase); with ``--num-steps-per-rollout k`` the optimizer takes k steps per
  rollout, so measure the schedule's ``T`` in rollouts. (``Sample.rollout_id`` is a
  different thing: the id of the rollout *execution* a sample came from.)
- ``slime/utils/arguments.py:2013-2018``: ``--custom-config-path`` is a YAML file whose every
  key becomes an attribute of ``args``: that is how ``himed_rewards_config`` and
  ``himed_rewards_missing`` are set.
- ``slime/observability/rollout_metrics.py``: ``log_rollout_data`` (l. 256-271) first calls
  the ``--custom-rollout-log-function-path`` function ``(rollout_id, args, samples,
  rollout_extra_metrics, rollout_time)`` and, when it returns falsy, logs
  ``{**rollout_extra_metrics, ...}`` at ``rollout/step``; ``log_eval_rollout_data``
  (l. 223-253) does the same with ``(rollout_id, args, data, extra_metrics)``.
  :func:`log_rollout` adds ``himed/<level>`` means to ``rollout_extra_metrics`` and returns
  False, so slime's own logger records them with its own metrics.

Step order: ``sample.metadata["global_step"]`` (set by :func:`stamp_step`), else slime's
current rollout id when ``slime.rollout.sample_hooks`` is loaded (the module variable that
``set_current_rollout_id`` writes; private, hence only a fallback), else the shared sources of
:mod:`himed_rewards.integrations.step`, else 0 with a warning once per process.
Per-sample components go into ``sample.metadata["himed_rewards"]`` (read by the log
functions); an imputed semantic verdict also sets ``himed_semantic_imputed`` and
``himed_semantic_error`` there. Scoring runs through ``ascore_batch`` so semantic judges are
awaited concurrently.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import himed_rewards as hr
from himed_rewards.integrations._common import (
    batch_training_step,
    level_means,
    require_mapping,
    require_text,
    resolve_config,
    resolve_missing,
    resolve_rewards,
    resolve_step,
)

__all__ = [
    "reward",
    "group_reward",
    "stamp_step",
    "log_rollout",
    "log_eval_rollout",
    "METADATA_KEY",
    "LOG_PREFIX",
]

#: Where each sample's numeric components are kept for the log functions.
METADATA_KEY = "himed_rewards"
LOG_PREFIX = "himed/"

HOW_TO_FIX = (
    "Add --rollout-sample-hook-path himed_rewards.integrations.slime.stamp_step to the slime "
    "command line."
)

_log = logging.getLogger("himed_rewards.integrations")


def _metadata(sample: Any, index: int) -> Mapping[str, Any]:
    return require_mapping(getattr(sample, "metadata", None), f"sample[{index}].metadata")


def _current_rollout_id() -> Any:
    hooks = sys.modules.get("slime.rollout.sample_hooks")
    return getattr(hooks, "_current_rollout_id", None) if hooks is not None else None


def _as_samples(samples: Any) -> list[Any]:
    # slime hands one Sample (async_rm) or a list of them (batched_async_rm)
    if isinstance(samples, list | tuple):
        return list(samples)
    if isinstance(samples, str | bytes | Mapping) or not hasattr(samples, "response"):
        raise TypeError(
            f"samples must be a slime Sample or a list of Samples, got {type(samples).__name__}"
        )
    return [samples]


def _group_step(samples: Sequence[Any]) -> int:
    steps = set()
    for i, sample in enumerate(samples):
        value = _metadata(sample, i).get("global_step")
        if value is not None:
            steps.add(resolve_step(value, name=f"sample[{i}].metadata['global_step']"))
    return batch_training_step(
        steps, len(samples), _current_rollout_id,
        framework="slime", batch="one slime reward call", name="rollout_id", how_to_fix=HOW_TO_FIX,
    )


async def group_reward(
    args: Any, samples: Any, *, missing: str | None = None
) -> float | list[float]:
    """slime reward: one total per ``Sample`` of a list (what ``batched_async_rm`` passes with
    ``--group-rm``), in order; a float for a single ``Sample`` (what ``async_rm`` passes
    without it), so it works as ``--custom-rm-path`` in both modes.

    Examples:
        >>> import asyncio, types
        >>> s = types.SimpleNamespace(response="Normal heart.", label="Heart is normal.",
        ...                           metadata={"global_step": 5000})
        >>> rewards = asyncio.run(group_reward(types.SimpleNamespace(), [s, s]))
        >>> len(rewards), rewards[0] == rewards[1], s.metadata["himed_rewards"]["alpha1"]
        (2, True, 0.5)
        >>> isinstance(asyncio.run(group_reward(types.SimpleNamespace(), s)), float)
        True
    """
    rewards = await _score(args, _as_samples(samples), missing)
    return rewards if isinstance(samples, list | tuple) else rewards[0]


async def _score(args: Any, samples: list[Any], missing: str | None) -> list[float]:
    responses = [require_text(getattr(s, "response", None), f"sample[{i}].response")
                 for i, s in enumerate(samples)]  # fmt: skip
    labels = [require_text(getattr(s, "label", None), f"sample[{i}].label")
              for i, s in enumerate(samples)]  # fmt: skip
    step = _group_step(samples)
    config = resolve_config(getattr(args, "himed_rewards_config", None))
    breakdowns = await hr.ascore_batch(responses, labels, step=step, config=config)
    policy = resolve_missing(
        missing if missing is not None else getattr(args, "himed_rewards_missing", None)
    )
    resolved = resolve_rewards(breakdowns, labels, missing=policy)
    for sample, item in zip(samples, resolved, strict=True):
        metadata = getattr(sample, "metadata", None)
        if not isinstance(metadata, MutableMapping):
            continue
        metadata[METADATA_KEY] = {**item.components, "total": item.total,
                                  "schedule_step": float(step)}  # fmt: skip
        if item.imputed:
            metadata["himed_semantic_imputed"] = 1
            metadata["himed_semantic_error"] = item.error
    return [r.total for r in resolved]


async def reward(args: Any, sample: Any) -> float | list[float]:
    """slime ``--custom-rm-path`` function: the HiMed-RL total of one ``Sample`` (what
    ``async_rm`` passes without ``--group-rm``), or one total per sample for a list (what
    ``batched_async_rm`` passes with ``--group-rm``). The same as :func:`group_reward`.

    Examples:
        >>> import asyncio, types
        >>> s = types.SimpleNamespace(response="No pneumothorax.", label="No pneumothorax.",
        ...                           metadata={"global_step": 5})
        >>> isinstance(asyncio.run(reward(types.SimpleNamespace(), s)), float)
        True
    """
    return await group_reward(args, sample)


def stamp_step(
    args: Any, sample: Any, *, rollout_id: int | None = None, evaluation: bool = False
) -> None:
    """slime rollout sample hook (``--rollout-sample-hook-path``): writes slime's rollout id
    into ``sample.metadata["global_step"]``, where :func:`reward` reads the step.

    Examples:
        >>> import types
        >>> s = types.SimpleNamespace(metadata={})
        >>> stamp_step(None, s, rollout_id=12); s.metadata
        {'global_step': 12}
    """
    del args, evaluation
    if rollout_id is None:
        return None
    metadata = getattr(sample, "metadata", None)
    if metadata is None:
        sample.metadata = metadata = {}
    if not isinstance(metadata, MutableMapping):
        raise TypeError(
            f"sample.metadata must be a dict, got {metadata!r:.80} ({type(metadata).__name__})"
        )
    metadata["global_step"] = resolve_step(rollout_id, name="rollout_id")
    return None


def _flatten(samples: Any) -> list[Any]:
    out: list[Any] = []
    for item in samples or ():
        out.extend(_flatten(item) if isinstance(item, list | tuple) else [item])
    return out


def _means(samples: Any, prefix: str) -> dict[str, float]:
    rows = []
    for sample in _flatten(samples):
        metadata = getattr(sample, "metadata", None)
        if isinstance(metadata, Mapping) and isinstance(metadata.get(METADATA_KEY), Mapping):
            rows.append(metadata[METADATA_KEY])
    return level_means(rows, prefix)


def log_rollout(
    rollout_id: int,
    args: Any,
    samples: Sequence[Any],
    rollout_extra_metrics: dict[str, Any] | None,
    rollout_time: float,
) -> bool:
    """``--custom-rollout-log-function-path``: adds ``himed/<level>`` batch means (alpha1,
    alpha2, token, concept, format, low_level, semantic, semantic_imputed, total) to
    ``rollout_extra_metrics`` and returns False, so slime's own ``log_rollout_data`` logs them
    with its metrics at ``rollout/step``. When slime passes no metrics dict (a legacy rollout
    function), the means are logged to ``logging`` instead and slime logs the rest.

    Examples:
        >>> import types
        >>> s = types.SimpleNamespace(metadata={"himed_rewards": {"alpha1": 0.5, "total": 1.0}})
        >>> metrics = {}
        >>> log_rollout(3, None, [s], metrics, 1.0), metrics
        (False, {'himed/alpha1': 0.5, 'himed/total': 1.0})
    """
    del args, rollout_time
    means = _means(samples, LOG_PREFIX)
    if isinstance(rollout_extra_metrics, dict):
        rollout_extra_metrics.update(means)
    elif means:
        _log.warning("slime rollout %s: %s (no metrics dict to add them to)", rollout_id, means)
    return False


def log_eval_rollout(
    rollout_id: int, args: Any, data: Mapping[str, Any], extra_metrics: dict[str, Any] | None
) -> bool:
    """``--custom-eval-rollout-log-function-path``: adds ``eval/<dataset>/himed/<level>``
    means to ``extra_metrics`` and returns False, so slime's ``log_eval_rollout_data`` logs
    them. When slime passes ``extra_metrics=None`` the means go to ``logging``.
    """
    del args
    means: dict[str, float] = {}
    for name, entry in (data or {}).items():
        if isinstance(entry, Mapping):
            means.update(_means(entry.get("samples"), f"eval/{name}/{LOG_PREFIX}"))
    if isinstance(extra_metrics, dict):
        extra_metrics.update(means)
    elif means:
        _log.warning("slime eval %s: %s", rollout_id, means)
    return False
