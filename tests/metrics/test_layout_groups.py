"""``layout_for_encoded`` (the reward's layout: one reference a group, its grouping arrays
from one kernel, ``kernels.groups``) against ``layout_from_csr`` (numpy's argsort, bincount and
cumsum) on any grouping."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.kernels.groups import one_reference_groups
from himed_rewards.metrics._layout import layout_for_encoded, layout_from_csr
from himed_rewards.text.tokenizers import get_tokenizer

FIELDS = ("hyp_ids", "hyp_offsets", "ref_ids", "ref_offsets", "group_ref_offsets",
          "group_hyp_offsets", "hyp_index", "hyp_group")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["no effusion.", "heart size normal.", "", "a b c", "x"]),
                max_size=40))
def test_the_reward_layout_equals_the_general_one(references):
    tokenizer = get_tokenizer("default")
    hyp_ids, hyp_offsets = tokenizer.encode_batch([r + " more" for r in references])
    got = layout_for_encoded(hyp_ids, hyp_offsets, references, tokenizer)
    distinct = list(dict.fromkeys(references))
    ref_ids, ref_offsets = tokenizer.encode_batch(distinct)
    hyp_group = np.array([distinct.index(r) for r in references], dtype=np.int64)
    want = layout_from_csr(hyp_ids, hyp_offsets, ref_ids, ref_offsets, [1] * len(distinct),
                           hyp_group)
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.tolist() == b.tolist(), name


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6).flatmap(
    lambda g: st.tuples(st.just(g), st.lists(st.integers(0, g - 1), max_size=50))))
def test_the_kernel_is_a_stable_argsort_and_counts(case):
    n_groups, groups = case
    hyp_group = np.array(groups, dtype=np.int64)
    group_ref_offsets = np.empty(n_groups + 1, dtype=np.int64)
    group_hyp_offsets = np.empty(n_groups + 1, dtype=np.int64)
    hyp_index = np.empty(len(groups), dtype=np.int64)
    one_reference_groups(hyp_group, group_ref_offsets, group_hyp_offsets, hyp_index)
    assert group_ref_offsets.tolist() == list(range(n_groups + 1))
    counts = np.bincount(hyp_group, minlength=n_groups)
    assert group_hyp_offsets.tolist() == [0, *np.cumsum(counts).tolist()]
    assert hyp_index.tolist() == np.argsort(hyp_group, kind="stable").tolist()
