"""The low-level reward's columns of a batch in one kernel call (``kernels/reward.py``).

This is the common case of ``score_batch``: the default tokenizer and the paper's keyword
bonus, with no grounding and no negation. It gives the floats that the metric front doors
(``bleu_from_layout``, ``rouge_l_from_layout``, ``meteor_from_layout``) and
``keyword_bonus_columns`` give, without the Python between them.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels.reward import low_level_columns
from himed_rewards.metrics._layout import Layout, scratch
from himed_rewards.metrics.bleu import _options
from himed_rewards.metrics.meteor import _check_parameters
from himed_rewards.rewards.config import RewardConfig
from himed_rewards.rewards.keywords import KeywordVocabulary, _check_weight, _names_by_report
from himed_rewards.text.wordnet import METEOR_KEYS

__all__ = ["fused_columns", "name_non_finite"]


def name_non_finite(token: np.ndarray, rouge: np.ndarray, meteor: np.ndarray) -> None:
    """Raise ``FloatingPointError`` naming the first of the three score columns that holds a
    NaN or an infinity (the kernels never produce one: a guard, for either path).

    Examples:
        >>> name_non_finite(np.array([0.5]), np.array([np.nan]), np.array([0.5]))
        Traceback (most recent call last):
        ...
        FloatingPointError: rouge_l produced a non-finite score
    """
    for name, values in (("token", token), ("rouge_l", rouge), ("meteor", meteor)):
        if not np.isfinite(values).all():
            raise FloatingPointError(f"{name} produced a non-finite score")


def fused_columns(layout: Layout, formats: list[float], config: RewardConfig,
                  vocabulary: KeywordVocabulary) -> tuple[np.ndarray, list[tuple[str, ...]]] | None:
    """``(columns, matched)``: the float64 ``(7, n)`` rows of ``kernels.reward.COLUMNS``,
    and each report's matched keyword names, sorted. None when the batch needs the metrics'
    own paths: a reference that is too long for the common LCS kernel. ``layout``'s
    hypotheses must be interned with the default tokenizer, as the keyword trie is.

    Raises:
        FloatingPointError: a metric produced a non-finite score.

    Examples:
        >>> from himed_rewards.metrics._layout import build_layout
        >>> from himed_rewards.text.tokenizers import get_tokenizer
        >>> layout = build_layout(["small left effusion"], [("small effusion",)],
        ...                       get_tokenizer("default"))
        >>> columns, matched = fused_columns(layout, [1.0], RewardConfig(semantic=None),
        ...                                  KeywordVocabulary.default())
        >>> columns.shape, matched
        ((7, 1), [('effusion',)])
    """
    n = layout.hyp_group.shape[0]
    if n == 0:
        return None
    max_order, smooth, smooth_value, mean = _options(config.bleu_max_order, config.bleu_smooth,
                                                     None, config.bleu_mean)
    alpha, beta, gamma = _check_parameters(config.meteor_alpha, config.meteor_beta,
                                           config.meteor_gamma)
    keyword_beta = _check_weight(config.keyword_beta, "beta")
    keyword_cap = _check_weight(config.keyword_cap, "cap")
    lower, stem, syn_start, syn_end, syn = METEOR_KEYS.arrays(layout.hyp_ids, layout.ref_ids)
    trie = vocabulary.trie()
    columns = np.empty((7, n), dtype=np.float64)
    ok, finite, keyword_offsets, ranks = low_level_columns(
        layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
        layout.group_ref_offsets, layout.group_hyp_offsets, layout.hyp_index, layout.hyp_group,
        scratch(), max_order, smooth, smooth_value, True, mean, lower, stem, syn_start, syn_end,
        syn, METEOR_KEYS.head(), alpha, beta, gamma, trie.root_child, trie.child_start,
        trie.child_token, trie.child_node, trie.node_keyword, trie.n_keywords, trie.child_mask,
        vocabulary.name_rank(), keyword_beta, keyword_cap, np.array(formats, dtype=np.float64),
        config.w_token, config.w_concept, config.w_format, columns,
    )  # fmt: skip
    if not ok:
        return None
    if not finite:
        name_non_finite(*columns[:3])
    return columns, _names_by_report(vocabulary, keyword_offsets, ranks)
