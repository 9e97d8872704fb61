"""One call, a chosen list of metrics, corpus and per-sample scores: :class:`Evaluator`.

For a table with intervals and significance tests use
:func:`~himed_rewards.evaluation.evaluate`; ``Evaluator`` is the quick form (RadEval-style):
name the metrics once, call it on hypotheses and references, get every metric's corpus value
and its value for each sample. Only the stages the chosen metrics need are computed.

A per-sample value is the metric's corpus formula applied to that one sample: the
sample's own score for ROUGE, METEOR, the semantic axes and the reward; for BLEU the corpus
BLEU of one segment (the convention's smoothing, no effective order); for clinical F1 the
F1 of that report's 14 observations (None where it is undefined).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from himed_rewards.evaluation.conventions import get_convention
from himed_rewards.evaluation.statistics import METRIC_KEYS, Metric, compute_statistics

__all__ = ["Evaluator", "EvaluatorResult", "available_metrics"]

DEFAULT_METRICS = ("bleu4", "rougeL", "meteor")


def available_metrics(convention: str = "default") -> tuple[str, ...]:
    """The metric names :class:`Evaluator` accepts under ``convention``.

    Args:
        convention: one of :data:`~himed_rewards.evaluation.CONVENTIONS`.

    Returns:
        Metric keys, in table order.

    Examples:
        >>> available_metrics("cxr-metric")[:3]
        ('cxr_bleu2', 'rougeL', 'meteor')
    """
    recipe = get_convention(convention)
    skip = {"bleu1", "bleu2", "bleu3", "bleu4"} if recipe.cxr_bleu else {"cxr_bleu2"}
    if recipe.family != "coco":
        skip.add("meteor_seg")
    return tuple(k for k in METRIC_KEYS if k not in skip and k != "ratescore")


@dataclass(frozen=True)
class EvaluatorResult:
    """Corpus value and per-sample values of each chosen metric (None: undefined)."""

    corpus: dict[str, float | None]
    per_sample: dict[str, list[float | None]]
    convention: str
    metrics: tuple[str, ...] = field(default=())

    def records(self, ids: Sequence[str] | None = None) -> list[dict]:
        """One dict per sample: ``id`` and each metric's value (for JSONL/CSV output).

        Args:
            ids: sample ids (default ``"0"``, ``"1"``, ...).

        Returns:
            The per-sample rows.
        """
        n = len(next(iter(self.per_sample.values()))) if self.per_sample else 0
        keys = [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]
        if len(keys) != n:
            raise ValueError(f"ids has {len(keys)} entries for {n} samples")
        return [{"id": key, **{m: self.per_sample[m][j] for m in self.metrics}}
                for j, key in enumerate(keys)]


def _per_sample(metric: Metric) -> list[float | None]:
    # Scoring each row of the statistics as its own corpus (an identity "resample").
    values = metric.finalize(metric.columns)  # type: ignore[misc]
    return [None if np.isnan(v) else float(v) for v in np.asarray(values, dtype=np.float64)]


class Evaluator:
    """Score hypotheses against references with a fixed list of metrics.

    Args:
        metrics: metric keys (see :func:`available_metrics`), e.g. ``["bleu4", "rougeL",
            "f1_micro", "himed"]``.
        convention: how BLEU/ROUGE/METEOR are computed (``"r2gen"`` for R2Gen-style
            numbers).
        reward_config: the :class:`~himed_rewards.RewardConfig` of the semantic and HiMed
            metrics.
        step: schedule step of the reward; None: the schedule's final step.
        bertscore: the scorer of the ``"bertscore"`` metric, from
            :func:`~himed_rewards.evaluation.bertscore.load_bertscore`.
        chexbert: the labeler of the ``"chexbert_f1_*"`` metrics, from
            :func:`~himed_rewards.evaluation.chexbert.load_chexbert`.
        radgraph: the annotator of the ``"radgraph_*"`` metrics, from
            :func:`~himed_rewards.evaluation.radgraph.load_radgraph`.
        green: the scorer of the ``"green"`` metric, from
            :func:`~himed_rewards.evaluation.green.load_green`; a sample whose GREEN answer
            is unparseable has None and is left out of the corpus mean.

    Examples:
        >>> ev = Evaluator(["bleu4", "rougeL", "f1_micro"])
        >>> result = ev(["No acute disease.", "Small left effusion."],
        ...             ["No acute disease.", "Small left pleural effusion."])
        >>> round(result.corpus["rougeL"], 3), [round(v, 3) for v in result.per_sample["rougeL"]]
        (0.929, [1.0, 0.857])
        >>> result.per_sample["f1_micro"]
        [1.0, 1.0]
    """

    def __init__(self, metrics: Sequence[str] = DEFAULT_METRICS, *, convention: str = "default",
                 reward_config: object | None = None, step: int | None = None,
                 bertscore: Callable[[list[str], list[str]], list[float]] | None = None,
                 chexbert: Callable[[Sequence[str]], object] | None = None,
                 radgraph: Callable[[Sequence[str]], Sequence] | None = None,
                 green: Callable[[list[str], list[str]], list[float | None]] | None = None
                 ) -> None:
        if isinstance(metrics, str) or not isinstance(metrics, Sequence) or not metrics:
            raise TypeError(f"metrics must be a non-empty list of metric names, got {metrics!r}")
        available = available_metrics(convention)
        unknown = [m for m in metrics if m not in available]
        if unknown:
            raise ValueError(f"metrics {unknown} are not available under convention "
                             f"{convention!r}; available: {', '.join(available)}")
        if "bertscore" in metrics and bertscore is None:
            raise ValueError("metric 'bertscore' needs bertscore=load_bertscore(...) (the "
                             "bert-score package and a local model)")
        if any(m.startswith("chexbert_") for m in metrics) and chexbert is None:
            raise ValueError("CheXbert metrics need chexbert=load_chexbert(...) (torch, "
                             "transformers and the CheXbert checkpoint)")
        if any(m.startswith("radgraph_") for m in metrics) and radgraph is None:
            raise ValueError("RadGraph metrics need radgraph=load_radgraph(...) (the radgraph "
                             "package and a local RadGraph model)")
        if "green" in metrics and green is None:
            raise ValueError("metric 'green' needs green=load_green(...) (torch, transformers "
                             "and a GREEN model on disk)")
        self.metrics = tuple(dict.fromkeys(metrics))
        self.green = green
        self.bertscore = bertscore
        self.chexbert = chexbert
        self.radgraph = radgraph
        self.convention = convention
        self.reward_config = reward_config
        self.step = step

    def __repr__(self) -> str:
        return f"Evaluator(metrics={list(self.metrics)!r}, convention={self.convention!r})"

    def __call__(self, hypotheses: Sequence[str], references: Sequence[str]) -> EvaluatorResult:
        """Corpus and per-sample scores of ``hypotheses`` against ``references``.

        Args:
            hypotheses: generated reports.
            references: one reference report per hypothesis.

        Returns:
            An :class:`EvaluatorResult`.
        """
        if isinstance(hypotheses, str) or isinstance(references, str):
            raise TypeError("hypotheses and references must be lists of reports, not str")
        only = set(self.metrics)
        if "meteor" in only and get_convention(self.convention).family == "coco":
            only.add("meteor_seg")  # the jar's per-segment scores are meteor's per-sample
        stats = compute_statistics(hypotheses, references, convention=self.convention,
                                   reward_config=self.reward_config, step=self.step,
                                   only=only, bertscore=self.bertscore,
                                   chexbert=self.chexbert,  # type: ignore[arg-type]
                                   radgraph=self.radgraph, green=self.green)
        corpus: dict[str, float | None] = {}
        per_sample: dict[str, list[float | None]] = {}
        for name in self.metrics:
            metric = stats.metrics.get(name)
            if metric is None:  # e.g. semantic axes with the semantic level switched off
                corpus[name] = None
                per_sample[name] = [None] * len(hypotheses)
                continue
            corpus[name] = metric.value()
            if metric.columns is None:  # the METEOR jar's corpus score
                per_sample[name] = list(stats.per_sample["meteor_seg"])
            else:
                per_sample[name] = _per_sample(metric)
        return EvaluatorResult(corpus, per_sample, self.convention, self.metrics)
