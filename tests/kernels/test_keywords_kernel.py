"""The keyword trie kernels against a plain-Python oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.kernels.keywords import build_trie, distinct_keywords_batch, match_spans


def oracle_matches(report: list[int], forms: list[list[int]], owners: list[int]):
    """Every (keyword, start, end) by brute force over all spans; the first form owner wins."""
    owner_of: dict[tuple[int, ...], int] = {}
    for form, owner in zip(forms, owners, strict=True):
        if form:
            owner_of.setdefault(tuple(form), owner)
    out = []
    for i in range(len(report)):
        for j in range(i + 1, len(report) + 1):
            owner = owner_of.get(tuple(report[i:j]))
            if owner is not None:
                out.append((owner, i, j))
    return out


def oracle_distinct(report, forms, owners) -> list[int]:
    seen: list[int] = []
    for owner, _, _ in sorted(oracle_matches(report, forms, owners), key=lambda m: (m[1], m[2])):
        if owner not in seen:
            seen.append(owner)
    return seen


def kernel_matches(report, trie):
    ids = np.asarray(report, dtype=np.int32)
    kws, starts, ends = match_spans(
        ids, trie.root_child, trie.child_start, trie.child_token, trie.child_node,
        trie.node_keyword, trie.depth,
    )  # fmt: skip
    return list(zip(kws.tolist(), starts.tolist(), ends.tolist(), strict=True))


def kernel_distinct(reports, trie):
    arrays = [np.asarray(r, dtype=np.int32) for r in reports]
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in arrays])
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
    out_offsets, out = distinct_keywords_batch(
        flat, offsets, trie.root_child, trie.child_start, trie.child_token, trie.child_node,
        trie.node_keyword, trie.n_keywords, trie.child_mask,
    )  # fmt: skip
    # each report's keywords come in no particular order: sorted here (a repeat would stay)
    return [sorted(out[out_offsets[r] : out_offsets[r + 1]].tolist()) for r in range(len(arrays))]


def make_trie(forms, owners):
    return build_trie([np.asarray(f, dtype=np.int32) for f in forms], owners)


tokens = st.integers(min_value=0, max_value=7)  # a small alphabet makes matches frequent
vocabularies = st.lists(st.lists(tokens, min_size=1, max_size=4), min_size=1, max_size=12)
reports = st.lists(st.lists(st.integers(min_value=-2, max_value=12), max_size=30), max_size=6)


@settings(max_examples=300, deadline=None)
@given(forms=vocabularies, data=st.data(), batch=reports)
def test_kernels_agree_with_oracle(forms, data, batch):
    # Several forms may share a keyword (variants), as in the real vocabulary.
    owners = [data.draw(st.integers(min_value=0, max_value=i)) for i in range(len(forms))]
    trie = make_trie(forms, owners)
    for report in batch:
        expected = sorted(oracle_matches(report, forms, owners), key=lambda m: (m[1], m[2]))
        assert kernel_matches(report, trie) == expected
    assert kernel_distinct(batch, trie) == [sorted(oracle_distinct(r, forms, owners))
                                           for r in batch]


def test_nested_and_overlapping_matches_all_reported():
    # 0 1 = "pleural effusion", 1 = "effusion", 1 2 = "effusion left" (overlaps)
    trie = make_trie([[0, 1], [1], [1, 2]], [0, 1, 2])
    assert kernel_matches([0, 1, 2], trie) == [(0, 0, 2), (1, 1, 2), (2, 1, 3)]
    assert kernel_distinct([[0, 1, 2, 1, 1]], trie) == [[0, 1, 2]]


def test_ids_outside_the_trie_and_empty_reports():
    trie = make_trie([[5, 6]], [0])
    assert kernel_matches([], trie) == []
    assert kernel_matches([10**6, -1, 5, 6], trie) == [(0, 2, 4)]
    assert kernel_distinct([[], [5, 6], []], trie) == [[], [0], []]


def test_distinct_batch_grows_its_output_buffer():
    forms = [[i] for i in range(200)]
    trie = make_trie(forms, list(range(200)))
    got = kernel_distinct([list(range(200)), list(range(199, -1, -1))], trie)
    assert got == [list(range(200)), list(range(200))]


def test_build_trie_validates_alignment():
    with pytest.raises(ValueError, match="keyword_of must have one entry per sequence"):
        build_trie([np.array([1], dtype=np.int32)], [0, 1])


def test_empty_forms_are_skipped():
    trie = make_trie([[], [3]], [0, 1])
    assert kernel_matches([3], trie) == [(1, 0, 1)]


@settings(max_examples=200, deadline=None)
@given(forms=st.lists(st.lists(st.sampled_from([1, 5, 69, 133, 64, 0, -1 & 0xFFFF]),
                               min_size=1, max_size=3), min_size=1, max_size=8),
       batch=st.lists(st.lists(st.sampled_from([1, 5, 69, 133, 64, 0, -1, -59, 65535]),
                               max_size=12), max_size=4))
def test_child_tokens_equal_modulo_64_are_told_apart(forms, batch):
    # the child bit mask keys tokens by t % 64 (5, 69, 133; 0, 64; -59 and 5 share bits):
    # a shared bit must only cost the binary search, never a wrong match
    owners = list(range(len(forms)))
    trie = make_trie(forms, owners)
    assert kernel_distinct(batch, trie) == [sorted(oracle_distinct(r, forms, owners))
                                           for r in batch]
