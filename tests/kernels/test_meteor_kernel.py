"""The METEOR kernels against a plain-Python oracle written the way nltk's code reads.

The oracle works on key lists with nltk's data structures (per-key position lists popped from
the end, sets of matched indices, the leftover lists handed from pass to pass), so it shares
nothing with the kernels' scan or sort. Random key tables stand in for WordNet here; the
reference tests compare the whole metric with nltk itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.kernels.meteor import (
    SCAN_ABOVE,
    align_pair,
    meteor_align,
    meteor_batch_scores,
    meteor_from_counts,
    meteor_pair_score,
    unknown_ids,
)


def _match(hyp: list[tuple[int, object]], ref: list[tuple[int, object]], fits):
    """One nltk pass: hypothesis words from the last, each takes the highest fitting ref."""
    matches = []
    used_h, used_r = set(), set()
    for i in range(len(hyp) - 1, -1, -1):
        for j in range(len(ref) - 1, -1, -1):
            if j not in used_r and fits(hyp[i][1], ref[j][1]):
                matches.append((hyp[i][0], ref[j][0]))
                used_h.add(i)
                used_r.add(j)
                break
    rest_h = [p for i, p in enumerate(hyp) if i not in used_h]
    rest_r = [p for j, p in enumerate(ref) if j not in used_r]
    return matches, rest_h, rest_r


def oracle_alignment(hyp, ref, tables):
    """Sorted (hyp position, ref position) matches, by nltk's three passes."""
    lower, stem, start, end, syn = tables
    h = [(i, v) for i, v in enumerate(hyp)]
    r = [(j, v) for j, v in enumerate(ref)]
    exact, h, r = _match(h, r, lambda a, b: lower[a] == lower[b])
    stems, h, r = _match(h, r, lambda a, b: stem[a] == stem[b])
    synonyms, _, _ = _match(h, r, lambda a, b: stem[b] in set(syn[start[a]:end[a]].tolist()))
    return sorted(exact + stems + synonyms)


def oracle_score(hyp, ref, tables, alpha=0.9, beta=3.0, gamma=0.5):
    matches = oracle_alignment(hyp, ref, tables)
    chunks, i = 1, 0
    while i < len(matches) - 1:  # nltk's _count_chunks
        if not (matches[i + 1][0] == matches[i][0] + 1 and matches[i + 1][1] == matches[i][1] + 1):
            chunks += 1
        i += 1
    try:
        precision = float(len(matches)) / len(hyp)
        recall = float(len(matches)) / len(ref)
        fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall)
        frag = float(chunks) / len(matches)
    except ZeroDivisionError:
        return 0.0
    return (1 - gamma * frag**beta) * fmean


def random_tables(rng: np.random.Generator, vocabulary: int, keys: int, synonyms: int = 4):
    """Key tables for ``vocabulary`` token ids: few keys so that matches happen often; each
    stem has up to ``synonyms - 1`` synonyms besides itself."""
    lower = rng.integers(0, keys, vocabulary).astype(np.int32)
    stem = np.minimum(lower, rng.integers(0, keys, vocabulary)).astype(np.int32)
    stem[lower % 3 == 0] = lower[lower % 3 == 0]
    # one synonym slice per stem key, sorted, holding the stem itself as nltk's set does
    flat: list[int] = []
    bounds = {}
    for s in range(keys):
        members = sorted({s, *rng.integers(0, keys, rng.integers(0, synonyms)).tolist()})
        bounds[s] = (len(flat), len(flat) + len(members))
        flat.extend(members)
    start = np.array([bounds[int(s)][0] for s in stem], dtype=np.int64)
    end = np.array([bounds[int(s)][1] for s in stem], dtype=np.int64)
    return lower, stem, start, end, np.array(flat, dtype=np.int32)


def empty_head(keys: int) -> np.ndarray:
    """The kernels' key-indexed scratch: all -1, as ``MeteorKeys.head()`` hands it out."""
    return np.full(keys, -1, dtype=np.int32)


def _pairs(seed: int, vocabulary: int = 40, keys: int = 12, n_max: int = 30):
    rng = np.random.default_rng(seed)
    tables = random_tables(rng, vocabulary, keys)
    hyp = rng.integers(0, vocabulary, rng.integers(0, n_max)).astype(np.int32)
    ref = rng.integers(0, vocabulary, rng.integers(0, n_max)).astype(np.int32)
    return hyp, ref, tables


def _alignment_of(ref_of: np.ndarray) -> list[tuple[int, int]]:
    return [(i, int(j)) for i, j in enumerate(ref_of) if j >= 0]


@pytest.mark.parametrize("seed", range(300))
def test_alignment_equals_the_oracle_and_leaves_the_scratch_clean(seed):
    hyp, ref, tables = _pairs(seed)
    head = empty_head(12)
    expected = oracle_alignment(hyp.tolist(), ref.tolist(), tables)
    assert _alignment_of(meteor_align(hyp, ref, *tables, head)) == expected
    assert (head == -1).all()


