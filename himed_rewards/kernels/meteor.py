"""METEOR alignment and chunk counting on int arrays (nltk 3.10's algorithm, in Numba).

nltk's ``_enum_align_words`` aligns in three greedy passes. Each pass walks the still
unmatched hypothesis words from the last to the first and gives each the *highest* still
unmatched reference position whose key fits: (1) same lowercased word, (2) same Porter stem,
(3) a reference stem among the hypothesis stem's WordNet synonyms. Chunks are counted over
the matches sorted by hypothesis position. Short pairs are aligned by scanning the
reference from its end (``align_scan``); long ones with a stable sort of the reference keys
(``align_sorted``): positions of one key form a run and "the highest still unmatched" is the
end of that run, so every lookup is a binary search, O((n + m) log m).

Token ids index the key tables of ``himed_rewards.text.wordnet.MeteorKeys``:
``lower_key[v]``, ``stem_key[v]``, and ``syn_keys[syn_start[v]:syn_end[v]]``.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel

__all__ = [
    "count_unknown",
    "meteor_align",
    "align_scan",
    "align_sorted",
    "meteor_pair_score",
    "meteor_batch_scores",
    "meteor_from_counts",
]


@kernel
def count_unknown(ids, known):
    """How many of ``ids`` have no entry yet in the key tables (``known[v]`` false or absent)."""
    missing = 0
    for v in ids:
        if v >= len(known) or not known[v]:
            missing += 1
    return missing

@kernel
def _take_highest(sorted_keys, order, run_end, key):
    """Pop the highest unmatched position whose key is ``key`` (-1 when none is left).

    ``run_end[lo]`` is the exclusive end of the still-unmatched part of the run of ``key``
    that starts at ``lo`` in ``sorted_keys``; ``order`` maps sorted slots to positions.
    """
    lo = np.searchsorted(sorted_keys, key)
    if lo == len(sorted_keys) or sorted_keys[lo] != key or run_end[lo] == lo:
        return -1, lo
    return order[run_end[lo] - 1], lo


@kernel
def _runs(keys):
    """A stable sort of ``keys``: (sorted keys, positions, run ends).

    ``run_end`` is only read at a run's first slot (where ``searchsorted`` lands), and starts
    as the run's exclusive end; taking a position moves it down by one.
    """
    order = np.argsort(keys, kind="mergesort")
    sorted_keys = keys[order]
    run_end = np.empty(len(keys), dtype=np.int64)
    first = 0
    while first < len(keys):
        end = first + 1
        while end < len(keys) and sorted_keys[end] == sorted_keys[first]:
            end += 1
        run_end[first] = end
        first = end
    return sorted_keys, order, run_end


# Below this many hypothesis x reference cells a plain scan beats sorting (report-length
# texts); above it the sorted index keeps long inputs O((n + m) log m). Both align the same.
SCAN_CELLS = 4096


@kernel
def meteor_align(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys):
    """Align one pair; returns ``ref_of``: for each hypothesis position, its reference
    position or -1."""
    if len(hyp) * len(ref) <= SCAN_CELLS:
        return align_scan(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys)
    return align_sorted(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys)


@kernel
def _in_sorted(values, start, stop, key):
    """Whether ``key`` is in the sorted slice ``values[start:stop]``."""
    lo, hi = start, stop
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo < stop and values[lo] == key


@kernel
def align_scan(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys):
    """:func:`meteor_align` by scanning the reference from its end for each hypothesis word."""
    n, m = len(hyp), len(ref)
    ref_of = np.full(n, -1, dtype=np.int64)
    ref_used = np.zeros(m, dtype=np.bool_)
    for i in range(n - 1, -1, -1):  # pass 1: exact (lowercased) words
        key = lower_key[hyp[i]]
        for j in range(m - 1, -1, -1):
            if not ref_used[j] and lower_key[ref[j]] == key:
                ref_of[i] = j
                ref_used[j] = True
                break
    for i in range(n - 1, -1, -1):  # pass 2: stems
        if ref_of[i] < 0:
            key = stem_key[hyp[i]]
            for j in range(m - 1, -1, -1):
                if not ref_used[j] and stem_key[ref[j]] == key:
                    ref_of[i] = j
                    ref_used[j] = True
                    break
    for i in range(n - 1, -1, -1):  # pass 3: the highest reference stem among the synonyms
        if ref_of[i] < 0:
            start, stop = syn_start[hyp[i]], syn_end[hyp[i]]
            for j in range(m - 1, -1, -1):
                if not ref_used[j] and _in_sorted(syn_keys, start, stop, stem_key[ref[j]]):
                    ref_of[i] = j
                    ref_used[j] = True
                    break
    return ref_of


@kernel
def align_sorted(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys):
    """:func:`meteor_align` with a stable sort of the reference keys (long inputs)."""
    n, m = len(hyp), len(ref)
    ref_of = np.full(n, -1, dtype=np.int64)
    ref_used = np.zeros(m, dtype=np.bool_)
    if n == 0 or m == 0:
        return ref_of
    # pass 1: exact (lowercased) words
    keys = np.empty(m, dtype=np.int64)
    for j in range(m):
        keys[j] = lower_key[ref[j]]
    sorted_keys, order, run_end = _runs(keys)
    for i in range(n - 1, -1, -1):
        j, lo = _take_highest(sorted_keys, order, run_end, lower_key[hyp[i]])
        if j >= 0:
            run_end[lo] -= 1
            ref_of[i] = j
            ref_used[j] = True
    # passes 2 and 3 share one index of the unmatched reference stems
    left = 0
    for j in range(m):
        if not ref_used[j]:
            left += 1
    if left == 0:
        return ref_of
    positions = np.empty(left, dtype=np.int64)
    keys = np.empty(left, dtype=np.int64)
    k = 0
    for j in range(m):
        if not ref_used[j]:
            positions[k] = j
            keys[k] = stem_key[ref[j]]
            k += 1
    sorted_keys, order, run_end = _runs(keys)
    for i in range(n - 1, -1, -1):  # pass 2: stems
        if ref_of[i] < 0:
            slot, lo = _take_highest(sorted_keys, order, run_end, stem_key[hyp[i]])
            if slot >= 0:
                run_end[lo] -= 1
                ref_of[i] = positions[slot]
    for i in range(n - 1, -1, -1):  # pass 3: WordNet synonyms of the stem
        if ref_of[i] < 0:
            best_slot, best_lo = -1, -1
            for s in range(syn_start[hyp[i]], syn_end[hyp[i]]):
                slot, lo = _take_highest(sorted_keys, order, run_end, syn_keys[s])
                if slot > best_slot:
                    best_slot, best_lo = slot, lo
            if best_slot >= 0:
                run_end[best_lo] -= 1
                ref_of[i] = positions[best_slot]
    return ref_of


@kernel
def _matches_and_chunks(ref_of):
    """nltk's ``len(matches)`` and ``_count_chunks(matches)`` (matches sorted by hypothesis)."""
    matches = 0
    chunks = 1
    previous = -1
    for i in range(len(ref_of)):
        if ref_of[i] < 0:
            continue
        if matches > 0 and not (i == previous + 1 and ref_of[i] == ref_of[previous] + 1):
            chunks += 1
        matches += 1
        previous = i
    return matches, chunks


