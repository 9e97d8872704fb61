"""The judge's records of new sentences that differ from one met before only in their numbers.

A new sentence is most often a known one with other numbers ("measuring 2.7 cm"): its record
is its *template*'s (``clinical.records._Store._template``, made from the analysis of a
sentence with the same digit mask) with this sentence's sizes and keys id. Written one
sentence at a time in Python, that took some 3.5 us a sentence, 150 of them in a fresh GRPO
batch; :func:`template_records` writes them all in one pass and leaves the keys ids to its
caller (a dictionary look-up of each sentence's joined keys, which it writes too).

Templates, as the caller lays them out (``meta`` row ``t``): ``(record start, record length,
first number, numbers, first size, sizes, keys start, keys length)``. A template's record is
``blob[start:start + length]``; its numbers are rows of ``numbers``, ``(start, end, offset)``:
the number's bytes in the sentence (relative to the sentence's start; every sentence of a
mask has its numbers at the same places) and where it goes in the template's joined keys,
``keys[start:start + length]`` (the keys joined by ``\\x1f``, each number's own key left out);
its sizes are rows of ``sizes``, ``(index in the record, number)``, with ``scales``.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel
from himed_rewards.kernels.sentence_table import intern_sentences

__all__ = ["number_value", "template_records"]

# 10 ** k for k <= 22, each exact in float64 (5 ** 22 < 2 ** 53)
_POWERS_OF_TEN = np.array([10.0**k for k in range(23)], np.float64)
_EXACT_MANTISSA = 1 << 53


@kernel
def number_value(buf, start, end):
    """``float(buf[start:end])`` of ASCII digits with at most one ".", or -1.0 when this way
    could round otherwise than Python's ``float``: a mantissa of 2**53 or more, or more than
    22 digits after the "." (below both, ``mantissa / 10**k`` is one correctly rounded
    division of two exact numbers: the correctly rounded value, as ``float`` gives)."""
    mantissa = 0
    fraction = -1  # digits after the "." (-1: no "." yet)
    for i in range(start, end):
        c = buf[i]
        if c == 46:  # "."
            fraction = 0
            continue
        mantissa = mantissa * 10 + (c - 48)
        if mantissa >= _EXACT_MANTISSA:
            return -1.0
        if fraction >= 0:
            fraction += 1
    if fraction > 22:
        return -1.0
    if fraction <= 0:
        return float(mantissa)
    return mantissa / _POWERS_OF_TEN[fraction]


@kernel
def template_records(buf, span_start, span_end, masked, mask_arena, mask_rows, mask_table,
                     n_masks, mask_used, template_of, meta, blob, numbers, sizes, scales, keys,
                     max_size, mask_id, status, records, keys_out, keys_span):
    """The records of the sentences ``buf[span_start[m]:span_end[m]]`` (cut, stripped,
    lowercased ASCII) whose digit mask has a template, written one after another to
    ``records``; ``status[m]`` is where sentence ``m``'s record starts there, or -1 when the
    caller is to write it (no digit from 1 to 9, no template for its mask yet, or a number or
    size this kernel does not read as ``_from_template`` would: then that decides).

    Each digit mask (the bytes with 1-9 written 0) is interned in the mask table
    (``mask_arena``, ``mask_rows``, ``mask_table``: a ``kernels/sentence_table`` table with
    ``n_masks`` masks in ``mask_used`` bytes, which the caller has room for, ``masked`` being
    scratch for the masks' bytes) and its id written to ``mask_id[m]`` (-1: no digit from 1
    to 9); ``template_of[id]`` is its template (-1: none), for every id the call can make.
    Each written record's sentence gets its joined keys at ``keys_out[keys_span[m, 0]:
    keys_span[m, 1]]``; the record's keys id (its second item) is left to the caller.

    Returns ``(n_masks, mask_used, record floats written, key bytes written)``.
    """
    count = span_start.shape[0]
    mask_start = np.empty(count, np.int64)
    mask_end = np.empty(count, np.int64)
    which = np.empty(count, np.int64)  # the sentence of each mask
    n_masked = 0
    at = 0
    for m in range(count):
        status[m] = -1
        mask_id[m] = -1
        s, e = span_start[m], span_end[m]
        digit = False
        for i in range(s, e):
            c = buf[i]
            if 49 <= c <= 57:  # 1-9
                digit = True
                masked[at + i - s] = 48
            else:
                masked[at + i - s] = c
        if digit:
            mask_start[n_masked] = at
            mask_end[n_masked] = at + e - s
            which[n_masked] = m
            n_masked += 1
            at += e - s
    ids = np.empty(n_masked, np.int64)
    n_masks, mask_used, _ = intern_sentences(masked, mask_start[:n_masked], mask_end[:n_masked],
                                             ids, mask_arena, mask_rows, mask_table, n_masks,
                                             mask_used)
    r_at = 0
    k_at = 0
    for j in range(n_masked):
        m = which[j]
        mask_id[m] = ids[j]
        t = template_of[ids[j]]
        if t < 0:
            continue
        s = span_start[m]
        first_number = meta[t, 2]
        # the template's record, then this sentence's sizes in place (a declined sentence's
        # record is not kept: the next one overwrites it)
        start, length = meta[t, 0], meta[t, 1]
        for i in range(length):
            records[r_at + i] = blob[start + i]
        fine = True
        for z in range(meta[t, 4], meta[t, 4] + meta[t, 5]):
            row = first_number + sizes[z, 1]
            value = number_value(buf, s + numbers[row, 0], s + numbers[row, 1])
            size = value * scales[z]
            if value < 0.0 or not 0.0 < size < max_size:
                fine = False
                break
            records[r_at + sizes[z, 0]] = size
        if not fine:
            continue
        status[m] = r_at
        r_at += length
        # the joined keys: the template's, each number's bytes put in at its offset
        keys_span[m, 0] = k_at
        done = 0
        key_start = meta[t, 6]
        for row in range(first_number, first_number + meta[t, 3]):
            offset = numbers[row, 2]
            for i in range(done, offset):
                keys_out[k_at] = keys[key_start + i]
                k_at += 1
            done = offset
            for i in range(s + numbers[row, 0], s + numbers[row, 1]):
                keys_out[k_at] = buf[i]
                k_at += 1
        for i in range(done, meta[t, 7]):
            keys_out[k_at] = keys[key_start + i]
            k_at += 1
        keys_span[m, 1] = k_at
    return n_masks, mask_used, r_at, k_at
