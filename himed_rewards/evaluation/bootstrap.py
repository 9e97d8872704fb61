"""Bootstrap resampling weights and percentile confidence intervals.

A resample is represented by how many times each sample is drawn (an ``int64`` weight row),
so scoring ``B`` resamples is one matrix product with the per-sample statistics of
:mod:`himed_rewards.evaluation.statistics`. The same weights are shared by every metric and
every system, which makes the resampling *paired*.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.evaluation.statistics import Metric

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "bootstrap_weights", "confidence_interval"]

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 12345  # sacrebleu's default SACREBLEU_SEED


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def bootstrap_weights(n_samples: int, n_resamples: int = DEFAULT_RESAMPLES,
                      seed: int = DEFAULT_SEED) -> np.ndarray:
    """``(n_resamples, n_samples)`` draw counts of sampling indices with replacement.

    The indices are drawn as sacrebleu does (``default_rng(seed).choice(n, (B, n))``).

    Examples:
        >>> w = bootstrap_weights(5, 3, seed=0)
        >>> w.shape, w.sum(axis=1).tolist()
        ((3, 5), [5, 5, 5])
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_resamples = _check_int(n_resamples, "n_resamples", 1)
    seed = _check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    indices = rng.choice(n_samples, size=(n_resamples, n_samples), replace=True)
    weights = np.zeros((n_resamples, n_samples), dtype=np.int64)
    np.add.at(weights, (np.arange(n_resamples)[:, None], indices), 1)
    return weights


def confidence_interval(metric: Metric, weights: np.ndarray,
                        level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of ``metric`` over the resamples ``weights``.

    Returns None for a metric without per-sample statistics. Resamples where the metric is
    undefined (e.g. no clinical finding at all) are left out; if that is more than half of
    them the interval is undefined and a ``ValueError`` says so.

    Examples:
        >>> from himed_rewards.evaluation.statistics import compute_statistics
        >>> s = compute_statistics(["no effusion", "mild edema", "clear lungs"],
        ...                        ["no effusion", "edema", "lungs are clear"])
        >>> lo, hi = confidence_interval(s.metrics["rougeL"], bootstrap_weights(3, 200))
        >>> 0 <= lo <= s.metrics["rougeL"].value() <= hi <= 1
        True
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if metric.columns is None:
        return None
    scores = metric.resampled(weights)
    defined = scores[~np.isnan(scores)]
    if defined.size * 2 < scores.size:
        raise ValueError(f"{metric.name}: undefined in {scores.size - defined.size} of "
                         f"{scores.size} resamples; no confidence interval")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(defined, [tail, 100 - tail])
    return float(lo), float(hi)
