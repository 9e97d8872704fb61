"""The judge's look-ups of a batch's sentence records, in two passes over its sentences:
what ``clinical.records._Store.reports_in`` would get from a dozen numpy operations
(fancy indexing, ``unique``, ``bincount``, ``cumsum``), each of which costs some 10-40 us on
the cold caches a training step leaves, more than the work itself (docs/speed_history.md).
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel


@kernel
def first_new_sentences(ids, record_of, where):
    """The positions in ``ids`` (sentence ids) of the first occurrence of each id whose
    record is not written yet (``record_of[id] == -1``), by ascending id (as
    ``np.unique(ids[new], return_index=True)`` orders them), written to ``where``; returns
    how many."""
    n_new = 0
    for k in range(ids.shape[0]):
        if record_of[ids[k]] == -1:
            where[n_new] = k
            n_new += 1
    if n_new == 0:
        return 0
    # by id, then by position (a stable sort of the positions, which ascend, by their ids)
    new_ids = np.empty(n_new, dtype=np.int64)
    for m in range(n_new):
        new_ids[m] = ids[where[m]]
    order = np.argsort(new_ids, kind="mergesort")
    first = where[:n_new].copy()
    n_first = 0
    for m in range(n_new):
        if m == 0 or new_ids[order[m]] != new_ids[order[m - 1]]:
            where[n_first] = first[order[m]]
            n_first += 1
    return n_first


@kernel
def records_by_text(ids, record_of, span_text, plain, records, lo, hi):
    """The written records (``record_of[id] >= 0``) of the sentences ``ids``, in order, to
    ``records``; sentence k belongs to text ``plain[span_text[k]]`` (``span_text`` ascending),
    whose records are then ``records[lo[t]:hi[t]]``; ``lo`` and ``hi`` are 0 for the texts not
    in ``plain``. Returns how many records were written."""
    counts = np.zeros(plain.shape[0], dtype=np.int64)
    n_records = 0
    for k in range(ids.shape[0]):
        record = record_of[ids[k]]
        if record >= 0:
            records[n_records] = record
            n_records += 1
            counts[span_text[k]] += 1
    for t in range(lo.shape[0]):
        lo[t] = 0
        hi[t] = 0
    at = 0
    for j in range(plain.shape[0]):
        lo[plain[j]] = at
        at += counts[j]
        hi[plain[j]] = at
    return n_records
