"""OpenRLHF adapter: a reward-function file for ``--reward.remote_url``.

Configuration (one line)::

    F=$(python -c 'import himed_rewards.integrations.openrlhf as m; print(m.__file__)')
    --reward.remote_url "$F"

What this matches in OpenRLHF (OpenRLHF/OpenRLHF, 0.11 line, commit 3c3be62):

- ``openrlhf/utils/agent.py:SingleTurnAgentExecutor`` loads a ``--reward.remote_url`` that
  ends in ``.py`` with ``importlib.util.spec_from_file_location`` (so this file uses absolute
  imports only) and calls ``reward_func(queries, prompts, labels)`` in a thread, where
  ``query`` is ``tokenizer.decode(prompt_tokens + response_tokens, skip_special_tokens=False)``.
- The result must be a dict with ``"rewards"`` (for advantages), ``"scores"`` (for dynamic
  filtering; OpenRLHF falls back to rewards) and ``"extra_logs"`` (logged per key):
  ``examples/python/reward_func.py``.
- For a VLM the decoded query holds the *expanded* image tokens the processor inserted, so
  it does not start with ``prompt`` and ``query[len(prompt):]`` cuts the wrong place. The
  response is therefore taken after the last assistant header of the chat template.

OpenRLHF passes no step: the schedule step comes from a ``global_step=`` keyword if a caller
adds one, else ``$HIMED_REWARDS_STEP``, else 0. The config comes from ``$HIMED_REWARDS_CONFIG``,
the policy for a failed semantic judge from a ``missing=`` keyword, else
``$HIMED_REWARDS_MISSING``, else ``"impute"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from himed_rewards.integrations._common import (
    ResolvedReward,
    numeric_components,
    resolve_config,
    resolve_missing,
    resolve_rewards,
    resolve_step,
    score_pairs,
)

__all__ = [
    "reward_func",
    "extract_response",
    "collect_extra_logs",
    "ASSISTANT_HEADERS",
    "END_OF_TURN_TOKENS",
]

# Where the assistant turn starts in the chat templates of the models people train on
# (Qwen/ChatML, Llama 3, Gemma, Phi-3/Zephyr, Mistral/Llama 2).
ASSISTANT_HEADERS: tuple[str, ...] = (
    "<|im_start|>assistant",
    "<|start_header_id|>assistant<|end_header_id|>",
    "<start_of_turn>model",
    "<|assistant|>",
    "[/INST]",
)
# What may trail the response because OpenRLHF decodes with skip_special_tokens=False.
END_OF_TURN_TOKENS: tuple[str, ...] = (
    "<|im_end|>",
    "<|eot_id|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end|>",
    "</s>",
)


def extract_response(query: str, prompt: str) -> str:
    """The model's response inside an OpenRLHF ``query`` (prompt + response, special tokens kept).

    Examples:
        >>> q = ("<|im_start|>user\\n<|vision_start|><|image_pad|><|image_pad|><|vision_end|>"
        ...      "Describe.<|im_end|>\\n<|im_start|>assistant\\nNo effusion.<|im_end|>")
        >>> p = ("<|im_start|>user\\n<|vision_start|><|image_pad|><|vision_end|>"
        ...      "Describe.<|im_end|>\\n")
        >>> extract_response(q, p)
        'No effusion.'
        >>> extract_response("Q: lungs? A: clear", "Q: lungs? A:")
        'clear'
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, got {type(query).__name__}")
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    best_start, best_end = -1, -1
    for header in ASSISTANT_HEADERS:
        start = query.rfind(header)
        if start > best_start or (start == best_start and start + len(header) > best_end):
            best_start, best_end = start, start + len(header)
    if best_start >= 0:
        response = query[best_end:]
    elif query.startswith(prompt):
        response = query[len(prompt) :]
    else:
        raise ValueError(
            "cannot find the response in query: it has no assistant header "
            f"({', '.join(ASSISTANT_HEADERS)}) and does not start with the prompt; "
            f"query starts {query[:80]!r}"
        )
    return _strip_end_tokens(response)


def _strip_end_tokens(text: str) -> str:
    text = text.strip()
    changed = True
    while changed:
        changed = False
        for token in END_OF_TURN_TOKENS:
            if text.endswith(token):
                text = text[: -len(token)].rstrip()
                changed = True
    return text


def reward_func(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[str], **kwargs: Any
) -> dict[str, Any]:
    """OpenRLHF's reward function: ``{"rewards", "scores", "extra_logs"}``, one value per query.

    ``labels`` are the reference reports (``--label_key``). ``rewards`` and ``scores`` are
    both the HiMed-RL total; ``extra_logs`` holds one list per numeric component, with
    ``semantic_imputed`` (1.0 where a failed semantic verdict was imputed from the samples
    with the same label, see ``missing``).

    Examples:
        >>> out = reward_func(["<|im_start|>assistant\\nHeart size normal.<|im_end|>"],
        ...                   ["<|im_start|>user\\nReport?<|im_end|>\\n"],
        ...                   ["Heart size is normal."])
        >>> sorted(out), len(out["rewards"])
        (['extra_logs', 'rewards', 'scores'], 1)
    """
    if not len(queries) == len(prompts) == len(labels):
        raise ValueError(
            f"queries, prompts and labels must have the same length, got {len(queries)}, "
            f"{len(prompts)} and {len(labels)}"
        )
    responses = [extract_response(q, p) for q, p in zip(queries, prompts, strict=True)]
    step = resolve_step(kwargs.get("global_step"), name="global_step")
    breakdowns = score_pairs(
        responses, labels, step=step, config=resolve_config(kwargs.get("config"))
    )
    resolved = resolve_rewards(
        breakdowns, list(labels), missing=resolve_missing(kwargs.get("missing"))
    )
    rewards = [r.total for r in resolved]
    return {
        "rewards": rewards,
        "scores": list(rewards),
        "extra_logs": collect_extra_logs(resolved),
    }


def collect_extra_logs(items: Sequence[Any]) -> dict[str, list[float]]:
    """OpenRLHF's ``extra_logs``: one list per numeric component, aligned with ``items``
    (``ResolvedReward``s, whose components carry ``semantic_imputed``, or breakdowns)."""
    extra_logs: dict[str, list[float]] = {}
    for item in items:
        components = (
            item.components if isinstance(item, ResolvedReward) else numeric_components(item)
        )
        for key, value in components.items():
            extra_logs.setdefault(key, []).append(value)
    return extra_logs
