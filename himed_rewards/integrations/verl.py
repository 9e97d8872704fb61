"""verl adapter: ``custom_reward_function`` for the naive, DAPO, reward-loop and batch managers.

Configuration (one line each)::

    reward.custom_reward_function.path=pkg://himed_rewards.integrations.verl
    reward.custom_reward_function.name=compute_score          # verl's default name
    # optional: +reward.custom_reward_function.reward_kwargs.config=/path/reward.yaml
    # optional: +reward.custom_reward_function.reward_kwargs.missing=raise   # default impute

What this matches in verl (volcengine/verl, read at 0.8.0.dev, commit b178a3c; the
0.9 interface is unchanged):

- ``verl/trainer/ppo/reward.py:get_custom_reward_fn`` loads ``path``/``name`` through
  ``verl.utils.import_utils.load_extern_object``, which accepts ``pkg://dotted.module``, and
  binds ``reward_kwargs`` as extra keywords.
- ``verl/workers/reward_manager/naive.py`` (and the reward-loop
  ``verl/experimental/reward_loop/reward_manager/naive.py``) call
  ``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)`` once per sample;
  a returned dict must hold ``"score"`` and every key is appended to ``reward_extra_info``.
- ``verl/workers/reward_manager/batch.py`` calls
  ``compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=)`` once per
  batch: use ``name=compute_score_batch`` with ``reward_manager=batch``.

verl does not put the training step into ``extra_info`` (it keeps it in
``DataProto.meta_info["global_steps"]``); :mod:`himed_rewards.integrations.verl_manager`
ships reward managers that copy it there, read here as ``extra_info["global_step"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from himed_rewards.integrations._common import (
    extra_info_step,
    resolve_config,
    resolve_missing,
    resolve_rewards,
    resolve_step,
    score_pairs,
)

__all__ = ["compute_score", "compute_score_batch"]


def _results(
    breakdowns: Sequence[Any], references: Sequence[str], missing: Any
) -> list[dict[str, float]]:
    resolved = resolve_rewards(breakdowns, references, missing=resolve_missing(missing))
    return [{"score": r.total, **r.components} for r in resolved]


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: str,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Score one verl sample: ``{"score": total, <every numeric component>...}``.

    ``data_source`` is accepted and ignored (every source is a report). The step is
    ``extra_info["global_step"]`` (0 when absent, or ``$HIMED_REWARDS_STEP``); ``config=``
    in ``reward_kwargs`` may name a YAML/JSON ``RewardConfig`` and ``missing=`` the policy
    for a failed semantic judge (``"impute"``, the default, or ``"raise"``; see
    ``_common``). One sample has no group to impute from, so an imputed total here is its
    low-level reward; ``compute_score_batch`` imputes from the sample's group. Other
    keywords verl adds (``reward_router_address``...) are ignored.

    Examples:
        >>> out = compute_score("iu_xray", "No acute cardiopulmonary process.",
        ...                     "No acute cardiopulmonary abnormality.", {"global_step": 3})
        >>> isinstance(out["score"], float) and "token" in out
        True
    """
    del data_source
    config = resolve_config(kwargs.get("config"))
    step = resolve_step(extra_info_step(extra_info), name="extra_info['global_step']")
    breakdowns = score_pairs([solution_str], [ground_truth], step=step, config=config)
    return _results(breakdowns, [ground_truth], kwargs.get("missing"))[0]


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[str],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """Score a whole verl batch (``reward_manager=batch``) in one kernel call.

    All samples of a batch share one step (the first sample's ``global_step``); a batch that
    mixes steps is refused rather than scored with the wrong curriculum weight. A sample
    whose semantic verdict failed gets the mean semantic score of the samples with the same
    ``ground_truth`` (``missing="impute"``, flagged ``semantic_imputed = 1``).

    Examples:
        >>> rows = compute_score_batch(["a", "a"], ["Normal chest.", "Small effusion."],
        ...                            ["Normal chest.", "No effusion."])
        >>> len(rows), sorted(rows[0])[:2]
        (2, ['alpha1', 'alpha2'])
    """
    n = len(solution_strs)
    if len(data_sources) != n:
        raise ValueError(f"data_sources has {len(data_sources)} items, solution_strs has {n}")
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    if len(infos) != n:
        raise ValueError(f"extra_infos has {len(infos)} items, solution_strs has {n}")
    steps = {
        resolve_step(extra_info_step(info), name="extra_info['global_step']") for info in infos
    }
    if len(steps) > 1:
        raise ValueError(f"one verl batch must share one global_step, got {sorted(steps)}")
    step = steps.pop() if steps else 0
    config = resolve_config(kwargs.get("config"))
    breakdowns = score_pairs(solution_strs, ground_truths, step=step, config=config)
    return _results(breakdowns, list(ground_truths), kwargs.get("missing"))
