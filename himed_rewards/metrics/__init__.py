"""Report-generation metrics, exact against their reference implementations.

Argument order is always ``(hypothesis, references)``; every score is in [0, 1]; inputs are
``str`` (tokenized by the metric's tokenizer) or sequences of ``str`` tokens (used as they
are). Batch forms score many pairs in one kernel call.
"""

from himed_rewards.metrics.bleu import (
    BleuScore,
    BleuStats,
    bleu_stats,
    corpus_bleu,
    sentence_bleu,
    sentence_bleu_batch,
)
from himed_rewards.metrics.meteor import meteor, meteor_batch
from himed_rewards.metrics.rouge import (
    RougeScore,
    lcs_batch,
    rouge_l,
    rouge_l_batch,
    rouge_n,
    rouge_n_batch,
)

__all__ = [
    "BleuScore",
    "BleuStats",
    "RougeScore",
    "bleu_stats",
    "corpus_bleu",
    "lcs_batch",
    "meteor",
    "meteor_batch",
    "rouge_l",
    "rouge_l_batch",
    "rouge_n",
    "rouge_n_batch",
    "sentence_bleu",
    "sentence_bleu_batch",
]
