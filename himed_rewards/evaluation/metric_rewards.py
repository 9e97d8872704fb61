"""Evaluation metrics as separate TRL reward functions, to weigh with ``reward_weights``.

``metric_reward_functions(["bleu4", "rougeL", "f1_micro"])`` returns one reward function per
metric, each named after it (TRL logs ``rewards/<name>/mean``), so a GRPO run can combine
them with ``GRPOConfig(reward_weights=[...])`` or mix them with the HiMed reward. They follow
TRL's calling convention (keyword arguments ``prompts``, ``completions``, the dataset's
reference column, ``trainer_state``, ...), accept plain or conversational completions, and
score the report part of each completion (``<finding>`` + ``<impression>``; never the
``<think>`` reasoning) with :class:`~himed_rewards.evaluation.evaluator.Evaluator`'s
per-sample values. The functions of one call share the work: the batch is scored once, for
all of their metrics. A sample whose value is undefined gets None, which TRL leaves out.

For the HiMed reward itself and its levels, use ``himed_train.rewards.HimedReward``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from himed_rewards.evaluation.evaluator import Evaluator, available_metrics

__all__ = ["MetricReward", "metric_reward_functions", "completion_text", "REWARDABLE_METRICS"]

#: Metrics that make sense per completion during training (the reward-based ones are
#: HimedReward's job, and the METEOR jar is too slow for a training loop).
REWARDABLE_METRICS = ("bleu1", "bleu2", "bleu3", "bleu4", "cxr_bleu2", "rougeL", "rouge1",
                      "rouge2", "meteor", "f1_micro", "f1_macro")


def completion_text(completion: Any) -> str:
    """The text of one completion, plain (``str``) or conversational (list of messages).

    Conversational completions are TRL's ``[{"role": "assistant", "content": ...}]``; the
    content may itself be a list of typed parts (``{"type": "text", "text": ...}``).
    Assistant turns are joined, tool and other turns ignored.

    Examples:
        >>> completion_text("<think>a</think>")
        '<think>a</think>'
        >>> completion_text([{"role": "assistant", "content": "<finding>x</finding>"}])
        '<finding>x</finding>'
        >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "y"}]}])
        'y'
        >>> completion_text(3)
        Traceback (most recent call last):
        ...
        TypeError: completion must be a str or a list of message dicts, got 3 (int)
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and all(isinstance(m, Mapping) for m in completion):
        parts: list[str] = []
        for message in completion:
            if message.get("role", "assistant") != "assistant":
                continue
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, Sequence):
                parts.extend(
                    str(p.get("text", ""))
                    for p in content
                    if isinstance(p, Mapping) and p.get("type") == "text"
                )
        return "".join(parts)
    raise TypeError(
        f"completion must be a str or a list of message dicts, got {completion!r} "
        f"({type(completion).__name__})"
    )


class _SharedBatch:
    """Scores a batch once for every metric of one ``metric_reward_functions`` call."""

    def __init__(self, evaluator: Evaluator, reference_column: str) -> None:
        self.evaluator = evaluator
        self.reference_column = reference_column
        self._key: tuple | None = None
        self._scores: dict[str, list[float | None]] = {}

    def scores(self, completions: Any, kwargs: dict[str, Any]) -> dict[str, list[float | None]]:
        from himed_rewards.rewards.format import extract_report

        if completions is None or isinstance(completions, str):
            raise TypeError("completions must be a list of completions")
        if self.reference_column not in kwargs:
            raise ValueError(f"missing dataset column {self.reference_column!r} (the reference "
                             f"reports); pass reference_column= to name yours")
        references = kwargs[self.reference_column]
        if isinstance(references, str) or len(references) != len(completions):
            raise ValueError(f"{self.reference_column} must hold one reference per completion "
                             f"({len(completions)})")
        reports = [extract_report(completion_text(c)) for c in completions]
        refs = [str(r) for r in references]
        key = (tuple(reports), tuple(refs))
        if key != self._key:
            self._scores = self.evaluator(reports, refs).per_sample
            self._key = key
        return self._scores

    def __getstate__(self) -> dict:  # TRL pickles reward functions: drop the cache
        return {**self.__dict__, "_key": None, "_scores": {}}


class MetricReward:
    """One metric as a TRL reward function (``__name__`` is the metric's name)."""

    def __init__(self, metric: str, shared: _SharedBatch) -> None:
        self.metric = metric
        self.__name__ = metric
        self._shared = shared

    def __repr__(self) -> str:
        return f"MetricReward({self.metric!r})"

    def __call__(self, prompts: Any = None, completions: Any = None, **kwargs: Any
                 ) -> list[float | None]:
        """Per-completion values of the metric (None where undefined)."""
        return list(self._shared.scores(completions, kwargs)[self.metric])


def metric_reward_functions(metrics: Sequence[str], *, convention: str = "default",
                            reference_column: str = "reference") -> list[MetricReward]:
    """One TRL reward function per metric, sharing one scoring pass per batch.

    Args:
        metrics: names from :data:`REWARDABLE_METRICS` available under ``convention``.
        convention: ``"default"`` (sacrebleu / rouge-score / nltk), ``"cxr-metric"``, or
            ``"r2gen"`` (its BLEU and ROUGE-L; METEOR there needs the Java jar).
        reference_column: the dataset column with the reference report.

    Returns:
        Reward functions in the order of ``metrics``; pass them as ``reward_funcs`` and
        weigh them with ``GRPOConfig(reward_weights=...)``.

    Examples:
        >>> bleu, rouge = metric_reward_functions(["bleu4", "rougeL"])
        >>> completions = [[{"role": "assistant", "content":
        ...     "<think>ok</think><finding>No effusion.</finding><impression>Normal.</impression>"}]]
        >>> rouge.__name__, rouge(completions=completions, reference=["No effusion. Normal."])
        ('rougeL', [1.0])
    """
    if isinstance(metrics, str) or not metrics:
        raise TypeError(f"metrics must be a non-empty list of metric names, got {metrics!r}")
    available = set(available_metrics(convention))
    bad = [m for m in metrics if m not in REWARDABLE_METRICS or m not in available]
    if bad:
        usable = [m for m in REWARDABLE_METRICS if m in available]
        raise ValueError(f"metrics {bad} cannot be reward functions under convention "
                         f"{convention!r}; usable: {', '.join(usable)}")
    if not isinstance(reference_column, str) or not reference_column:
        raise ValueError("reference_column must be a non-empty column name")
    shared = _SharedBatch(Evaluator(list(metrics), convention=convention), reference_column)
    return [MetricReward(m, shared) for m in metrics]
