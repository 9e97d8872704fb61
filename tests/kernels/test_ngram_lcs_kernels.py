"""The n-gram and LCS kernels against plain-Python oracles (hypothesis-generated)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.kernels.lcs import lcs_lengths
from himed_rewards.kernels.ngrams import ngram_matches
from himed_rewards.metrics._layout import concat


def naive_lcs(a: list[int], b: list[int]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def naive_matches(hyp: list[int], refs: list[list[int]], max_order: int) -> list[int]:
    out = []
    for n in range(1, max_order + 1):
        hyp_counts = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
        ref_max: Counter = Counter()
        for ref in refs:
            for gram, count in Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1)).items():
                ref_max[gram] = max(ref_max[gram], count)
        out.append(sum(min(c, ref_max[g]) for g, c in hyp_counts.items()))
    return out


SEQ = st.integers(1, 6).flatmap(lambda v: st.lists(st.integers(0, v), max_size=140))


@settings(max_examples=200, deadline=None)
@given(hyps=st.lists(SEQ, min_size=1, max_size=4), refs=st.lists(SEQ, min_size=1, max_size=3),
       max_order=st.integers(1, 6))
def test_ngram_matches_equal_the_oracle(hyps, refs, max_order):
    hyp_ids, hyp_offsets = concat([np.array(h, dtype=np.int32) for h in hyps])
    ref_ids, ref_offsets = concat([np.array(r, dtype=np.int32) for r in refs])
    # two groups: all references, then only the first one
    group_refs = np.array([0, len(refs), len(refs) + 1], dtype=np.int64)
    ref_ids2, ref_offsets2 = concat([np.array(r, dtype=np.int32) for r in refs + [refs[0]]])
    half = len(hyps) // 2
    group_hyps = np.array([0, half, len(hyps)], dtype=np.int64)
    unigram_slot = np.full(7, -1, dtype=np.int32)  # ids are below 7
    got = ngram_matches(hyp_ids, hyp_offsets, ref_ids2, ref_offsets2, group_refs, group_hyps,
                        np.arange(len(hyps), dtype=np.int64), max_order, unigram_slot)
    assert (unigram_slot == -1).all()
    for i, hyp in enumerate(hyps):
        group = refs if i < half else [refs[0]]
        assert got[i].tolist() == naive_matches(hyp, group, max_order)
    del ref_ids, ref_offsets


@settings(max_examples=200, deadline=None)
@given(hyps=st.lists(SEQ, min_size=1, max_size=3), refs=st.lists(SEQ, min_size=1, max_size=3))
def test_lcs_equals_the_oracle_and_restores_scratch(hyps, refs):
    hyp_ids, hyp_offsets = concat([np.array(h, dtype=np.int32) for h in hyps])
    ref_ids, ref_offsets = concat([np.array(r, dtype=np.int32) for r in refs])
    pair_hyp = np.repeat(np.arange(len(hyps)), len(refs)).astype(np.int64)
    pair_ref = np.tile(np.arange(len(refs)), len(hyps)).astype(np.int64)
    order = np.argsort(pair_ref, kind="stable")
    scratch = np.full(16, -1, dtype=np.int32)
    got = lcs_lengths(hyp_ids, hyp_offsets, ref_ids, ref_offsets, pair_hyp[order], pair_ref[order],
                      scratch)
    for k, (h, r) in enumerate(zip(pair_hyp[order], pair_ref[order], strict=True)):
        assert got[k] == naive_lcs(hyps[h], refs[r])
    assert (scratch == -1).all()


def test_lcs_multiword_and_swapped_paths():
    rng = np.random.default_rng(1)
    long_ref = rng.integers(0, 5, 4200).astype(np.int32)
    short = rng.integers(0, 5, 150).astype(np.int32)
    mid = rng.integers(0, 5, 300).astype(np.int32)
    hyp_ids, hyp_offsets = concat([short, mid])
    ref_ids, ref_offsets = concat([long_ref, mid])
    scratch = np.full(8, -1, dtype=np.int32)
    got = lcs_lengths(hyp_ids, hyp_offsets, ref_ids, ref_offsets, np.array([0, 1, 0]),
                      np.array([0, 0, 1]), scratch)
    assert got.tolist() == [naive_lcs(list(short), list(long_ref)),
                            naive_lcs(list(mid), list(long_ref)),
                            naive_lcs(list(short), list(mid))]
    assert (scratch == -1).all()
