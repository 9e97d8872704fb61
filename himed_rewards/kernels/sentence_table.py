"""Sentences looked up by their bytes: an open-addressing table for long byte strings.

The offline judge finds a sentence's record by the sentence's bytes (``clinical/records.py``).
The vocabulary's table (``kernels/intern.py``) is made for words: a byte-at-a-time FNV-1a
hash, and per id four arrays (start, length, hash, packed word) read on every look-up. A
sentence is some fifty bytes, so here the hash takes eight bytes a step (a multiply-xorshift
over little-endian words, whose dependency chain is an eighth of FNV's), and each table slot
holds the hash next to the id, so a look-up reads one slot, then, on a hash match, the id's
``(start, length)`` row and its bytes to confirm. Cold caches (the training step between
two reward calls evicts them) make those reads most of the cost, and each sentence's are a
chain (slot, row, bytes); so a batch is hashed first, then each sentence's first slot, row
and byte are read with nothing depending on them (the processor overlaps those misses), and
only then looked up. On fresh GRPO batches after the anchors' run (as ``bench_reward.py``
times them) the look-ups went from 1.07 to 0.76 us a pair; the new hash and slots alone
changed nothing (1.14), the overlapped reads did it. The same reads added to the
vocabulary's interning of words gained nothing (7.13 against 7.27 us a pair for the
low-level reward): its look-ups mostly find frequent words in cache.

``table`` is ``int64[size, 2]``: ``(hash, id)`` per slot, id -1 when free; ``size`` a power of
two, kept at most half full by the owner, who also sizes ``arena`` and ``rows`` before a call
(at most one new sentence per span, its bytes at most the span's), so the kernel never
allocates and never fails half-way.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel
from himed_rewards.kernels.intern import same_bytes

__all__ = ["sentence_hash", "intern_sentences", "rehash_sentences"]

_SEED = np.uint64(0x9E3779B97F4A7C15)
_MULTIPLY = np.uint64(0xBF58476D1CE4E5B9)
_FINAL = np.uint64(0x94D049BB133111EB)


@kernel
def sentence_hash(buf, start, end):
    """A 64-bit hash of ``buf[start:end]``, eight bytes a step."""
    h = _SEED ^ np.uint64(end - start)
    i = start
    while i + 8 <= end:
        # (one OR of shifted bytes, which the compiler turns into one 8-byte load)
        w = (np.uint64(buf[i]) | (np.uint64(buf[i + 1]) << np.uint64(8))
             | (np.uint64(buf[i + 2]) << np.uint64(16)) | (np.uint64(buf[i + 3]) << np.uint64(24))
             | (np.uint64(buf[i + 4]) << np.uint64(32)) | (np.uint64(buf[i + 5]) << np.uint64(40))
             | (np.uint64(buf[i + 6]) << np.uint64(48)) | (np.uint64(buf[i + 7]) << np.uint64(56)))
        h = (h ^ w) * _MULTIPLY
        h ^= h >> np.uint64(31)
        i += 8
    if i < end:
        w = np.uint64(0)
        for j in range(end - 1, i - 1, -1):
            w = (w << np.uint64(8)) | np.uint64(buf[j])
        h = (h ^ w) * _MULTIPLY
        h ^= h >> np.uint64(31)
    h *= _FINAL
    return h ^ (h >> np.uint64(29))


@kernel
def intern_sentences(buf, span_start, span_end, out, arena, rows, table, n, used):
    """Write the id of ``buf[span_start[k]:span_end[k]]`` to ``out[k]``, adding new ones.

    Returns the new ``(n, used)``, the sentence count and the arena bytes in use, and a
    number of no meaning (see the second pass).
    """
    mask = table.shape[0] - 1
    count = span_start.shape[0]
    # Three passes, so that the table's, the rows' and the arena's cache misses of different
    # sentences overlap (each sentence's are a chain: slot, then its row, then its bytes):
    # the hashes; then a read of each sentence's first slot, row and first byte, all
    # independent; then the look-ups proper, which now mostly find those lines in cache.
    hashes = np.empty(count, np.uint64)
    for k in range(count):
        hashes[k] = sentence_hash(buf, span_start[k], span_end[k])
    touched = 0
    for k in range(count):
        t = table[np.int64(hashes[k] & np.uint64(mask)), 1]
        if t >= 0:
            touched += arena[rows[t, 0]]
    for k in range(count):
        s, e = span_start[k], span_end[k]
        length = e - s
        h = hashes[k]
        key = np.int64(h)
        slot = np.int64(h & np.uint64(mask))
        while True:
            t = table[slot, 1]
            if t < 0:  # free: a new sentence
                t = n
                for j in range(length):
                    arena[used + j] = buf[s + j]
                rows[t, 0] = used
                rows[t, 1] = length
                table[slot, 0] = key
                table[slot, 1] = t
                used += length
                n += 1
                break
            if (table[slot, 0] == key and rows[t, 1] == length
                    and same_bytes(arena, rows[t, 0], buf, s, length)):
                break
            slot = (slot + 1) & mask
        out[k] = t
    return n, used, touched  # (touched: returned, so the reads above are not dropped)


@kernel
def rehash_sentences(table, old):
    """Put every ``(hash, id)`` of ``old`` into ``table`` (all ids -1), which grew."""
    mask = table.shape[0] - 1
    for k in range(old.shape[0]):
        if old[k, 1] >= 0:
            slot = np.int64(np.uint64(old[k, 0]) & np.uint64(mask))
            while table[slot, 1] >= 0:
                slot = (slot + 1) & mask
            table[slot, 0] = old[k, 0]
            table[slot, 1] = old[k, 1]
