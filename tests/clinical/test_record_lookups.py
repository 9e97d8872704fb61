"""The judge's record look-ups of a batch (``kernels/records.py``) against the numpy
operations ``clinical.records._Store.reports_in`` used before them, on any batch."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.kernels.records import first_new_sentences, records_by_text

# sentence ids of a batch (repeats, unsorted) and each id's record: -1 not written yet, -2
# written as nothing to judge, else a record number
BATCH = st.integers(1, 12).flatmap(lambda n_ids: st.tuples(
    st.lists(st.integers(0, n_ids - 1), max_size=40),
    st.lists(st.sampled_from([-1, -2, 0, 3, 7]), min_size=n_ids, max_size=n_ids)))


@settings(max_examples=300, deadline=None)
@given(BATCH)
def test_first_new_sentences_are_numpys_unique_first_occurrences(batch):
    ids, record_of = np.array(batch[0], np.int64), np.array(batch[1], np.int64)
    where = np.empty(ids.shape[0], np.int64)
    got = where[:first_new_sentences(ids, record_of, where)]
    new = record_of[ids] == -1
    _, first = np.unique(ids[new], return_index=True)
    assert got.tolist() == np.flatnonzero(new)[first].tolist()


@settings(max_examples=300, deadline=None)
@given(BATCH, st.data())
def test_records_by_text_are_numpys_gather_bincount_and_cumsum(batch, data):
    ids, record_of = np.array(batch[0], np.int64), np.array(batch[1], np.int64)
    n = data.draw(st.integers(1, 8))
    plain = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1)))
    span_text = np.sort(np.array(data.draw(st.lists(st.integers(0, len(plain) - 1),
                                                    min_size=len(ids), max_size=len(ids))),
                                 np.int64))
    records = np.empty(ids.shape[0], np.int64)
    lo, hi = np.full(n, 99, np.int64), np.full(n, 99, np.int64)
    m = records_by_text(ids, record_of, span_text, np.array(plain, np.int64), records, lo, hi)
    # what reports_in computed with numpy
    all_records = record_of[ids]
    kept = all_records >= 0
    counts = np.bincount(span_text[kept], minlength=len(plain))
    want_hi, want_lo = np.zeros(n, np.int64), np.zeros(n, np.int64)
    want_hi[plain] = np.cumsum(counts)
    want_lo[plain] = want_hi[plain] - counts
    assert records[:m].tolist() == all_records[kept].tolist()
    assert lo.tolist() == want_lo.tolist() and hi.tolist() == want_hi.tolist()
