"""Longest-common-subsequence lengths with the bit-parallel algorithm (Hyyrö 2004).

One sequence (normally the reference) becomes bit masks, one row of ``ceil(m / 64)`` 64-bit
words per distinct token marking where it occurs; the other is streamed through

    U = V & M[token];  V = (V + U) | (V & ~U)

and the LCS length is the number of zero bits left in V. That is O(n * m / 64) word
operations instead of the O(n * m) table of rouge-score, with the same result (LCS length is
unique). Masks of a reference are built once and reused by every hypothesis that follows it
in ``pair_ref`` order. A reference far longer than its hypothesis swaps roles, so memory stays
bounded by the shorter side. Dense rows are capped at ``DENSE_WORDS`` 64-bit words (the most
frequent tokens get them); the other tokens keep sorted position lists, so memory is
O(m + DENSE_WORDS) whatever the vocabulary, and the LCS length is the same.

``local_of`` is caller-owned scratch (global token id -> local row, all -1 on entry and on
exit), sized above every id in the inputs.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel

_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_SWAP_ABOVE = 4096  # a reference longer than this, and than its hypothesis, swaps roles
# Dense mask words allowed per pattern (32 MiB). A report of m tokens with d distinct ones
# needs d * m / 64 words dense: 1.2 GB for 100k distinct words. Rows past the budget are
# kept as position lists and expanded word by word while streaming (same result).
DENSE_WORDS = 1 << 22


@kernel
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@kernel
def _assign_rows(seq, start, stop, local_of):
    """Give each distinct token of seq[start:stop] a local row; returns the row count."""
    n_rows = 0
    for i in range(start, stop):
        if local_of[seq[i]] < 0:
            local_of[seq[i]] = n_rows
            n_rows += 1
    return n_rows


@kernel
def _dense_masks(seq, start, stop, local_of, n_rows):
    """One row of ``ceil(m / 64)`` position bits per distinct token (rows from local_of),
    and a last row of zeros for every token not in the sequence."""
    m = stop - start
    masks = np.zeros((n_rows + 1, max((m + 63) // 64, 1)), dtype=np.uint64)
    for i in range(start, stop):
        p = i - start
        masks[local_of[seq[i]], p >> 6] |= _ONE << np.uint64(p & 63)
    return masks


@kernel
def _mixed_pattern(seq, start, stop, local_of, n_rows, dense_words):
    """Dense rows for the most frequent tokens within ``dense_words`` words, positions else.

    Returns ``(masks, dense_of, first, positions)``: a row with ``dense_of[row] >= 0`` is
    ``masks[dense_of[row]]``; otherwise its sorted positions are
    ``positions[first[row]:first[row + 1]]``. Memory O(m + dense_words).
    """
    m = stop - start
    words = max((m + 63) // 64, 1)
    first = np.zeros(n_rows + 1, dtype=np.int64)
    for i in range(start, stop):
        first[local_of[seq[i]] + 1] += 1
    dense_of = np.full(max(n_rows, 1), -1, dtype=np.int64)
    n_dense = min(n_rows, max(dense_words // words, 0))
    if n_dense > 0:
        by_count = np.argsort(-first[1:], kind="mergesort")  # most frequent rows first
        for k in range(n_dense):
            dense_of[by_count[k]] = k
    for row in range(n_rows):
        first[row + 1] += first[row]
    masks = np.zeros((max(n_dense, 1), words), dtype=np.uint64)
    positions = np.empty(m, dtype=np.int64)
    fill = first[:-1].copy()
    for i in range(start, stop):
        p = i - start
        row = local_of[seq[i]]
        positions[fill[row]] = p
        fill[row] += 1
        if dense_of[row] >= 0:
            masks[dense_of[row], p >> 6] |= _ONE << np.uint64(p & 63)
    return masks, dense_of, first, positions


@kernel
def _reset(seq, start, stop, local_of):
    for i in range(start, stop):
        local_of[seq[i]] = -1


@kernel
def _step_dense(v, words, masks, row):
    """One bit-parallel step (Hyyro) for a token whose match mask is ``masks[row]``."""
    carry = _ZERO
    for w in range(words):
        vw = v[w]
        u = vw & masks[row, w]
        s1 = vw + u
        s2 = s1 + carry
        carry = _ONE if (s1 < vw or s2 < s1) else _ZERO
        v[w] = s2 | (vw & ~u)


@kernel
def _step_sparse(v, words, positions, p0, p1):
    """One bit-parallel step for a token given by its sorted positions.

    Words before the first occurrence see U = 0 and no carry, so they keep their value;
    after the last occurrence only a pending carry can change anything.
    """
    carry = _ZERO
    ptr = p0
    w = positions[p0] >> 6
    while w < words:
        mask = _ZERO
        while ptr < p1 and (positions[ptr] >> 6) == w:
            mask |= _ONE << np.uint64(positions[ptr] & 63)
            ptr += 1
        vw = v[w]
        u = vw & mask
        s1 = vw + u
        s2 = s1 + carry
        carry = _ONE if (s1 < vw or s2 < s1) else _ZERO
        v[w] = s2 | (vw & ~u)
        w += 1
        if ptr == p1 and carry == _ZERO:
            break


@kernel
def _stream_dense(masks, m, other, start, stop, local_of, v):
    """LCS length of the masked sequence (length m, every row dense) and other[start:stop]."""
    words = (m + 63) // 64
    if m == 0 or stop == start:
        return 0
    limit = local_of.shape[0]
    # A token absent from the masked sequence takes the all-zero row (U = 0 leaves V
    # unchanged) instead of a branch: whether a token occurs is a coin toss the processor
    # mispredicted (ROUGE-L kernel 0.32 -> 0.19 us per fresh GRPO pair)
    none = masks.shape[0] - 1
    for w in range(words):
        v[w] = ~_ZERO
    for i in range(start, stop):
        token = other[i]
        if token >= limit:
            continue
        row = local_of[token]
        _step_dense(v, words, masks, row if row >= 0 else none)
    return _zeros(v, m)


@kernel
def _stream_mixed(pattern, m, other, start, stop, local_of, v):
    """As ``_stream_dense`` for a pattern whose rare tokens are position lists."""
    masks, dense_of, first, positions = pattern
    words = (m + 63) // 64
    if m == 0 or stop == start:
        return 0
    limit = local_of.shape[0]
    for w in range(words):
        v[w] = ~_ZERO
    for i in range(start, stop):
        token = other[i]
        if token >= limit:
            continue
        row = local_of[token]
        if row < 0:
            continue
        dense = dense_of[row]
        if dense < 0:
            _step_sparse(v, words, positions, first[row], first[row + 1])
            continue
        _step_dense(v, words, masks, dense)
    return _zeros(v, m)


@kernel
def _zeros(v, m):
    """Zero bits among the first m bits of V: the LCS length."""
    zeros = 0
    for w in range((m + 63) // 64):
        x = ~v[w]
        bits = m - 64 * w
        if bits < 64:
            x &= (_ONE << np.uint64(bits)) - _ONE
        zeros += _popcount(x)
    return zeros


@kernel
def _lcs_of(seq, start, stop, other, o0, o1, local_of, v, dense_words):
    """LCS of seq[start:stop] (patterned, then reset) and other[o0:o1]."""
    n_rows = _assign_rows(seq, start, stop, local_of)
    m = stop - start
    if n_rows * max((m + 63) // 64, 1) <= dense_words:
        masks = _dense_masks(seq, start, stop, local_of, n_rows)
        length = _stream_dense(masks, m, other, o0, o1, local_of, v)
    else:
        pattern = _mixed_pattern(seq, start, stop, local_of, n_rows, dense_words)
        length = _stream_mixed(pattern, m, other, o0, o1, local_of, v)
    _reset(seq, start, stop, local_of)
    return length


def lcs_lengths(hyp_ids, hyp_offsets, ref_ids, ref_offsets, pair_hyp, pair_ref, local_of,
                dense_words=DENSE_WORDS):
    """LCS length of each (hyp, ref) pair; pairs sharing a reference should be adjacent.

    Two kernels, so that the first call compiles only the common one (about 1.4 CPU seconds
    of the 3.7 the single kernel took): ``_lcs_dense_pairs`` scores every pair whose
    reference fits dense masks; the rare pairs with a huge reference (swapped roles or
    position lists) are left at -1 for ``_lcs_rare_pairs``, compiled when one first occurs.
    """
    dense_words = int(dense_words)
    out = _lcs_dense_pairs(hyp_ids, hyp_offsets, ref_ids, ref_offsets, pair_hyp, pair_ref,
                           local_of, dense_words)
    if out.shape[0] and out.min() < 0:
        _lcs_rare_pairs(hyp_ids, hyp_offsets, ref_ids, ref_offsets, pair_hyp, pair_ref,
                        local_of, dense_words, out)
    return out


@kernel
def _scratch_words(hyp_offsets, ref_offsets, pair_hyp, pair_ref):
    """A V buffer long enough for the longest sequence of any pair."""
    longest = 1
    for k in range(pair_hyp.shape[0]):
        longest = max(longest, ref_offsets[pair_ref[k] + 1] - ref_offsets[pair_ref[k]])
        longest = max(longest, hyp_offsets[pair_hyp[k] + 1] - hyp_offsets[pair_hyp[k]])
    return np.empty((longest + 63) // 64, dtype=np.uint64)


@kernel
def _lcs_dense_pairs(hyp_ids, hyp_offsets, ref_ids, ref_offsets, pair_hyp, pair_ref, local_of,
                     dense_words):
    """``lcs_lengths`` for the pairs whose reference gets dense masks; -1 for the others."""
    n_pairs = pair_hyp.shape[0]
    out = np.zeros(n_pairs, dtype=np.int64)
    v = _scratch_words(hyp_offsets, ref_offsets, pair_hyp, pair_ref)
    current = -1  # reference whose dense masks are loaded (big references are not kept)
    masks = np.zeros((1, 1), dtype=np.uint64)
    for k in range(n_pairs):
        h = pair_hyp[k]
        r = pair_ref[k]
        h0, h1 = hyp_offsets[h], hyp_offsets[h + 1]
        r0, r1 = ref_offsets[r], ref_offsets[r + 1]
        if r == current:
            out[k] = _stream_dense(masks, r1 - r0, hyp_ids, h0, h1, local_of, v)
            continue
        if current >= 0:
            _reset(ref_ids, ref_offsets[current], ref_offsets[current + 1], local_of)
            current = -1
        if r1 - r0 > _SWAP_ABOVE and r1 - r0 > h1 - h0:
            out[k] = -1  # swapped roles: _lcs_rare_pairs
            continue
        n_rows = _assign_rows(ref_ids, r0, r1, local_of)
        if n_rows * max((r1 - r0 + 63) // 64, 1) <= dense_words:
            masks = _dense_masks(ref_ids, r0, r1, local_of, n_rows)
            current = r
            out[k] = _stream_dense(masks, r1 - r0, hyp_ids, h0, h1, local_of, v)
        else:  # position lists: _lcs_rare_pairs
            _reset(ref_ids, r0, r1, local_of)
            out[k] = -1
    if current >= 0:
        _reset(ref_ids, ref_offsets[current], ref_offsets[current + 1], local_of)
    return out


@kernel
def _lcs_rare_pairs(hyp_ids, hyp_offsets, ref_ids, ref_offsets, pair_hyp, pair_ref, local_of,
                    dense_words, out):
    """Fill the pairs ``_lcs_dense_pairs`` left at -1 (a huge reference)."""
    v = _scratch_words(hyp_offsets, ref_offsets, pair_hyp, pair_ref)
    for k in range(pair_hyp.shape[0]):
        if out[k] >= 0:
            continue
        h = pair_hyp[k]
        r = pair_ref[k]
        h0, h1 = hyp_offsets[h], hyp_offsets[h + 1]
        r0, r1 = ref_offsets[r], ref_offsets[r + 1]
        if r1 - r0 > _SWAP_ABOVE and r1 - r0 > h1 - h0:
            out[k] = _lcs_of(hyp_ids, h0, h1, ref_ids, r0, r1, local_of, v, dense_words)
        else:  # rebuilt per pair: huge references are rare, memory matters more
            out[k] = _lcs_of(ref_ids, r0, r1, hyp_ids, h0, h1, local_of, v, dense_words)


@kernel
def lcs_pair(hyp, ref, local_of, dense_words=DENSE_WORDS):
    """LCS length of one pair (the single-call fast path of ``rouge_l``)."""
    if hyp.shape[0] == 0 or ref.shape[0] == 0:
        return 0
    if ref.shape[0] > _SWAP_ABOVE and ref.shape[0] > hyp.shape[0]:
        hyp, ref = ref, hyp
    v = np.empty((ref.shape[0] + 63) // 64, dtype=np.uint64)
    return _lcs_of(ref, 0, ref.shape[0], hyp, 0, hyp.shape[0], local_of, v, dense_words)