@kernel
def meteor_from_counts(matches, chunks, hyp_len, ref_len, alpha, beta, gamma):
    """nltk's ``single_meteor_score`` arithmetic, operation for operation (0.0 where nltk
    catches ``ZeroDivisionError``)."""
    if hyp_len == 0 or ref_len == 0 or matches == 0:
        return 0.0
    precision = float(matches) / hyp_len
    recall = float(matches) / ref_len
    fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall)
    frag_frac = float(chunks) / matches
    penalty = gamma * frag_frac**beta
    return (1 - penalty) * fmean


@kernel
def meteor_pair_score(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys, alpha, beta,
                      gamma):  # fmt: skip
    """The METEOR score of one hypothesis against one reference."""
    ref_of = meteor_align(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys)
    matches, chunks = _matches_and_chunks(ref_of)
    return meteor_from_counts(matches, chunks, len(hyp), len(ref), alpha, beta, gamma)


@kernel
def meteor_batch_scores(hyp_tokens, hyp_ptr, ref_tokens, ref_ptr, ref_first, ref_stop, lower_key,
                        stem_key, syn_start, syn_end, syn_keys, alpha, beta, gamma):  # fmt: skip
    """Scores of many hypotheses, each the maximum over its references.

    Hypothesis ``h`` is ``hyp_tokens[hyp_ptr[h]:hyp_ptr[h + 1]]``; its references are the
    segments ``r`` in ``range(ref_first[h], ref_stop[h])`` (never empty), segment ``r`` being
    ``ref_tokens[ref_ptr[r]:ref_ptr[r + 1]]``. Hypotheses may share references (GRPO).
    """
    n_hyp = len(hyp_ptr) - 1
    out = np.empty(n_hyp, dtype=np.float64)
    for h in range(n_hyp):
        hyp = hyp_tokens[hyp_ptr[h] : hyp_ptr[h + 1]]
        best = -1.0
        for r in range(ref_first[h], ref_stop[h]):
            ref = ref_tokens[ref_ptr[r] : ref_ptr[r + 1]]
            score = meteor_pair_score(hyp, ref, lower_key, stem_key, syn_start, syn_end,
                                      syn_keys, alpha, beta, gamma)  # fmt: skip
            if score > best:  # Python's max() keeps the first of equal values: same float
                best = score
        out[h] = best
    return out
