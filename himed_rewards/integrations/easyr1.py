"""EasyR1 adapter: a batch reward function file.

Configuration (EasyR1 at hiyouga/EasyR1 b44b311; it takes ``path:function``)::

    F=$(python -c 'import himed_rewards.integrations.easyr1 as m; print(m.__file__)')
    worker.reward.reward_function="$F:compute_score"
    trainer.logger='["console","file"]'
    worker.reward.reward_function_kwargs='{"step_log": "<trainer.save_checkpoint_path>/experiment_log.jsonl"}'

What this matches in EasyR1 (b44b311):

- ``verl/workers/reward/function.py:AutoRewardManager.__init__`` (l. 110-137) loads the file
  with ``spec_from_file_location`` (so this file uses absolute imports only), reads the
  module's ``REWARD_NAME`` and ``REWARD_TYPE`` (``"batch"`` or ``"sequential"``), and binds
  ``worker.reward.reward_function_kwargs`` with ``functools.partial``. The manager runs as
  its own Ray actor (``verl/trainer/main.py:68-70``: one for training, one for validation).
- ``compute_reward_batch`` (l. 77-104) builds ``list[RewardInput]`` (``{"response",
  "response_length", "ground_truth"}``) from the ``DataProto``: no step, no ``meta_info``
  reaches the function. It puts ``"overall"`` on the last response token and appends every
  key of every returned dict to ``reward_metrics``; ``ray_trainer.py:631`` logs their means
  as ``reward/<key>`` (validation: ``val/<key>_reward``, l. 444).
- ``verl/utils/logger/logger.py:FileLogger.log`` appends ``{"step": N, ...}`` to
  ``<trainer.save_checkpoint_path>/experiment_log.jsonl`` at the end of training step N
  (``ray_trainer.py:687``); step N+1's rewards are computed after that line is written, and
  validation after step N runs before it. ``step_log=`` reads that file: step = last logged
  step + 1, which is the trainer's ``global_step`` for both.

Step order: ``step=`` (a fixed step from ``reward_function_kwargs``: evaluation only), a
per-input ``"global_step"``, ``step_log=`` (EasyR1's own log, above), then the shared sources
of :mod:`himed_rewards.integrations.step` (published step file, ``$HIMED_REWARDS_STEP``, the
step clock), else 0 with a warning once per process. ``config=`` may name a YAML/JSON
``RewardConfig``, else ``$HIMED_REWARDS_CONFIG``; ``missing=`` the policy for a failed
semantic judge (``"impute"``, the default, or ``"raise"``), else ``$HIMED_REWARDS_MISSING``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from himed_rewards.integrations._common import (
    batch_training_step,
    require_text,
    resolve_config,
    resolve_missing,
    resolve_rewards,
    resolve_step,
    score_pairs,
)
from himed_rewards.integrations.step import read_logged_step

__all__ = ["REWARD_NAME", "REWARD_TYPE", "HOW_TO_FIX", "compute_score"]

REWARD_NAME = "himed_rl"
REWARD_TYPE = "batch"

HOW_TO_FIX = (
    'EasyR1 passes no step to the reward function: add "file" to trainer.logger and set '
    'worker.reward.reward_function_kwargs=\'{"step_log": '
    '"<trainer.save_checkpoint_path>/experiment_log.jsonl"}\'.'
)


def _step_from_log(step_log: Any) -> int | None:
    if step_log is None:
        return None
    if not isinstance(step_log, str | os.PathLike):
        raise TypeError(
            f"step_log must be a path to EasyR1's experiment_log.jsonl, got {step_log!r} "
            f"({type(step_log).__name__})"
        )
    if not os.path.exists(step_log):
        return None  # the FileLogger creates it when training starts
    logged = read_logged_step(step_log)
    # An empty log (training just started, or just resumed: the FileLogger truncates it)
    # means the first step of this run; EasyR1 counts steps from 1.
    return 1 if logged is None else logged + 1


def _how_to_fix(step_log: Any) -> str:
    # said only when no step was found, so a step_log given then does not exist
    if isinstance(step_log, str | os.PathLike) and not os.path.exists(step_log):
        return (
            f"step_log {os.fspath(step_log)!r} does not exist: give the absolute "
            'trainer.save_checkpoint_path and include "file" in trainer.logger.'
        )
    return HOW_TO_FIX


def compute_score(
    reward_inputs: Sequence[Mapping[str, Any]],
    step: int | None = None,
    config: Any = None,
    missing: str | None = None,
    step_log: str | os.PathLike[str] | None = None,
) -> list[dict[str, float]]:
    """Score an EasyR1 batch: one ``{"overall": total, <numeric components>...}`` per input.

    Every dict has the same keys (``alpha1``, ``alpha2``, ``token``, ``concept``, ``format``,
    ``low_level``, ``semantic`` when a judge is configured, ``semantic_imputed``,
    ``schedule_step``...), so EasyR1 logs each one's batch mean as ``reward/<key>``. A
    sample whose semantic verdict failed is imputed from the samples with the same
    ``ground_truth`` (``missing="impute"``) and flagged ``semantic_imputed = 1``.

    Examples:
        >>> rows = compute_score([{"response": "Lungs are clear.", "response_length": 4,
        ...                        "ground_truth": "The lungs are clear."}], step=5000)
        >>> rows[0]["alpha1"], "overall" in rows[0]
        (0.5, True)
    """
    if isinstance(reward_inputs, Mapping) or not isinstance(reward_inputs, Sequence):
        raise TypeError(
            "reward_inputs must be a list of {'response', 'ground_truth', ...} dicts "
            f"(REWARD_TYPE = 'batch'), got {type(reward_inputs).__name__}"
        )
    responses, references, steps = [], [], set()
    for i, item in enumerate(reward_inputs):
        if not isinstance(item, Mapping):
            raise TypeError(
                f"reward_inputs[{i}] must be a dict with 'response' and 'ground_truth', "
                f"got {type(item).__name__}"
            )
        if "response" not in item or "ground_truth" not in item:
            raise ValueError(
                f"reward_inputs[{i}] must hold 'response' and 'ground_truth', got keys "
                f"{sorted(item)}"
            )
        responses.append(require_text(item["response"], f"reward_inputs[{i}]['response']"))
        references.append(require_text(item["ground_truth"], f"reward_inputs[{i}]['ground_truth']"))
        if step is None and item.get("global_step") is not None:
            steps.add(resolve_step(item["global_step"], name=f"reward_inputs[{i}]['global_step']"))
    # steps is empty when step is given: the argument wins over the samples' own steps
    resolved_step = batch_training_step(
        steps, len(references), lambda: step if step is not None else _step_from_log(step_log),
        framework="easyr1", batch="one EasyR1 batch", name="step", how_to_fix=_how_to_fix(step_log),
    )
    breakdowns = score_pairs(
        responses, references, step=resolved_step, config=resolve_config(config)
    )
    resolved = resolve_rewards(breakdowns, references, missing=resolve_missing(missing))
    return [
        {"overall": r.total, **r.components, "schedule_step": float(resolved_step)}
        for r in resolved
    ]
