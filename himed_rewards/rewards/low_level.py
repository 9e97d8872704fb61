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
from himed_rewards.rewards.keywords import KeywordVocabulary, _check_weight
from himed_rewards.text.wordnet import METEOR_KEYS

__all__ = ["fused_columns"]


def fused_columns(layout: Layout, formats: list[float], config: RewardConfig,
                  vocabulary: KeywordVocabulary) -> tuple[np.ndarray, list[tuple[str, ...]]] | None:
    """``(columns, matched)``: the float64 ``(7, n)`` rows of ``kernels.reward.COLUMNS``,
    and each report's matched keyword names, sorted. None when the batch needs the metrics'
    own paths: a reference that is too long for the common LCS kernel. ``layout``'s
    hypotheses must be interned with the default tokenizer, as the keyword trie is.

    Raises:
        FloatingPointError: a metric produced a non-finite score.
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
    if not finite:  # kernels never produce these; name the column, as compose does
        for name, values in zip(("token", "rouge_l", "meteor"), columns[:3], strict=True):
            if not np.isfinite(values).all():
                raise FloatingPointError(f"{name} produced a non-finite score")
    names = vocabulary._sorted_name_array()[ranks].tolist()
    bounds = keyword_offsets.tolist()
    matched = [tuple(names[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return columns, matched
