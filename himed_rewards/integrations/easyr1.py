"""EasyR1 adapter: a batch reward function file.

Configuration (one line; EasyR1 takes ``path:function``)::

    F=$(python -c 'import himed_rewards.integrations.easyr1 as m; print(m.__file__)')
    worker.reward.reward_function="$F:compute_score"

What this matches in EasyR1 (hiyouga/EasyR1, commit b44b311):

- ``verl/workers/reward/function.py:AutoRewardManager`` loads the file with
  ``spec_from_file_location`` (so this file uses absolute imports only), reads the module's
  ``REWARD_NAME`` and ``REWARD_TYPE`` (``"batch"`` or ``"sequential"``), and binds
  ``worker.reward.reward_function_kwargs`` to the function with ``functools.partial``.
- A batch function gets ``list[RewardInput]`` (``{"response", "response_length",
  "ground_truth"}``) and returns one dict per input whose ``"overall"`` is put on the last
  response token; every other key is averaged into the logged reward metrics
  (``examples/reward_function/math.py``).

EasyR1 passes no step: ``step=`` in ``reward_function_kwargs``, or a per-input
``"global_step"``, else ``$HIMED_REWARDS_STEP``, else 0. ``config=`` there may name a
YAML/JSON ``RewardConfig``, else ``$HIMED_REWARDS_CONFIG``; ``missing=`` there the policy for
a failed semantic judge (``"impute"``, the default, or ``"raise"``), else
``$HIMED_REWARDS_MISSING``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from himed_rewards.integrations._common import (
    resolve_config,
    resolve_missing,
    resolve_rewards,
    resolve_step,
    score_pairs,
)

__all__ = ["REWARD_NAME", "REWARD_TYPE", "compute_score"]

REWARD_NAME = "himed_rl"
REWARD_TYPE = "batch"


def compute_score(
    reward_inputs: Sequence[Mapping[str, Any]],
    step: int | None = None,
    config: Any = None,
    missing: str | None = None,
) -> list[dict[str, float]]:
    """Score an EasyR1 batch: one ``{"overall": total, <numeric components>...}`` per input.

    A sample whose semantic verdict failed is imputed from the samples with the same
    ``ground_truth`` (``missing="impute"``) and flagged ``semantic_imputed = 1``, which
    EasyR1 averages into the logged imputation rate.

    Examples:
        >>> rows = compute_score([{"response": "Lungs are clear.", "response_length": 4,
        ...                        "ground_truth": "The lungs are clear."}], step=10)
        >>> "overall" in rows[0] and "token" in rows[0]
        True
    """
    if isinstance(reward_inputs, Mapping) or not isinstance(reward_inputs, Sequence):
        raise TypeError(
            "reward_inputs must be a list of {'response', 'ground_truth', ...} dicts "
            f"(REWARD_TYPE = 'batch'), got {type(reward_inputs).__name__}"
        )
    responses, references, steps = [], [], set()
    for i, item in enumerate(reward_inputs):
        if not isinstance(item, Mapping) or "response" not in item or "ground_truth" not in item:
            raise ValueError(
                f"reward_inputs[{i}] must hold 'response' and 'ground_truth', got {item!r}"
            )
        responses.append(item["response"])
        references.append(item["ground_truth"])
        if step is None and "global_step" in item:
            steps.add(resolve_step(item["global_step"], name=f"reward_inputs[{i}]['global_step']"))
    if len(steps) > 1:
        raise ValueError(f"one EasyR1 batch must share one global_step, got {sorted(steps)}")
    resolved_step = resolve_step(step if step is not None else (steps.pop() if steps else None))
    breakdowns = score_pairs(
        responses, references, step=resolved_step, config=resolve_config(config)
    )
    resolved = resolve_rewards(breakdowns, references, missing=resolve_missing(missing))
    return [{"overall": r.total, **r.components} for r in resolved]
