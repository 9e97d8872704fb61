"""The low-level reward's columns for a whole batch in one kernel call.

``score_batch`` used to call BLEU, ROUGE-L, METEOR and the keyword matcher one after the
other, with numpy work on 512-element arrays in between. On fresh GRPO batches that Python
cost as much as some of the kernels: about 0.6 us per pair out of 6.9, right after another
program has used the caches, as it has in training. ``low_level_columns`` calls the same
kernels, in parts (ROUGE-L; METEOR; BLEU and the keywords; the sums), which
``rewards.low_level`` also calls one by one, to run BLEU and the keywords on another thread
than the others. It does the arithmetic that the metric front doors and ``rewards.compose``
do between them one element at a time, operation for operation, so the floats are the same:

* BLEU (``metrics.bleu._scores``): clipped n-gram matches, totals ``max(len - k, 0)``, the
  closest reference length, ``bleu_rows``, then ``min(score / 100, 1)``.
* ROUGE-L F (``metrics.rouge._one_reference_each``): ``p = lcs / max(len_h, 1)``,
  ``r = lcs / max(len_r, 1)``, and ``2 * p * r / (p + r)``, where ``p + r`` is taken as 1 when
  the LCS is 0.
* METEOR (``meteor_batch_scores``).
* The keyword bonus (``rewards.keywords.keyword_bonus_columns``): ``min(beta * count, cap)``.
  Each report's keywords are sorted by the rank of their names.
* The sums of ``rewards.compose``: ``concept_base = rouge + meteor``,
  ``concept = concept_base + bonus``, and
  ``low = w_token * token + w_concept * concept + w_format * format``.
"""

from __future__ import annotations

import math

import numpy as np

from himed_rewards.kernels._config import kernel
from himed_rewards.kernels.bleu import bleu_rows, closest_ref_lens
from himed_rewards.kernels.keywords import distinct_keywords_batch
from himed_rewards.kernels.lcs import DENSE_WORDS, _lcs_dense_pairs
from himed_rewards.kernels.meteor import meteor_batch_scores
from himed_rewards.kernels.ngrams import ngram_matches

__all__ = ["COLUMNS", "low_level_columns", "meteor_columns", "rouge_columns", "sum_columns",
           "token_keyword_columns"]

#: The rows of ``low_level_columns``' ``columns``, in order (RewardBreakdown's names).
COLUMNS = ("token", "rouge_l", "meteor", "concept_base", "keyword_bonus", "concept", "low_level")


@kernel
def _sort_small(values, start, stop):
    """Insertion sort of ``values[start:stop]`` (a report's few keyword ranks)."""
    for i in range(start + 1, stop):
        v = values[i]
        j = i - 1
        while j >= start and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v


@kernel(nogil=True)  # (rewards.threads scores chunks of a batch at once, each its own buffers)
def low_level_columns(
    hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets, group_hyp_offsets, hyp_index,
    hyp_group, local_of, max_order, smooth, smooth_value, effective_order, mean, lower_key,
    stem_key, syn_start, syn_end, syn_keys, head, alpha, beta, gamma, root_child, child_start,
    child_token, child_node, node_keyword, n_keywords, child_mask, name_rank, keyword_beta,
    keyword_cap, formats, w_token, w_concept, w_format, columns,
):
    """Fill ``columns`` (float64, ``(7, n_hyps)``, rows as :data:`COLUMNS`) for a batch laid
    out with one reference per group (``metrics._layout``).

    The arguments are, in order:
    * the layout's arrays;
    * ``local_of``: an all -1 id scratch like ``metrics._layout.scratch``, this thread's own
      (the kernel releases the GIL);
    * BLEU's options, as ``metrics.bleu._options`` codes them;
    * METEOR's key tables and a ``head`` scratch like ``MeteorKeys.head``, this thread's
      own, then alpha, beta and gamma;
    * the keyword trie's arrays and ``name_rank``, then the bonus's beta and cap;
    * ``formats``, the format rewards;
    * the three weights.

    Returns ``(ok, finite, keyword_offsets, keyword_ranks)``:
    * ``ok``: False when a group has several references, or a reference needs the rare LCS
      kernel. ``columns`` is then not filled, and the caller takes the metrics' own paths.
    * ``finite``: whether every ``token + rouge + meteor`` is finite.
    * Report ``h``'s matched keywords are the ranks
      ``keyword_ranks[keyword_offsets[h]:keyword_offsets[h + 1]]``, ascending.

    It calls its parts in turn; ``rewards.low_level`` calls them itself to run BLEU and the
    keywords on one thread and ROUGE-L and METEOR on another.
    """
    none = np.zeros(1, dtype=np.int64)
    # ROUGE-L first, since it is the one step that can decline
    if not rouge_columns(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets,
                         hyp_index, hyp_group, local_of, columns):
        return False, True, none, none
    meteor_columns(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets, hyp_group,
                   lower_key, stem_key, syn_start, syn_end, syn_keys, head, alpha, beta, gamma,
                   columns)
    keyword_offsets, ranks = token_keyword_columns(
        hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets, group_hyp_offsets,
        hyp_index, hyp_group, local_of, max_order, smooth, smooth_value, effective_order, mean,
        root_child, child_start, child_token, child_node, node_keyword, n_keywords, child_mask,
        name_rank, keyword_beta, keyword_cap, columns)
    finite = sum_columns(columns, formats, w_token, w_concept, w_format)
    return True, finite, keyword_offsets, ranks


