"""OpenRLHF adapter: a reward-function file for ``--reward.remote_url``.

Configuration (OpenRLHF 0.11.x; the reference column is ``--data.label_key``)::

    F=$(python -c 'import himed_rewards.integrations.openrlhf as m; print(m.__file__)')
    --reward.remote_url "$F" --data.label_key reference

What this matches in OpenRLHF 0.11.2 (PyPI wheel; OpenRLHF/OpenRLHF 3c3be62 calls alike):

- ``openrlhf/utils/agent.py:SingleTurnAgentExecutor.__init__`` loads a ``--reward.remote_url``
  that ends in ``.py`` with ``importlib.util.spec_from_file_location`` (so this file uses
  absolute imports only) inside each vLLM ``RolloutRayActor`` (``trainer/ray/vllm_engine.py``).
- ``SingleTurnAgentExecutor.execute`` calls ``_fetch_rewards_via_func([query], [prompt],
  [label])``, which runs ``reward_func`` in ``asyncio.to_thread`` with **one sample**
  (``batch_size = 1``); ``RolloutRayActor.generate_responses`` gathers the
  ``n_samples_per_prompt`` executions of one prompt concurrently, so a group's samples reach
  ``reward_func`` as separate, concurrent calls in the same actor process. No step and no
  keyword arguments are passed.
- The result is a dict with ``"rewards"``, ``"scores"`` and ``"extra_logs"``;
  ``samples_generator.py:_process_response_into_experience`` turns each into
  ``torch.tensor([value])`` and every ``extra_logs`` key into ``Experience.info[key]``, which
  ``ppo_actor.py`` averages into the logged metrics. For one query the values are therefore
  scalars (``torch.tensor([x])`` has shape ``(1,)``, like OpenRLHF's example whose one-element
  tensor converts to a scalar); for several queries, lists.
- For a VLM the decoded query holds the *expanded* image tokens the processor inserted, so
  it does not start with ``prompt`` and ``query[len(prompt):]`` cuts the wrong place. The
  response is therefore taken after the last assistant header of the chat template.

Step: ``global_step=`` if a caller passes it (OpenRLHF 0.11 does not), else the shared
sources of :mod:`himed_rewards.integrations.step` (published step file, ``$HIMED_REWARDS_STEP``,
the step clock ``$HIMED_REWARDS_SAMPLES_PER_STEP``), else 0 with a warning once per process.

Failed semantic verdicts: one-sample calls cannot see their group, and holding a call until
its group mates arrive could deadlock ``asyncio.to_thread``'s bounded thread pool (every
worker thread waiting for mates queued behind it). A failed sample is therefore imputed from
the group mates **this process already scored** at the same step with the same label
(``semantic_imputed = 1``); with none yet, its total is its low-level reward (alpha1 = 1).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any

from himed_rewards.integrations._common import (
    SEMANTIC_KEYS,
    ResolvedReward,
    numeric_components,
    require_text,
    resolve_config,
    resolve_missing,
    resolve_rewards,
    score_pairs,
)
from himed_rewards.integrations.step import resolve_training_step

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


HOW_TO_FIX = (
    "OpenRLHF 0.11 passes no step to reward_func. With the synchronous trainer, no dynamic "
    "filtering and no eval set, export HIMED_REWARDS_SAMPLES_PER_STEP=<rollout.batch_size x "
    "rollout.n_samples_per_prompt / vllm.num_engines> to every Ray worker (ray job submit "
    "--runtime-env-json '{\"env_vars\": {...}}')."
)

class _ScoredMates:
    """Semantic verdicts this process already scored, per (step, label): the group mates a
    one-sample call can impute from. Bounded (oldest keys dropped, at most ``per_group``
    recent verdicts per key, since a constant step would otherwise pool a label's verdicts
    over the whole run) and thread-safe, because OpenRLHF runs reward_func in worker threads."""

    def __init__(self, max_groups: int = 4096, per_group: int = 64) -> None:
        self.max_groups, self.per_group = max_groups, per_group
        self._groups: OrderedDict[tuple[int, str], deque[dict[str, float]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: tuple[int, str], axes: dict[str, float]) -> None:
        with self._lock:
            self._groups.setdefault(key, deque(maxlen=self.per_group)).append(axes)
            self._groups.move_to_end(key)
            while len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)

    def mean(self, key: tuple[int, str]) -> dict[str, float] | None:
        with self._lock:
            rows = list(self._groups.get(key, ()))
        if not rows:
            return None
        keys = [k for k in rows[0] if all(k in row for row in rows)]
        return {k: sum(row[k] for row in rows) / len(rows) for k in keys}


_mates = _ScoredMates()


def reward_func(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[str], **kwargs: Any
) -> dict[str, Any]:
    """OpenRLHF's reward function: ``{"rewards", "scores", "extra_logs"}``.

    ``labels`` are the reference reports (``--data.label_key``). ``rewards`` and ``scores``
    are both the HiMed-RL total; ``extra_logs`` holds every numeric component (``alpha1``,
    ``alpha2``, ``token``, ``concept``, ``format``, ``low_level``, ``semantic``...),
    ``semantic_imputed`` and ``schedule_step``, which OpenRLHF averages into its metrics.
    One query (what OpenRLHF 0.11 sends) gives scalars, several give lists.

    Examples:
        >>> out = reward_func(["<|im_start|>assistant\\nHeart size normal.<|im_end|>"],
        ...                   ["<|im_start|>user\\nReport?<|im_end|>\\n"],
        ...                   ["Heart size is normal."], global_step=5000)
        >>> sorted(out), out["extra_logs"]["alpha1"]
        (['extra_logs', 'rewards', 'scores'], 0.5)
    """
    for name, values in (("queries", queries), ("prompts", prompts), ("labels", labels)):
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise TypeError(f"{name} must be a list, got {type(values).__name__}")
    if not len(queries) == len(prompts) == len(labels):
        raise ValueError(
            f"queries, prompts and labels must have the same length, got {len(queries)}, "
            f"{len(prompts)} and {len(labels)}"
        )
    references = [require_text(label, f"labels[{i}]") for i, label in enumerate(labels)]
    for i, reference in enumerate(references):
        if not reference.strip():
            # OpenRLHF's PromptDataset gives "" for every label when --data.label_key is unset
            raise ValueError(
                f"labels[{i}] is empty: pass --data.label_key <column with the reference report>"
            )
    responses = [
        extract_response(require_text(q, f"queries[{i}]"), require_text(p, f"prompts[{i}]"))
        for i, (q, p) in enumerate(zip(queries, prompts, strict=True))
    ]
    step = resolve_training_step(
        kwargs.get("global_step"),
        framework="openrlhf",
        n_samples=len(references),
        name="global_step",
        how_to_fix=HOW_TO_FIX,
    ).step
    breakdowns = score_pairs(
        responses, references, step=step, config=resolve_config(kwargs.get("config"))
    )
    resolved = resolve_rewards(
        breakdowns, references, missing=resolve_missing(kwargs.get("missing"))
    )
    resolved = _impute_from_scored_mates(breakdowns, resolved, references, step)
    rewards = [r.total for r in resolved]
    extra_logs = collect_extra_logs(resolved)
    extra_logs["schedule_step"] = [float(step)] * len(rewards)
    if len(rewards) == 1:  # OpenRLHF 0.11 wraps each value in torch.tensor([value])
        return {
            "rewards": rewards[0],
            "scores": rewards[0],
            "extra_logs": {key: values[0] for key, values in extra_logs.items()},
        }
    return {"rewards": rewards, "scores": list(rewards), "extra_logs": extra_logs}


def _impute_from_scored_mates(
    breakdowns: Sequence[Any],
    resolved: list[ResolvedReward],
    references: Sequence[str],
    step: int,
) -> list[ResolvedReward]:
    """Record this call's verdicts; re-impute samples whose call held no same-label verdict
    from the same-label samples this process scored earlier at this step."""
    for b, reference in zip(breakdowns, references, strict=True):
        if b.total is not None and b.semantic is not None:
            axes = {k: float(getattr(b, k)) for k in SEMANTIC_KEYS if getattr(b, k) is not None}
            _mates.add((step, reference), axes)
    out = list(resolved)
    for i, (b, item) in enumerate(zip(breakdowns, resolved, strict=True)):
        if item.how not in ("call_mean", "low_level"):
            continue
        mean = _mates.mean((step, references[i]))
        if mean is None:
            continue
        components = dict(item.components)
        components.update(mean)
        components["alpha1"], components["alpha2"] = float(b.alpha1), float(b.alpha2)
        total = b.alpha1 * b.low_level + b.alpha2 * mean["semantic"]
        out[i] = ResolvedReward(float(total), "scored_mates_mean", item.error, components)
    return out


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
