"""Per-sample statistics of one system, computed once, and the corpus metrics built on them.

Every corpus metric of the evaluation is a function of **column sums** of a per-sample
matrix: BLEU of summed matches / totals / lengths, clinical F1 of summed TP / FP / FN, and
every averaged metric (ROUGE, METEOR, semantic axes, reward) of summed ``(value, present)``.
A resample is a weight vector over samples (how often each one is drawn), so the corpus
scores of ``B`` resamples are ``finalize(weights @ columns)``: one matrix product, no
rescoring. The conventions (:mod:`himed_rewards.evaluation.conventions`):

* ``"default"``: BLEU as sacrebleu 2.x ``corpus_bleu`` (tokenizer 13a, exp smoothing),
  ROUGE-1/2/L as rouge-score's F (no stemmer), METEOR as nltk's ``meteor_score``;
* ``"coco"``: what report-generation papers print with pycocoevalcap: ``Bleu(4)``
  (whitespace tokens), ``Rouge`` (ROUGE-L, beta 1.2), ``Meteor`` (METEOR 1.5 jar, Java).
  The jar's corpus METEOR is computed from its own aggregated statistics, not the mean of
  its per-segment scores; it is reported as ``meteor`` (point value only), and the mean of
  the jar's per-segment scores as ``meteor_seg`` with intervals and p-values.
  ROUGE-1/2 have no pycocoevalcap version: they stay rouge-score's in every convention;
* ``"r2gen"`` / ``"r2gen-mimic"``: R2Gen's cleaning of both sides, then ``"coco"``;
* ``"cxr-metric"``: ``cxr_bleu2``, the mean of CXR-Report-Metric's per-report BLEU-2,
  instead of BLEU-1..4; the rest as ``"default"``.

Clinical F1 is described in :mod:`himed_rewards.evaluation.chexpert`; the semantic axes and
the HiMed reward come from :func:`himed_rewards.score_batch` with the given configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from himed_rewards.evaluation.conventions import CONVENTIONS, get_convention

__all__ = ["CONVENTIONS", "METRIC_KEYS", "STAGE_KEYS", "Metric", "SystemStatistics",
           "compute_statistics", "stage_names"]

#: Stage -> the metric keys it produces (a stage runs when one of them is wanted).
STAGE_KEYS = {
    "BLEU": ("bleu1", "bleu2", "bleu3", "bleu4", "cxr_bleu2"),
    "ROUGE-L": ("rougeL",),
    "METEOR": ("meteor", "meteor_seg"),
    "ROUGE-1/2": ("rouge1", "rouge2"),
    "CheXpert F1": ("f1_micro", "f1_macro"),
    "reward and judge": ("sem_accuracy", "sem_relevance", "sem_completeness",
                         "himed_low_level", "himed"),
    "RaTEScore": ("ratescore",),
    "BERTScore": ("bertscore",),
    "CheXbert F1": ("chexbert_f1_micro", "chexbert_f1_macro"),
    "RadGraph F1": ("radgraph_simple", "radgraph_partial", "radgraph_complete"),
    "GREEN": ("green",),
}
#: Every metric key compute_statistics can produce (which ones depends on the convention).
METRIC_KEYS = tuple(key for keys in STAGE_KEYS.values() for key in keys)
_OPTIONAL_STAGES = ("RaTEScore", "BERTScore", "CheXbert F1", "RadGraph F1", "GREEN")
_STAGES = tuple(stage for stage in STAGE_KEYS if stage not in _OPTIONAL_STAGES)


def stage_names(ratescore: bool = False, bertscore: bool = False,
                chexbert: bool = False, radgraph: bool = False,
                green: bool = False) -> tuple[str, ...]:
    """The stages :func:`compute_statistics` reports to its ``on_stage`` callback, in order.

    Args:
        ratescore: whether a RaTEScore stage follows.
        bertscore: whether a BERTScore stage follows.
        chexbert: whether a CheXbert stage follows.
        radgraph: whether a RadGraph stage follows.
        green: whether a GREEN stage follows.

    Returns:
        Stage names.

    Examples:
        >>> stage_names()[:2]
        ('BLEU', 'ROUGE-L')
    """
    chosen = {"RaTEScore": ratescore, "BERTScore": bertscore, "CheXbert F1": chexbert,
              "RadGraph F1": radgraph, "GREEN": green}
    return _STAGES + tuple(stage for stage in _OPTIONAL_STAGES if chosen[stage])


@dataclass(frozen=True)
class Metric:
    """One corpus metric of one system: per-sample additive columns and their finaliser.

    ``columns`` is ``(n, k)``; ``finalize`` maps summed columns ``(B, k)`` to scores ``(B,)``
    (NaN where a resample leaves the metric undefined). ``columns is None`` marks a metric
    with a point value only (``point``), such as the METEOR 1.5 jar's corpus score.
    """

    name: str
    label: str
    columns: np.ndarray | None
    finalize: Callable[[np.ndarray], np.ndarray] | None
    point: float | None = None

    def resampled(self, weights: np.ndarray) -> np.ndarray:
        """Scores of the corpora given by ``weights`` ``(B, n)`` -> ``(B,)``."""
        if self.columns is None or self.finalize is None:
            raise ValueError(f"metric {self.name!r} has no per-sample statistics to resample")
        return self.finalize(weights @ self.columns)

    def value(self) -> float | None:
        """The corpus score (None when undefined, e.g. a reward missing for every sample)."""
        if self.columns is None:
            return self.point
        score = float(self.resampled(np.ones((1, self.columns.shape[0]),
                                             dtype=self.columns.dtype))[0])
        return None if np.isnan(score) else score


@dataclass
class SystemStatistics:
    """Everything computed for one system: its metrics and per-sample scores."""

    metrics: dict[str, Metric]
    per_sample: dict[str, list[float | None]] = field(default_factory=dict)


def _mean_columns(values: Sequence[float | None]) -> np.ndarray:
    present = np.array([v is not None for v in values], dtype=np.float64)
    vals = np.array([0.0 if v is None else float(v) for v in values], dtype=np.float64)
    return np.stack([vals, present], axis=1).reshape(-1, 2)


def _finalize_mean(sums: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sums[:, 1] > 0, sums[:, 0] / sums[:, 1], np.nan)


def _mean_metric(name: str, label: str, values: Sequence[float | None]) -> Metric:
    return Metric(name, label, _mean_columns(values), _finalize_mean)


def _bleu_finalizer(family: str, order: int) -> Callable[[np.ndarray], np.ndarray]:
    from himed_rewards.metrics.bleu import BleuStats, cumulative_bleu_from_stats

    bleu_convention = "coco" if family == "coco" else "sacrebleu"

    def finalize(sums: np.ndarray) -> np.ndarray:
        stats = BleuStats(sums[:, :4], sums[:, 4:8], sums[:, 8], sums[:, 9])
        return cumulative_bleu_from_stats(stats, convention=bleu_convention)[:, order - 1]

    return finalize


def _f1_finalizer(kind: str) -> Callable[[np.ndarray], np.ndarray]:
    from himed_rewards.evaluation.chexpert import macro_f1, micro_f1

    f1 = micro_f1 if kind == "micro" else macro_f1
    return lambda sums: f1(sums.reshape(sums.shape[0], 14, 3))


def compute_statistics(
    hypotheses: Sequence[str],
    references: Sequence[str],
    *,
    convention: str = "default",
    reward_config: object | None = None,
    step: int | None = None,
    ratescore: Callable[[list[str], list[str]], list[float]] | None = None,
    on_stage: Callable[[str], None] | None = None,
    only: Collection[str] | None = None,
    bertscore: Callable[[list[str], list[str]], list[float]] | None = None,
    chexbert: Callable[[Sequence[str]], np.ndarray] | None = None,
    radgraph: Callable[[Sequence[str]], Sequence] | None = None,
    green: Callable[[list[str], list[str]], list[float | None]] | None = None,
) -> SystemStatistics:
    """Per-sample statistics and corpus metrics of one system against its references.

    Args:
        hypotheses: the system's reports, aligned with ``references``.
        references: one reference report per hypothesis.
        convention: one of :data:`CONVENTIONS` (see the module docstring).
        reward_config: a :class:`~himed_rewards.RewardConfig` (default: ``RewardConfig()``,
            whose semantic level is the offline clinical judge).
        step: the schedule step of the reward; None: the schedule's final step.
        ratescore: optional callable ``(candidates, references) -> per-sample scores``.
        on_stage: called with each name of :func:`stage_names` as that stage starts (for
            progress bars).
        only: metric keys to compute (default all); stages none of them needs are skipped.
        bertscore: optional callable ``(candidates, references) -> per-sample BERTScore``
            (see :func:`~himed_rewards.evaluation.bertscore.load_bertscore`).
        chexbert: optional CheXbert labeler ``reports -> (n, 14) classes`` (see
            :func:`~himed_rewards.evaluation.chexbert.load_chexbert`) for CheXbert F1.
        radgraph: optional RadGraph annotator ``reports -> graphs`` (see
            :func:`~himed_rewards.evaluation.radgraph.load_radgraph`) for RadGraph F1.
        green: optional ``(candidates, references) -> per-sample GREEN`` (None where the
            model's answer is unparseable; see
            :func:`~himed_rewards.evaluation.green.load_green`).

    Returns:
        The system's corpus metrics (keyed ``bleu1``.. ``bleu4``, ``rougeL``, ``meteor``, ...)
        and its per-sample scores.

    Examples:
        >>> s = compute_statistics(["No acute disease.", "Mild cardiomegaly."],
        ...                        ["No acute disease.", "Heart is enlarged."])
        >>> round(s.metrics["rougeL"].value(), 4), s.metrics["f1_micro"].value()
        (0.5, 1.0)
    """
    from himed_rewards import RewardConfig, score_batch
    from himed_rewards.evaluation.chexpert import chexpert_counts
    from himed_rewards.metrics import bleu_stats, meteor_batch, rouge_l_batch, rouge_n_batch

    recipe = get_convention(convention)
    if only is not None:
        unknown = sorted(set(only) - set(METRIC_KEYS))
        if unknown:
            raise ValueError(f"only names unknown metrics {unknown}; known: "
                             f"{', '.join(METRIC_KEYS)}")

    def wanted(stage: str) -> bool:
        return only is None or any(key in only for key in STAGE_KEYS[stage])

    report = on_stage if on_stage is not None else (lambda stage: None)
    hyps, refs = list(hypotheses), list(references)
    if len(hyps) != len(refs) or not hyps:
        raise ValueError(f"hypotheses and references must be non-empty and aligned, got "
                         f"{len(hyps)} and {len(refs)}")
    coco = recipe.family == "coco"
    metrics: dict[str, Metric] = {}
    per_sample: dict[str, list[float | None]] = {}
    # The n-gram metrics read cleaned text; clinical F1 and the reward read the reports.
    ngram_hyps, ngram_refs = hyps, refs
    if recipe.clean is not None:
        ngram_hyps = [recipe.clean(h) for h in hyps]
        ngram_refs = [recipe.clean(r) for r in refs]

    if wanted("BLEU"):
        report("BLEU")
        if recipe.cxr_bleu:
            from himed_rewards.evaluation.cxr_metric import cxr_metric_bleu

            per_sample["cxr_bleu2"] = cxr_metric_bleu(ngram_hyps, ngram_refs).tolist()
            metrics["cxr_bleu2"] = _mean_metric("cxr_bleu2", "B2-CXR", per_sample["cxr_bleu2"])
        else:
            stats = bleu_stats(ngram_hyps, ngram_refs, tokenize="whitespace" if coco else "13a")
            bleu_cols = np.concatenate([stats.matches, stats.totals, stats.hyp_lens[:, None],
                                        stats.ref_lens[:, None]], axis=1).astype(np.int64)
            for order in range(1, 5):
                metrics[f"bleu{order}"] = Metric(f"bleu{order}", f"B{order}", bleu_cols,
                                                 _bleu_finalizer(recipe.family, order))

    if wanted("ROUGE-L"):
        report("ROUGE-L")
        rouge_l = rouge_l_batch(ngram_hyps, ngram_refs,
                                convention="coco" if coco else "rouge-score").fmeasure
        per_sample["rougeL"] = rouge_l.tolist()
        metrics["rougeL"] = _mean_metric("rougeL", "RG-L", per_sample["rougeL"])

    if wanted("METEOR"):
        report("METEOR")
        if coco:
            segment, corpus = _coco_meteor(ngram_hyps, ngram_refs)
            metrics["meteor"] = Metric("meteor", "METEOR", None, None, point=corpus)
            per_sample["meteor_seg"] = segment
            metrics["meteor_seg"] = _mean_metric("meteor_seg", "METEOR-seg", segment)
        else:
            per_sample["meteor"] = [float(v) for v in meteor_batch(ngram_hyps, ngram_refs)]
            metrics["meteor"] = _mean_metric("meteor", "METEOR", per_sample["meteor"])

    if wanted("ROUGE-1/2"):
        report("ROUGE-1/2")
        for n in (1, 2):
            per_sample[f"rouge{n}"] = rouge_n_batch(ngram_hyps, ngram_refs, n=n).fmeasure.tolist()
            metrics[f"rouge{n}"] = _mean_metric(f"rouge{n}", f"RG-{n}", per_sample[f"rouge{n}"])

    if wanted("CheXpert F1"):
        report("CheXpert F1")
        counts = chexpert_counts(hyps, refs).reshape(len(hyps), 42)
        metrics["f1_micro"] = Metric("f1_micro", "F1-mic", counts, _f1_finalizer("micro"))
        metrics["f1_macro"] = Metric("f1_macro", "F1-mac", counts, _f1_finalizer("macro"))

    if wanted("reward and judge"):
        report("reward and judge")
        from himed_rewards.evaluation.steps import resolve_step

        config = reward_config if reward_config is not None else RewardConfig()
        breakdowns = score_batch(hyps, refs, step=resolve_step(step, config),
                                 config=config)  # type: ignore[arg-type]
        for name, label, attr in (("sem_accuracy", "Sem-Acc", "semantic_accuracy"),
                                  ("sem_relevance", "Sem-Rel", "semantic_relevance"),
                                  ("sem_completeness", "Sem-Comp", "semantic_completeness"),
                                  ("himed_low_level", "HiMed-low", "low_level"),
                                  ("himed", "HiMed", "total")):
            values = [getattr(b, attr) for b in breakdowns]
            per_sample[name] = values
            if any(v is not None for v in values):  # a switched-off semantic level has no axes
                metrics[name] = _mean_metric(name, label, values)

    # per-sample scores from a model that reads the reports: (key, table label, progress name)
    for scorer, key, label, shown in ((ratescore, "ratescore", "RATE", "RaTEScore"),
                                      (bertscore, "bertscore", "BERTScore", "BERTScore")):
        if scorer is not None and wanted(shown):
            report(shown)
            values = [float(v) for v in scorer(hyps, refs)]
            if len(values) != len(hyps):
                raise ValueError(f"{key} returned {len(values)} scores for {len(hyps)} pairs")
            per_sample[key] = values
            metrics[key] = _mean_metric(key, label, values)

    if chexbert is not None and wanted("CheXbert F1"):
        from himed_rewards.evaluation.chexbert import chexbert_counts

        report("CheXbert F1")
        labels = np.asarray(chexbert(hyps + refs))  # one pass over both sides
        counts = chexbert_counts(labels[:len(hyps)], labels[len(hyps):])
        counts = counts.reshape(len(hyps), 42)
        metrics["chexbert_f1_micro"] = Metric("chexbert_f1_micro", "CXB-F1-mic", counts,
                                              _f1_finalizer("micro"))
        metrics["chexbert_f1_macro"] = Metric("chexbert_f1_macro", "CXB-F1-mac", counts,
                                              _f1_finalizer("macro"))

    if radgraph is not None and wanted("RadGraph F1"):
        from himed_rewards.evaluation.radgraph import RADGRAPH_LEVELS, radgraph_f1_batch

        report("RadGraph F1")
        scores = radgraph_f1_batch(hyps, refs, radgraph)  # the package's mean of per-pair F1
        for column, level in enumerate(RADGRAPH_LEVELS):
            name = f"radgraph_{level}"
            per_sample[name] = scores[:, column].tolist()
            metrics[name] = _mean_metric(name, f"RGF1-{level[:4]}", per_sample[name])
    if green is not None and wanted("GREEN"):
        report("GREEN")
        scores = list(green(hyps, refs))  # None: unparseable answer, left out of the mean
        if len(scores) != len(hyps):
            raise ValueError(f"green returned {len(scores)} scores for {len(hyps)} pairs")
        per_sample["green"] = [None if v is None else float(v) for v in scores]
        if any(v is not None for v in scores):  # no parseable answer: no GREEN column
            metrics["green"] = _mean_metric("green", "GREEN", per_sample["green"])
    return SystemStatistics(metrics, per_sample)


def _coco_meteor(hyps: list[str], refs: list[str]) -> tuple[list[float], float]:
    """pycocoevalcap's METEOR 1.5: per-segment scores and the jar's corpus score."""
    # The metrics module owns the one JVM; reuse it (and its one-line-per-text rule).
    from himed_rewards.metrics.meteor import _coco_line, _coco_scorer

    scorer = _coco_scorer()
    gts = {i: [_coco_line(r)] for i, r in enumerate(refs)}
    res = {i: [_coco_line(h)] for i, h in enumerate(hyps)}
    corpus, segments = scorer.compute_score(gts, res)  # type: ignore[attr-defined]
    return [float(s) for s in segments], float(corpus)
