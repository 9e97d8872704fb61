"""Evaluate several systems on the same references: scores, intervals, p-values, signature."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from himed_rewards.evaluation.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_weights,
    confidence_interval,
)
from himed_rewards.evaluation.signature import evaluation_signature
from himed_rewards.evaluation.significance import TESTS, paired_p_value, randomization_masks
from himed_rewards.evaluation.statistics import compute_statistics, stage_names
from himed_rewards.evaluation.steps import resolve_step

__all__ = ["MetricResult", "EvaluationResult", "evaluate", "TABLE_ORDER"]

#: Column order of the Table-3 layout (metrics a run does not have are skipped).
TABLE_ORDER = ("bleu1", "bleu2", "bleu3", "bleu4", "cxr_bleu2", "rougeL", "meteor",
               "meteor_seg", "rouge1", "rouge2", "f1_micro", "f1_macro", "chexbert_f1_micro",
               "chexbert_f1_macro", "sem_accuracy", "sem_relevance", "sem_completeness",
               "himed_low_level", "himed", "ratescore", "bertscore", "radgraph_simple",
               "radgraph_partial", "radgraph_complete", "green")


@dataclass(frozen=True)
class MetricResult:
    """One cell: corpus value, 95% interval (None: point value only), p-value vs baseline."""

    value: float | None
    ci: tuple[float, float] | None
    p_value: float | None

    def to_dict(self) -> dict:
        return {"value": self.value, "ci": list(self.ci) if self.ci else None,
                "p_value": self.p_value}


@dataclass
class EvaluationResult:
    """Scores of every system (the first is the baseline) and how they were computed."""

    systems: list[str]
    labels: dict[str, str]
    scores: dict[str, dict[str, MetricResult]]
    signature: dict
    ids: list[str] = field(default_factory=list)
    per_sample: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        """Metric names present for every system, in table order."""
        return [m for m in TABLE_ORDER if all(m in self.scores[s] for s in self.systems)]

    def to_dict(self) -> dict:
        """JSON-ready: signature, labels, and one entry per system and metric."""
        return {"signature": self.signature, "baseline": self.systems[0],
                "labels": {m: self.labels[m] for m in self.metrics},
                "systems": {s: {m: self.scores[s][m].to_dict() for m in self.metrics}
                            for s in self.systems}}


def evaluate(
    systems: Mapping[str, Sequence[str]],
    references: Sequence[str],
    *,
    ids: Sequence[str] | None = None,
    convention: str = "default",
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    test: str = "paired-bs",
    reward_config: object | None = None,
    step: int | None = None,
    lowercase: bool = False,
    ratescore: Callable[[list[str], list[str]], list[float]] | None = None,
    ratescore_info: dict | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    bertscore: Callable[[list[str], list[str]], list[float]] | None = None,
    bertscore_info: dict | None = None,
    chexbert: Callable[[Sequence[str]], object] | None = None,
    chexbert_info: dict | None = None,
    radgraph: Callable[[Sequence[str]], Sequence] | None = None,
    radgraph_info: dict | None = None,
    green: Callable[[list[str], list[str]], list[float | None]] | None = None,
    green_info: dict | None = None,
) -> EvaluationResult:
    """Score every system, with paired bootstrap intervals and p-values vs the first system.

    Per-sample statistics are computed once per system; intervals and tests reuse them.

    Args:
        systems: system name -> predictions aligned with ``references`` (the first system is
            the baseline of the significance tests).
        references: one reference report per sample.
        ids: sample ids for the per-sample output (default ``"0"``, ``"1"``, ...).
        convention: how BLEU/ROUGE/METEOR are computed, one of
            :data:`~himed_rewards.evaluation.CONVENTIONS` (``"r2gen"`` for R2Gen-style tables).
        n_resamples: bootstrap resamples and randomization trials.
        seed: resampling seed.
        test: ``"paired-bs"`` or ``"paired-ar"``.
        reward_config: the :class:`~himed_rewards.RewardConfig` of the HiMed reward columns.
        step: schedule step of the reward; None (default) means the schedule's final step
            (see :mod:`himed_rewards.evaluation.steps`).
        lowercase: lowercase predictions and references before every metric.
        ratescore: optional ``(candidates, references) -> per-sample scores`` callable.
        ratescore_info: what to record about ``ratescore`` in the signature.
        progress: called as ``progress(done, total, stage)`` while computing (for bars).
        bertscore: optional ``(candidates, references) -> per-sample BERTScore`` callable.
        bertscore_info: what to record about ``bertscore`` in the signature.
        chexbert: optional CheXbert labeler (CheXbert F1 columns).
        chexbert_info: what to record about ``chexbert`` in the signature.
        radgraph: optional RadGraph annotator (RadGraph F1 columns, simple/partial/complete).
        radgraph_info: what to record about ``radgraph`` in the signature.
        green: optional GREEN scorer (:func:`~himed_rewards.evaluation.green.load_green`).
        green_info: what to record about ``green`` in the signature.

    Returns:
        Scores with 95% intervals and p-values per system and metric, the reproducibility
        signature and the per-sample scores.

    Examples:
        >>> refs = ["No effusion.", "Mild edema.", "Lungs are clear.", "Cardiomegaly."] * 3
        >>> r = evaluate({"copy": refs, "normal": ["Lungs are clear."] * 12}, refs,
        ...              n_resamples=100)
        >>> r.scores["copy"]["bleu4"].value, r.scores["normal"]["rougeL"].p_value < 0.05
        (1.0, True)
    """
    from himed_rewards import RewardConfig

    if not systems:
        raise ValueError("systems must name at least one system")
    if test not in TESTS:
        raise ValueError(f"test must be one of {', '.join(TESTS)}, got {test!r}")
    def prepare(text: object) -> str:
        return str(text).lower() if lowercase else str(text)

    refs = [prepare(r) for r in references]
    for name, hyps in systems.items():
        if len(hyps) != len(refs):
            raise ValueError(f"system {name!r} has {len(hyps)} predictions for "
                             f"{len(refs)} references")
    config = reward_config if reward_config is not None else RewardConfig()
    step = resolve_step(step, config)
    stages = stage_names(ratescore is not None, bertscore is not None, chexbert is not None,
                         radgraph is not None, green is not None)
    total = len(systems) * len(stages) + 1
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        if progress is not None:
            progress(done, total, label)
        done += 1

    stats = {}
    for name, hyps in systems.items():
        stats[name] = compute_statistics(
            [prepare(h) for h in hyps], refs, convention=convention, reward_config=config,
            step=step, ratescore=ratescore, bertscore=bertscore, chexbert=chexbert,
            radgraph=radgraph, green=green,
            on_stage=lambda stage, n=name: tick(f"{n}: {stage}"))
    tick("intervals and tests")
    weights = bootstrap_weights(len(refs), n_resamples, seed)
    test_weights = weights if test == "paired-bs" else randomization_masks(
        len(refs), n_resamples, seed)
    names = list(systems)
    baseline = stats[names[0]].metrics
    scores: dict[str, dict[str, MetricResult]] = {}
    labels: dict[str, str] = {}
    for name in names:
        row = {}
        for key, metric in stats[name].metrics.items():
            labels[key] = metric.label
            p = None
            if name != names[0] and key in baseline:
                p = paired_p_value(baseline[key], metric, test, test_weights)
            row[key] = MetricResult(metric.value(), confidence_interval(metric, weights), p)
        scores[name] = row
    signature = evaluation_signature(
        convention=convention, lowercase=lowercase, n_resamples=n_resamples, seed=seed, test=test,
        reward_config_signature=config.signature(), step=step,  # type: ignore[attr-defined]
        n_samples=len(refs), ratescore=ratescore_info, bertscore=bertscore_info,
        chexbert=chexbert_info, radgraph=radgraph_info, green=green_info)
    if progress is not None:
        progress(total, total, "done")
    return EvaluationResult(names, labels, scores, signature,
                            ids=list(ids) if ids is not None else [str(i) for i in range(len(refs))],
                            per_sample={n: s.per_sample for n, s in stats.items()})