@kernel(nogil=True)
def rouge_columns(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets, hyp_index,
                  hyp_group, local_of, columns):
    """ROUGE-L F: row 1 of ``columns`` (arguments as :func:`low_level_columns`'). False,
    with nothing written, when a group has several references or a reference needs the rare
    LCS kernel (the check here, not in the caller's numpy: on the cold caches of a training
    step each array operation costs some 10-20 us)."""
    for g in range(group_ref_offsets.shape[0] - 1):
        if group_ref_offsets[g + 1] - group_ref_offsets[g] != 1:
            return False
    n = hyp_offsets.shape[0] - 1
    # The pairs go in the order of hyp_index, so the hypotheses of one reference are
    # adjacent; group g's one reference is reference g.
    pair_ref = np.empty(n, dtype=np.int64)
    for k in range(n):
        pair_ref[k] = hyp_group[hyp_index[k]]
    # (an int64, not the global's literal type: the specialisation lcs_lengths compiles)
    lengths = _lcs_dense_pairs(hyp_ids, hyp_offsets, ref_ids, ref_offsets, hyp_index, pair_ref,
                               local_of, np.int64(DENSE_WORDS))
    for k in range(n):
        if lengths[k] < 0:
            return False
    hyp_lens = hyp_offsets[1:] - hyp_offsets[:-1]
    ref_lens = ref_offsets[1:] - ref_offsets[:-1]
    for k in range(n):
        h = hyp_index[k]
        common = lengths[k]
        p = common / max(hyp_lens[h], 1)
        r = common / max(ref_lens[hyp_group[h]], 1)
        columns[1, h] = 2 * p * r / (p + r if common > 0 else 1.0)
    return True


@kernel(nogil=True)
def meteor_columns(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets, hyp_group,
                   lower_key, stem_key, syn_start, syn_end, syn_keys, head, alpha, beta, gamma,
                   columns):
    """METEOR: row 2 of ``columns`` (arguments as :func:`low_level_columns`'; one reference
    per group)."""
    n = hyp_offsets.shape[0] - 1
    ref_first = np.empty(n, dtype=np.int64)
    ref_stop = np.empty(n, dtype=np.int64)
    for h in range(n):
        ref_first[h] = group_ref_offsets[hyp_group[h]]
        ref_stop[h] = group_ref_offsets[hyp_group[h] + 1]
    meteor = meteor_batch_scores(hyp_ids, hyp_offsets, ref_ids, ref_offsets, ref_first, ref_stop,
                                 lower_key, stem_key, syn_start, syn_end, syn_keys, head, alpha,
                                 beta, gamma)
    for h in range(n):
        columns[2, h] = meteor[h]


@kernel(nogil=True)
def token_keyword_columns(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets,
                          group_hyp_offsets, hyp_index, hyp_group, local_of, max_order, smooth,
                          smooth_value, effective_order, mean, root_child, child_start,
                          child_token, child_node, node_keyword, n_keywords, child_mask,
                          name_rank, keyword_beta, keyword_cap, columns):
    """BLEU and the keyword bonus: rows 0 and 4 of ``columns`` (arguments as
    :func:`low_level_columns`'; one reference per group). Returns ``(keyword_offsets,
    keyword_ranks)``, each report's ranks ascending."""
    n = hyp_offsets.shape[0] - 1
    hyp_lens = hyp_offsets[1:] - hyp_offsets[:-1]
    ref_lens = ref_offsets[1:] - ref_offsets[:-1]
    matches = ngram_matches(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets,
                            group_hyp_offsets, hyp_index, max_order, local_of)
    totals = np.empty((n, max_order), dtype=np.int64)
    for h in range(n):
        for k in range(max_order):
            totals[h, k] = max(hyp_lens[h] - k, 0)
    closest = closest_ref_lens(hyp_lens, ref_lens, group_ref_offsets, hyp_group)
    scores = bleu_rows(matches, totals, hyp_lens, closest, smooth, smooth_value,
                       effective_order, mean)
    for h in range(n):
        score = scores[h] / 100.0
        # exp(log) round trips can land 4e-16 above 1 (sacrebleu too); NaN stays NaN, as
        # with np.minimum
        columns[0, h] = 1.0 if score > 1.0 else score
    # keywords, each report's sorted by name
    keyword_offsets, found = distinct_keywords_batch(
        hyp_ids, hyp_offsets, root_child, child_start, child_token, child_node, node_keyword,
        n_keywords, child_mask)
    ranks = np.empty(found.shape[0], dtype=np.int64)
    for k in range(found.shape[0]):
        ranks[k] = name_rank[found[k]]
    for h in range(n):
        _sort_small(ranks, keyword_offsets[h], keyword_offsets[h + 1])
        bonus = keyword_beta * (keyword_offsets[h + 1] - keyword_offsets[h])
        if bonus > keyword_cap:
            bonus = keyword_cap
        columns[4, h] = bonus
    return keyword_offsets, ranks


@kernel(nogil=True)
def sum_columns(columns, formats, w_token, w_concept, w_format):
    """The sums of ``rewards.compose``: rows 3, 5 and 6 of ``columns`` from the others.
    Returns whether every ``token + rouge + meteor`` is finite."""
    finite = True
    for h in range(columns.shape[1]):
        token = columns[0, h]
        rouge = columns[1, h]
        meteor = columns[2, h]
        bonus = columns[4, h]
        finite = finite and math.isfinite(token + rouge + meteor)
        concept_base = rouge + meteor
        concept = concept_base + bonus
        columns[3, h] = concept_base
        columns[5, h] = concept
        columns[6, h] = w_token * token + w_concept * concept + w_format * formats[h]
    return finite
