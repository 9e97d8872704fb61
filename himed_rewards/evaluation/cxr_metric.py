"""CXR-Report-Metric's BLEU (rajpurkarlab/CXR-Report-Metric ``CXRMetric/run_eval.py``).

Its published per-report ``bleu_score`` is reproduced only with its own tokenisation and
smoothing, which differ from sacrebleu and pycocoevalcap:

* tokens: lowercase, ``.replace(".", " .")``, split on single spaces, empty tokens dropped
  (commas and other punctuation stay attached to words);
* BLEU-2 of one report against its one reference (fast_bleu, weights 1/2, 1/2) with NLTK's
  ``method1`` smoothing: a zero bigram count becomes 0.1 / (hypothesis bigrams, at least 1);
  no unigram match gives 0; brevity penalty ``exp(1 - r / c)`` when ``c <= r``.

The corpus figure that work prints is the mean of the per-report scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from himed_rewards.text.tokenizers import Tokenizer

__all__ = ["CxrMetricTokenizer", "cxr_metric_bleu"]

_EPSILON = 0.1  # NLTK method1 / fast_bleu smooth_1


class CxrMetricTokenizer(Tokenizer):
    """CXR-Report-Metric's ``prep_reports``: lowercase, ``" ."`` split off, single spaces.

    Examples:
        >>> CxrMetricTokenizer()("No effusion,  pneumothorax.Heart normal.")
        ['no', 'effusion,', 'pneumothorax', '.heart', 'normal', '.']
    """

    name = "cxr-metric"

    def _tokenize(self, text: str) -> list[str]:
        return [t for t in text.lower().replace(".", " .").split(" ") if t]


def cxr_metric_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per-report BLEU-2 as CXR-Report-Metric computes it (its ``bleu_score`` column).

    Args:
        hypotheses: generated reports.
        references: one reference report per hypothesis.

    Returns:
        ``(n,)`` float64 scores in [0, 1]; their mean is the corpus figure.

    Examples:
        >>> cxr_metric_bleu(["The lungs are clear.", "No effusion."],
        ...                 ["Lungs are clear.", "Small effusion."]).round(4).tolist()
        [0.7746, 0.5774]
    """
    from himed_rewards.metrics import bleu_stats

    stats = bleu_stats(hypotheses, references, max_order=2, tokenize=CxrMetricTokenizer())
    totals = np.maximum(stats.totals, 1).astype(np.float64)
    matches = stats.matches.astype(np.float64)
    precisions = np.where(matches > 0, matches, _EPSILON) / totals
    hyp_len = stats.hyp_lens.astype(np.float64)
    ref_len = stats.ref_lens.astype(np.float64)
    with np.errstate(divide="ignore"):
        brevity = np.where(hyp_len > ref_len, 1.0,
                           np.exp(1.0 - ref_len / np.maximum(hyp_len, 1.0)))
        score = brevity * np.exp(0.5 * np.log(precisions[:, 0]) + 0.5 * np.log(precisions[:, 1]))
    return np.where(stats.matches[:, 0] > 0, score, 0.0)
