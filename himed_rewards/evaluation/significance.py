"""Paired significance tests between two systems on the same references.

Both follow sacrebleu 2.x (``sacrebleu/significance.py``), on the per-sample statistics of
:mod:`himed_rewards.evaluation.statistics` instead of rescoring:

* ``"paired-bs"`` (paired bootstrap resampling, Koehn 2004): both systems are scored on the
  same resamples; the statistic ``|score_sys - score_baseline|`` is centred on its mean
  and the p-value is ``(#{centred > observed} + 1) / (B + 1)``.
* ``"paired-ar"`` (approximate randomization, Riezler & Maxwell 2005): in each trial every
  sample's pair of outputs is swapped between the systems with probability 1/2; the p-value
  is ``(#{|score_a - score_b| > observed} + 1) / (B + 1)``.

The p-value is two-sided: it asks whether the systems differ, not which is better. One
deviation from sacrebleu: when the two corpus scores are equal the p-value is 1.0 (sacrebleu's
strict ``>`` would give ``1 / (B + 1)`` for two identical systems, "significant").
"""

from __future__ import annotations

import numpy as np

from himed_rewards.evaluation.bootstrap import DEFAULT_SEED, _check_int
from himed_rewards.evaluation.statistics import Metric

__all__ = ["TESTS", "paired_p_value", "randomization_masks"]

TESTS = ("paired-bs", "paired-ar")


def _p_value(stats: np.ndarray, observed: float) -> float:
    # multeval's rule (sacrebleu copies it): strict '>' and +1 in numerator and denominator
    return (int(np.sum(stats > observed)) + 1) / (stats.size + 1)


def randomization_masks(n_samples: int, n_trials: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """``(n_trials, n_samples)`` 0/1 masks: 1 keeps a sample's outputs, 0 swaps them.

    Examples:
        >>> m = randomization_masks(4, 2, seed=1)
        >>> m.shape, set(m.ravel().tolist()) <= {0, 1}
        ((2, 4), True)
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_trials = _check_int(n_trials, "n_trials", 1)
    rng = np.random.default_rng(_check_int(seed, "seed", 0))
    # bool draws, as sacrebleu makes them, so the same seed gives the same trials
    return rng.integers(2, size=(n_trials, n_samples), dtype=bool).astype(np.int64)


def paired_p_value(baseline: Metric, system: Metric, test: str,
                   weights: np.ndarray) -> float | None:
    """p-value that ``system`` and ``baseline`` differ on this metric.

    ``weights`` are the bootstrap draw counts (``"paired-bs"``) or the randomization masks
    (``"paired-ar"``), shared by every metric. None when the metric has no per-sample
    statistics (a point-only metric).

    Examples:
        >>> from himed_rewards.evaluation.bootstrap import bootstrap_weights
        >>> from himed_rewards.evaluation.statistics import compute_statistics
        >>> refs = ["no effusion", "mild edema", "clear lungs", "small effusion"] * 5
        >>> a = compute_statistics(refs, refs).metrics["rougeL"]
        >>> b = compute_statistics(["heart is normal"] * 20, refs).metrics["rougeL"]
        >>> paired_p_value(a, b, "paired-bs", bootstrap_weights(20, 200)) < 0.05
        True
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {', '.join(TESTS)}, got {test!r}")
    if baseline.name != system.name:
        raise ValueError(f"cannot compare metric {baseline.name!r} with {system.name!r}")
    if baseline.columns is None or system.columns is None:
        return None
    if baseline.columns.shape != system.columns.shape:
        raise ValueError(f"{baseline.name}: systems were scored on different numbers of "
                         f"samples ({baseline.columns.shape[0]} and {system.columns.shape[0]})")
    a_value, b_value = baseline.value(), system.value()
    if a_value is None or b_value is None:
        return None
    observed = abs(b_value - a_value)
    if observed == 0.0:
        return 1.0  # nothing to explain: identical scores are never a significant difference
    if test == "paired-bs":
        diffs = np.abs(system.resampled(weights) - baseline.resampled(weights))
        diffs = diffs[~np.isnan(diffs)]
        return _p_value(diffs - diffs.mean(), observed)
    keep, swap = weights, 1 - weights
    finalize = baseline.finalize
    assert finalize is not None  # columns is not None
    shuffled_a = finalize(keep @ baseline.columns + swap @ system.columns)
    shuffled_b = finalize(swap @ baseline.columns + keep @ system.columns)
    diffs = np.abs(shuffled_a - shuffled_b)
    return _p_value(diffs[~np.isnan(diffs)], observed)
