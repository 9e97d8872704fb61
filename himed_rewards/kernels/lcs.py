"""Longest-common-subsequence lengths with the bit-parallel algorithm (Hyyrö 2004).

One sequence (normally the reference) becomes bit masks, one row of ``ceil(m / 64)`` 64-bit
words per distinct token marking where it occurs; the other is streamed through

    U = V & M[token];  V = (V + U) | (V & ~U)

and the LCS length is the number of zero bits left in V. That is O(n * m / 64) word
operations instead of the O(n * m) table of rouge-score, with the same result (LCS length is
unique). Masks of a reference are built once and reused by every hypothesis that follows it
in ``pair_ref`` order. A reference far longer than its hypothesis swaps roles, so memory stays
bounded by the shorter side.

``local_of`` is caller-owned scratch (global token id -> local row, all -1 on entry and on
exit), sized above every id in the inputs.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel

_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_SWAP_ABOVE = 4096  # a reference longer than this, and than its hypothesis, swaps roles


@kernel
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@kernel
def _build_masks(seq, start, stop, local_of):
    """Rows of position bits per distinct token of seq[start:stop]; fills local_of."""
    m = stop - start
    words = (m + 63) // 64
    n_rows = 0
    for i in range(start, stop):
        if local_of[seq[i]] < 0:
            local_of[seq[i]] = n_rows
            n_rows += 1
    masks = np.zeros((max(n_rows, 1), max(words, 1)), dtype=np.uint64)
    for i in range(start, stop):
        p = i - start
        masks[local_of[seq[i]], p >> 6] |= _ONE << np.uint64(p & 63)
    return masks


@kernel
def _reset(seq, start, stop, local_of):
    for i in range(start, stop):
        local_of[seq[i]] = -1


@kernel
def _stream(masks, m, other, start, stop, local_of, v):
    """LCS length of the masked sequence (length m) and other[start:stop]."""
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
            continue  # U = 0 leaves V unchanged
        carry = _ZERO
        for w in range(words):
            vw = v[w]
            u = vw & masks[row, w]
            s1 = vw + u
            s2 = s1 + carry
            carry = _ONE if (s1 < vw or s2 < s1) else _ZERO
            v[w] = s2 | (vw & ~u)
    zeros = 0
    for w in range(words):
        x = ~v[w]
        bits = m - 64 * w
        if bits < 64:
            x &= (_ONE << np.uint64(bits)) - _ONE
        zeros += _popcount(x)
    return zeros


@kernel
def lcs_lengths(hyp_ids, hyp_offsets, ref_ids, ref_offsets, pair_hyp, pair_ref, local_of):
    """LCS length of each (hyp, ref) pair; pairs sharing a reference should be adjacent."""
    n_pairs = pair_hyp.shape[0]
    out = np.zeros(n_pairs, dtype=np.int64)
    longest = 1
    for k in range(n_pairs):
        longest = max(longest, ref_offsets[pair_ref[k] + 1] - ref_offsets[pair_ref[k]])
        longest = max(longest, hyp_offsets[pair_hyp[k] + 1] - hyp_offsets[pair_hyp[k]])
    v = np.empty((longest + 63) // 64, dtype=np.uint64)
    current = -1  # reference whose masks are loaded
    masks = np.zeros((1, 1), dtype=np.uint64)
    for k in range(n_pairs):
        h = pair_hyp[k]
        r = pair_ref[k]
        h0, h1 = hyp_offsets[h], hyp_offsets[h + 1]
        r0, r1 = ref_offsets[r], ref_offsets[r + 1]
        if r1 - r0 > _SWAP_ABOVE and r1 - r0 > h1 - h0:
            if current >= 0:
                _reset(ref_ids, ref_offsets[current], ref_offsets[current + 1], local_of)
                current = -1
            hyp_masks = _build_masks(hyp_ids, h0, h1, local_of)
            out[k] = _stream(hyp_masks, h1 - h0, ref_ids, r0, r1, local_of, v)
            _reset(hyp_ids, h0, h1, local_of)
            continue
        if r != current:
            if current >= 0:
                _reset(ref_ids, ref_offsets[current], ref_offsets[current + 1], local_of)
            masks = _build_masks(ref_ids, r0, r1, local_of)
            current = r
        out[k] = _stream(masks, r1 - r0, hyp_ids, h0, h1, local_of, v)
    if current >= 0:
        _reset(ref_ids, ref_offsets[current], ref_offsets[current + 1], local_of)
    return out


@kernel
def lcs_pair(hyp, ref, local_of):
    """LCS length of one pair (the single-call fast path of ``rouge_l``)."""
    if hyp.shape[0] == 0 or ref.shape[0] == 0:
        return 0
    if ref.shape[0] > _SWAP_ABOVE and ref.shape[0] > hyp.shape[0]:
        hyp, ref = ref, hyp
    v = np.empty((ref.shape[0] + 63) // 64, dtype=np.uint64)
    masks = _build_masks(ref, 0, ref.shape[0], local_of)
    length = _stream(masks, ref.shape[0], hyp, 0, hyp.shape[0], local_of, v)
    _reset(ref, 0, ref.shape[0], local_of)
    return length
