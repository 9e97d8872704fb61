"""verl adapter: the ``custom_reward_function`` that verl 0.9's reward loop calls per sample.

Configuration (verl 0.9.x; what is passed and logged, and the recipe, are in ``docs/verl.md``)::

    reward.custom_reward_function.path=pkg://himed_rewards.integrations.verl
    reward.custom_reward_function.name=compute_score          # verl's default name
    reward.reward_manager.source=importlib                     # hands over the step
    reward.reward_manager.module.path=pkg://himed_rewards.integrations.verl_manager
    reward.reward_manager.name=HimedRewardLoopManager
    # optional: +reward.custom_reward_function.reward_kwargs.config=/path/reward.yaml
    # optional: +reward.custom_reward_function.reward_kwargs.missing=raise   # default impute

What this matches in verl 0.9.1 (read from the published wheel):

- ``verl/trainer/ppo/reward.py:get_custom_reward_fn`` loads ``path``/``name`` through
  ``verl.utils.import_utils.load_extern_object`` (``pkg://dotted.module`` accepted) and
  binds ``reward_kwargs`` as extra keywords.
- ``verl/experimental/reward_loop/reward_manager/naive.py:NaiveRewardManager.run_single``
  (which ``HimedRewardLoopManager`` extends) calls
  ``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)`` once per
  sample, inside a ``RewardLoopWorker`` Ray actor; every key of the returned dict becomes a
  ``reward_extra_info`` column (validation metrics ``val-aux/<source>/<key>/...``).

verl never puts its step into ``extra_info``. Its v1 trainer (0.9's default) sends it with
every sample as ``non_tensor_batch["global_steps"]``, which
:class:`~himed_rewards.integrations.verl_manager.HimedRewardLoopManager` copies into
``extra_info["global_step"]``; its legacy trainer keeps it in ``meta_info``, which
:class:`~himed_rewards.integrations.verl_agent_loop.HimedAgentLoopManager` carries over.
Without either, the step comes from
:func:`himed_rewards.integrations.step.resolve_training_step` (published step file,
``$HIMED_REWARDS_STEP``, step clock), and failing those is 0 with a warning once per
process, never silently.

verl 0.9 has no batch reward manager on its reward-loop path (registered: ``naive``,
``dapo``, ``gdpo``, ``rate_limited``, ``remote``): ``compute_score_batch`` serves verl's
classic ``BatchRewardManager`` (``verl/workers/reward_manager/batch.py``, still shipped but not
called by 0.9's trainers) and direct use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from himed_rewards.integrations._common import (
    SEMANTIC_KEYS,
    batch_training_step,
    extra_info_step,
    require_mapping,
    resolve_config,
    resolve_missing,
    resolve_rewards,
    score_pairs,
)
from himed_rewards.integrations.step import resolve_training_step

__all__ = ["compute_score", "compute_score_batch", "HOW_TO_FIX"]

HOW_TO_FIX = (
    "In verl 0.9 set reward.reward_manager.source=importlib, reward.reward_manager.module.path="
    "pkg://himed_rewards.integrations.verl_manager, reward.reward_manager.name="
    "HimedRewardLoopManager, and with trainer.use_v1=false also "
    "+actor_rollout_ref.rollout.agent.agent_loop_manager_class="
    "himed_rewards.integrations.verl_agent_loop.HimedAgentLoopManager (docs/verl.md)."
)
_STEP_NAME = "extra_info['global_step']"


def _results(
    breakdowns: Sequence[Any], references: Sequence[str], missing: Any
) -> list[dict[str, float]]:
    resolved = resolve_rewards(breakdowns, references, missing=resolve_missing(missing))
    rows = []
    for r in resolved:
        row = {"score": r.total, **r.components}
        if r.how == "low_level":
            # verl stacks reward_extra_info by the first sample's keys
            # (AgentLoopWorker._postprocess): every sample must carry the same keys. This
            # sample has no verdict and alpha2 = 0, so its semantic columns weigh nothing;
            # they read 0 and the row is flagged semantic_imputed = 1.
            row.update({key: 0.0 for key in SEMANTIC_KEYS if key not in row})
        rows.append(row)
    return rows


def _check_ground_truth(ground_truth: Any, name: str) -> str:
    # verl reads non_tensor_batch["reward_model"]["ground_truth"]; a dataset row without a
    # reference gives None, which must not be scored as the report "None".
    if not isinstance(ground_truth, str):
        raise TypeError(
            f"{name} must be the reference report (str), got {ground_truth!r} "
            f"({type(ground_truth).__name__}); set reward_model.ground_truth in every row"
        )
    return ground_truth


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: str,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Score one verl sample: ``{"score": total, <every numeric component>...}``.

    ``data_source`` is accepted and ignored (every source is a report). The step is
    ``extra_info["global_step"]`` (where ``HimedRewardLoopManager`` puts verl's step), else
    ``resolve_training_step``'s fallbacks; ``config=`` in ``reward_kwargs`` may name a
    YAML/JSON ``RewardConfig`` and ``missing=`` the policy for a failed semantic judge
    (``"impute"``, the default, or ``"raise"``; see ``_common``). One sample has no group to
    impute from, so an imputed total here is its low-level reward. Other keywords verl adds
    (``reward_router_address``...) are ignored.

    Examples:
        >>> out = compute_score("iu_xray", "No acute cardiopulmonary process.",
        ...                     "No acute cardiopulmonary abnormality.", {"global_step": 5000})
        >>> out["alpha1"], "token" in out
        (0.5, True)
    """
    del data_source
    info = require_mapping(extra_info, "extra_info")
    reference = _check_ground_truth(ground_truth, "ground_truth")
    config = resolve_config(kwargs.get("config"))
    step = resolve_training_step(
        extra_info_step(info), framework="verl", name=_STEP_NAME, how_to_fix=HOW_TO_FIX
    ).step
    breakdowns = score_pairs([solution_str], [reference], step=step, config=config)
    return _results(breakdowns, [reference], kwargs.get("missing"))[0]


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[str],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """Score a whole batch in one kernel call (verl's classic ``BatchRewardManager``).

    All samples share one step (a batch that mixes steps is refused rather than scored with
    the wrong curriculum weight). A sample whose semantic verdict failed gets the mean
    semantic score of the samples with the same ``ground_truth`` (``missing="impute"``,
    flagged ``semantic_imputed = 1``). ``workers=N`` in ``reward_kwargs`` splits the batch
    over N processes (a :class:`~himed_rewards.ParallelScorer` per reward worker process).

    Examples:
        >>> rows = compute_score_batch(["a", "a"], ["Normal chest.", "Small effusion."],
        ...                            ["Normal chest.", "No effusion."],
        ...                            [{"global_step": 20000}, {"global_step": 20000}])
        >>> len(rows), rows[0]["alpha1"]
        (2, 0.1)
    """
    n = len(solution_strs)
    if len(data_sources) != n:
        raise ValueError(f"data_sources has {len(data_sources)} items, solution_strs has {n}")
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    if len(infos) != n:
        raise ValueError(f"extra_infos has {len(infos)} items, solution_strs has {n}")
    infos = [require_mapping(info, f"extra_infos[{i}]") for i, info in enumerate(infos)]
    if isinstance(ground_truths, str) or not isinstance(ground_truths, Sequence):
        raise TypeError(f"ground_truths must be a sequence of str, got {type(ground_truths)}")
    references = [_check_ground_truth(g, f"ground_truths[{i}]") for i, g in enumerate(ground_truths)]
    step = batch_training_step(
        {extra_info_step(info) for info in infos} - {None},
        n,
        framework="verl",
        batch="one verl batch",
        name=_STEP_NAME,
        how_to_fix=HOW_TO_FIX,
    )
    config = resolve_config(kwargs.get("config"))
    breakdowns = score_pairs(solution_strs, references, step=step, config=config,
                             workers=kwargs.get("workers"))
    return _results(breakdowns, references, kwargs.get("missing"))
