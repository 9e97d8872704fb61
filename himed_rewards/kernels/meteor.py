"""METEOR alignment and chunk counting on int arrays (nltk 3.10's algorithm, in Numba).

nltk's ``_enum_align_words`` aligns in three greedy passes. Each pass walks the still
unmatched hypothesis words from the last to the first and gives each the *highest* still
unmatched reference position whose key fits: (1) same lowercased word, (2) same Porter stem,
(3) a reference stem among the hypothesis stem's WordNet synonyms. Chunks are counted over
the matches sorted by hypothesis position.

"The highest still unmatched reference position with key ``k``" is kept in O(1) per step by
key-indexed chains: ``head[k]`` is that position (-1: none) and ``below[j]`` the next lower
position holding the same key as ``j``; taking ``j = head[k]`` sets ``head[k] = below[j]``.
Building a chain is one pass over the reference, so a pair costs O(n + m) plus, in pass 3,
for each still unmatched hypothesis word one ``head`` read per synonym (or, when the synonyms
outnumber the unmatched reference positions ``SCAN_ABOVE`` times, a scan of those positions
with a binary search each). ``head`` is caller-owned scratch indexed by key, all -1 on entry
and restored to all -1 on exit, so no pair allocates or clears anything of the key space's
size.

Token ids index the key tables of ``himed_rewards.text.wordnet.MeteorKeys``:
``lower_key[v]``, ``stem_key[v]``, and ``syn_keys[syn_start[v]:syn_end[v]]`` (sorted). Every
key is below ``len(head)``.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel

__all__ = [
    "SCAN_ABOVE",
    "unknown_ids",
    "align_pair",
    "meteor_align",
    "meteor_pair_score",
    "meteor_batch_scores",
    "meteor_from_counts",
]


# Pass 3 scans the unmatched reference (a binary search per position) instead of reading one
# chain head per synonym when the synonyms outnumber those positions this many times.
SCAN_ABOVE = 16


@kernel
def unknown_ids(ids, known, out):
    """Copy the ``ids`` with no entry yet in the key tables (``known[v]`` false or absent) to
    ``out`` (as long as ``ids``), in order, repeats kept; returns how many."""
    missing = 0
    for v in ids:
        if v >= len(known) or not known[v]:
            out[missing] = v
            missing += 1
    return missing


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
def _chain(keys, ref_used, head, below):
    """Chain the unmatched positions of ``keys`` by key, highest first (see the module doc)."""
    for j in range(len(keys)):
        if not ref_used[j]:
            k = keys[j]
            below[j] = head[k]
            head[k] = j


@kernel
def _unchain(keys, head):
    for j in range(len(keys)):
        head[keys[j]] = -1


@kernel
def _take_heads(hyp, hyp_key, listed, count, head, below, ref_of, ref_used):
    """Passes 1 and 2: each listed hypothesis position ``listed[:count]``, from the last,
    takes ``head`` of its key (the highest unmatched reference position with that key).

    Returns how many reference positions it took.
    """
    taken = 0
    for c in range(count - 1, -1, -1):
        i = listed[c]
        k = hyp_key[hyp[i]]
        j = head[k]
        if j >= 0:
            head[k] = below[j]
            ref_of[i] = j
            ref_used[j] = True
            taken += 1
    return taken


@kernel
def align_pair(hyp, ref_lower, ref_stem, lower_key, stem_key, syn_start, syn_end, syn_keys,
               head, below, ref_used, ref_of, free):  # fmt: skip
    """Align ``hyp`` (token ids) with a reference given by its keys; fills ``ref_of``.

    ``ref_lower[j]``/``ref_stem[j]`` are the lowercase and stem keys of reference position
    ``j`` (prepared once per reference). ``below`` and ``ref_used`` are scratch of at least
    the reference's length, ``ref_of`` and ``free`` of at least the hypothesis's; on return
    ``ref_of[i]`` is hypothesis position ``i``'s reference position or -1. ``head`` must be
    all -1 and is all -1 again on return. Returns the number of matches.
    """
    n, m = len(hyp), len(ref_lower)
    for i in range(n):
        ref_of[i] = -1
    for j in range(m):
        ref_used[j] = False
    if n == 0 or m == 0:
        return 0
    # pass 1: exact (lowercased) words, over a list of the positions whose word is in the
    # reference at all, made without a branch on it (a coin toss the processor mispredicted)
    _chain(ref_lower, ref_used, head, below)
    n_hit = 0
    for i in range(n):
        free[n_hit] = i
        n_hit += head[lower_key[hyp[i]]] >= 0
    matched = _take_heads(hyp, lower_key, free, n_hit, head, below, ref_of, ref_used)
    _unchain(ref_lower, head)
    if matched == min(n, m):  # nothing left to match on one side
        return matched
    # passes 2 and 3 share one chain of the unmatched reference stems
    _chain(ref_stem, ref_used, head, below)
    # Passes 2 and 3 walk a list of the positions still unmatched, made without a branch on
    # whether each is (about half are, at random: that branch, mispredicted, was a good part
    # of both passes)
    n_free = 0
    for i in range(n):
        free[n_free] = i
        n_free += ref_of[i] < 0
    matched += _take_heads(hyp, stem_key, free, n_free, head, below, ref_of, ref_used)  # stems
    kept = 0  # the list again, without what pass 2 matched
    for c in range(n_free):
        i = free[c]
        free[kept] = i
        kept += ref_of[i] < 0
    for c in range(kept - 1, -1, -1):  # pass 3: the highest reference stem among the synonyms
        if matched == m:
            break
        i = free[c]
        start, stop = syn_start[hyp[i]], syn_end[hyp[i]]
        best = -1
        # a head read is far cheaper than a binary search: scan only for huge synonym sets
        if stop - start <= SCAN_ABOVE * (m - matched):  # the head of each synonym's chain
            for s in range(start, stop):
                best = max(best, head[syn_keys[s]])
        else:  # the first unmatched reference stem among the synonyms, from the end
            for j in range(m - 1, -1, -1):
                if not ref_used[j] and _in_sorted(syn_keys, start, stop, ref_stem[j]):
                    best = j
                    break
        if best >= 0:  # ``best`` is the highest unmatched position of its stem: its head
            head[ref_stem[best]] = below[best]
            ref_of[i] = best
            ref_used[best] = True
            matched += 1
    _unchain(ref_stem, head)
    return matched


@kernel
def _reference_keys(ref, lower_key, stem_key):
    ref_lower = np.empty(len(ref), dtype=lower_key.dtype)
    ref_stem = np.empty(len(ref), dtype=stem_key.dtype)
    for j in range(len(ref)):
        ref_lower[j] = lower_key[ref[j]]
        ref_stem[j] = stem_key[ref[j]]
    return ref_lower, ref_stem


@kernel
def meteor_align(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys, head):
    """Align one pair; returns ``ref_of``: for each hypothesis position, its reference
    position or -1."""
    ref_lower, ref_stem = _reference_keys(ref, lower_key, stem_key)
    ref_of = np.empty(len(hyp), dtype=np.int64)
    align_pair(hyp, ref_lower, ref_stem, lower_key, stem_key, syn_start, syn_end, syn_keys,
               head, np.empty(len(ref), dtype=np.int64), np.empty(len(ref), dtype=np.bool_),
               ref_of, np.empty(len(hyp), dtype=np.int64))  # fmt: skip
    return ref_of


@kernel
def _chunks(ref_of, n):
    """nltk's ``_count_chunks(matches)`` over the matches sorted by hypothesis position.

    A chunk starts at every matched position whose left neighbour is not the match right
    before it in the reference; counted without a branch on whether a position is matched
    (a coin toss the processor mispredicted: 0.17 of 1.10 us per fresh GRPO pair, 0.07 now).
    nltk counts 1 for a pair without matches; this gives 0, which no caller uses (the score
    is 0 then).
    """
    chunks = 0
    before = np.int64(-1)  # the reference position of the previous hypothesis word, or -1
    for i in range(n):
        here = ref_of[i]
        chunks += (here >= 0) & ((before < 0) | (here != before + 1))
        before = here
    return chunks


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
def meteor_pair_score(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys, head, alpha,
                      beta, gamma):  # fmt: skip
    """The METEOR score of one hypothesis against one reference."""
    ref_of = meteor_align(hyp, ref, lower_key, stem_key, syn_start, syn_end, syn_keys, head)
    matches = 0
    for i in range(len(ref_of)):
        if ref_of[i] >= 0:
            matches += 1
    chunks = _chunks(ref_of, len(hyp))
    return meteor_from_counts(matches, chunks, len(hyp), len(ref), alpha, beta, gamma)


@kernel
def meteor_batch_scores(hyp_tokens, hyp_ptr, ref_tokens, ref_ptr, ref_first, ref_stop, lower_key,
                        stem_key, syn_start, syn_end, syn_keys, head, alpha, beta,
                        gamma):  # fmt: skip
    """Scores of many hypotheses, each the maximum over its references.

    Hypothesis ``h`` is ``hyp_tokens[hyp_ptr[h]:hyp_ptr[h + 1]]``; its references are the
    segments ``r`` in ``range(ref_first[h], ref_stop[h])`` (never empty), segment ``r`` being
    ``ref_tokens[ref_ptr[r]:ref_ptr[r + 1]]``. Hypotheses may share references (GRPO): the
    keys of every reference token are looked up once, whatever number of hypotheses use it.
    ``head``: scratch of the key space, all -1 (restored on return).
    """
    n_hyp = len(hyp_ptr) - 1
    out = np.empty(n_hyp, dtype=np.float64)
    base = ref_ptr[0]  # the references may sit behind the hypotheses in one shared array
    ref_lower, ref_stem = _reference_keys(ref_tokens[base : ref_ptr[-1]], lower_key, stem_key)
    longest_hyp, longest_ref = 0, 0
    for h in range(n_hyp):
        longest_hyp = max(longest_hyp, hyp_ptr[h + 1] - hyp_ptr[h])
    for r in range(len(ref_ptr) - 1):
        longest_ref = max(longest_ref, ref_ptr[r + 1] - ref_ptr[r])
    ref_of = np.empty(longest_hyp, dtype=np.int64)
    free = np.empty(longest_hyp, dtype=np.int64)
    below = np.empty(longest_ref, dtype=np.int64)
    ref_used = np.empty(longest_ref, dtype=np.bool_)
    for h in range(n_hyp):
        hyp = hyp_tokens[hyp_ptr[h] : hyp_ptr[h + 1]]
        n = len(hyp)
        best = -1.0
        for r in range(ref_first[h], ref_stop[h]):
            lo, hi = ref_ptr[r] - base, ref_ptr[r + 1] - base
            matches = align_pair(hyp, ref_lower[lo:hi], ref_stem[lo:hi], lower_key, stem_key,
                                 syn_start, syn_end, syn_keys, head, below, ref_used, ref_of,
                                 free)  # fmt: skip
            chunks = _chunks(ref_of, n) if matches else 1
            score = meteor_from_counts(matches, chunks, n, hi - lo, alpha, beta, gamma)
            if score > best:  # Python's max() keeps the first of equal values: same float
                best = score
        out[h] = best
    return out