@pytest.mark.parametrize("seed", range(100))
def test_huge_synonym_sets_take_the_reference_scan_and_equal_the_oracle(seed):
    # every synonym slice holds more than SCAN_ABOVE * 3 keys and references have at most 3
    # tokens, so each pass-3 step scans the reference instead of reading the chain heads
    rng = np.random.default_rng(seed)
    keys = 3 * SCAN_ABOVE + 20
    lower, stem, _, _, _ = random_tables(rng, 30, keys)
    flat: list[int] = []
    start = np.empty(30, dtype=np.int64)
    end = np.empty(30, dtype=np.int64)
    for v in range(30):
        members = {int(stem[v]), *rng.choice(keys, 3 * SCAN_ABOVE + 1, replace=False).tolist()}
        start[v], end[v] = len(flat), len(flat) + len(members)
        flat.extend(sorted(members))
    tables = (lower, stem, start, end, np.array(flat, dtype=np.int32))
    hyp = rng.integers(0, 30, rng.integers(0, 12)).astype(np.int32)
    ref = rng.integers(0, 30, rng.integers(0, 4)).astype(np.int32)
    head = empty_head(keys)
    expected = oracle_alignment(hyp.tolist(), ref.tolist(), tables)
    assert _alignment_of(meteor_align(hyp, ref, *tables, head)) == expected
    assert (head == -1).all()


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), vocabulary=st.integers(1, 60), keys=st.integers(1, 20),
       alpha=st.floats(0, 1), beta=st.floats(0, 6), gamma=st.floats(0, 1))
def test_pair_score_equals_the_oracle(seed, vocabulary, keys, alpha, beta, gamma):
    hyp, ref, tables = _pairs(seed, vocabulary, keys)
    head = empty_head(keys)
    ours = meteor_pair_score(hyp, ref, *tables, head, alpha, beta, gamma)
    assert ours == oracle_score(hyp.tolist(), ref.tolist(), tables, alpha, beta, gamma)
    assert 0.0 <= ours <= 1.0
    assert (head == -1).all()


def test_long_pairs_equal_the_oracle():
    rng = np.random.default_rng(11)
    tables = random_tables(rng, 300, 80, synonyms=40)
    hyp = rng.integers(0, 300, 400).astype(np.int32)
    ref = rng.integers(0, 300, 350).astype(np.int32)
    expected = oracle_alignment(hyp.tolist(), ref.tolist(), tables)
    assert _alignment_of(meteor_align(hyp, ref, *tables, empty_head(80))) == expected
    assert meteor_pair_score(hyp, ref, *tables, empty_head(80), 0.9, 3.0, 0.5) == oracle_score(
        hyp.tolist(), ref.tolist(), tables)


def test_align_pair_reuses_dirty_scratch_rows_and_returns_the_match_count():
    # below/ref_used/ref_of come from the previous pair, longer and full of stale values
    rng = np.random.default_rng(3)
    tables = random_tables(rng, 40, 12)
    lower, stem = tables[0], tables[1]
    head = empty_head(12)
    below = np.full(64, 7, dtype=np.int64)
    ref_used = np.ones(64, dtype=np.bool_)
    ref_of = np.full(64, 5, dtype=np.int64)
    free = np.full(64, 9, dtype=np.int64)
    for _ in range(50):
        hyp = rng.integers(0, 40, rng.integers(0, 30)).astype(np.int32)
        ref = rng.integers(0, 40, rng.integers(0, 30)).astype(np.int32)
        matches = align_pair(hyp, lower[ref], stem[ref], *tables, head, below, ref_used, ref_of,
                             free)
        expected = oracle_alignment(hyp.tolist(), ref.tolist(), tables)
        assert _alignment_of(ref_of[: len(hyp)]) == expected
        assert matches == len(expected)
        assert (head == -1).all()


def _flat(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.concatenate(([0], np.cumsum([len(a) for a in arrays]))).astype(np.int64)
    return np.concatenate(arrays).astype(np.int32), ptr


def test_batch_takes_the_maximum_over_each_hypothesis_range():
    rng = np.random.default_rng(5)
    tables = random_tables(rng, 30, 10)
    hyps = [rng.integers(0, 30, rng.integers(0, 15)).astype(np.int32) for _ in range(20)]
    refs = [rng.integers(0, 30, rng.integers(0, 15)).astype(np.int32) for _ in range(9)]
    first = rng.integers(0, 6, 20)
    stop = first + rng.integers(1, 4, 20)  # overlapping, shared ranges, as in GRPO groups
    hyp_tokens, hyp_ptr = _flat(hyps)
    ref_tokens, ref_ptr = _flat(refs)
    head = empty_head(10)
    out = meteor_batch_scores(hyp_tokens, hyp_ptr, ref_tokens, ref_ptr, first, stop, *tables,
                              head, 0.9, 3.0, 0.5)  # fmt: skip
    for h in range(20):
        expected = max(oracle_score(hyps[h].tolist(), refs[r].tolist(), tables)
                       for r in range(first[h], stop[h]))  # fmt: skip
        assert out[h] == expected
    assert (head == -1).all()
    # hypotheses and references in one shared array, references behind (the front door's form)
    tokens, ptr = _flat(hyps + refs)
    shared = meteor_batch_scores(tokens, ptr[:21], tokens, ptr[20:], first, stop, *tables, head,
                                 0.9, 3.0, 0.5)  # fmt: skip
    assert shared.tolist() == out.tolist()


@pytest.mark.parametrize(("matches", "chunks", "n", "m"), [(0, 1, 3, 4), (2, 1, 0, 4),
                                                           (2, 1, 3, 0), (0, 1, 0, 0)])
def test_scores_are_zero_where_nltk_divides_by_zero(matches, chunks, n, m):
    assert meteor_from_counts(matches, chunks, n, m, 0.9, 3.0, 0.5) == 0.0


def test_unknown_ids_are_those_beyond_or_unmarked_in_the_table():
    known = np.array([True, False, True])
    out = np.full(4, -7, dtype=np.int32)
    assert unknown_ids(np.array([0, 2, 2], dtype=np.int32), known, out) == 0
    assert unknown_ids(np.array([0, 1, 5, 1], dtype=np.int32), known, out) == 3
    assert out.tolist() == [1, 5, 1, -7]
