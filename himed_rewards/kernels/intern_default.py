"""The default tokenizer and interning in one pass over the bytes: ids straight from text.

``intern_default_segments`` finds the tokens of ``DefaultTokenizer``'s rule
(``text.tokenizers``; its regular expressions, exactly, on *ASCII* text already lowercased)
and interns each one as ``intern.intern_spans`` would: the same 64-bit FNV-1a hash and packed
word, the same table, the same ids in the same order, so the vocabulary ends up as it would
after that kernel.

Why one kernel: tokenizing first wrote two int64 offsets per token, and interning then read
every byte again, in a loop of a different length for every token, to hash it. Here each byte
is read once and hashed in the loop that finds its word: 0.56-0.59 against 0.71-0.74 ms for a
fresh GRPO batch's reports (25K tokens; docs/speed_history.md).
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel
from himed_rewards.kernels.intern import _BYTE, _FNV_OFFSET, _FNV_PRIME, WORD_BYTES, same_bytes
from himed_rewards.kernels.tokenize import IS_ALNUM, IS_DIGIT, IS_JOINER, IS_SPACE

#: ``misses`` for a call that is not read-only (not written then)
NO_MISSES = np.empty((3, 0), dtype=np.int64)


def most_new_tokens(n_bytes: int) -> int:
    """The most new tokens :func:`intern_default_segments` can add reading ``n_bytes``
    bytes: each of two bytes or more, or one of the 256 single bytes (the room its owner
    reserves).

    Examples:
        >>> most_new_tokens(10), most_new_tokens(1000)
        (10, 756)
    """
    return min(n_bytes, 256 + n_bytes // 2)


@kernel(nogil=True)
def intern_default_segments(buf, bounds, stride, per_row, ids, offsets, classes, read_only,
                            misses, arena, tok_start, tok_len, tok_hash, tok_word, table,
                            n_tokens, used):
    """The ids of the default tokenizer's tokens of ``per_row`` segments a row, written to
    ``ids`` (room for one per byte), row r's being ``ids[offsets[r]:offsets[r + 1]]``
    (``offsets``: one more than the rows, all written). Segment t is ``buf[bounds[t *
    stride]:bounds[t * stride + 1]]``: ``stride`` 1 reads CSR text offsets (one segment a
    text), 2 the flat start / end pairs of a parse's spans (``kernels.completion``, whose
    ``-1`` spans are empty segments).

    A token is a word (alnum runs chained by single joiners, one token if it holds a digit
    or no joiner, else split into its runs and joiners) or any other non-space byte. New
    tokens are added as ``intern_spans`` adds them (the owner, ``Vocabulary.intern_with``,
    sizes the arrays). ``classes``: ``tokenize.DEFAULT_CLASSES``. Returns ``((ids written,
    misses written), n_tokens, used)``.

    With ``read_only`` the vocabulary is only read (two threads may look up two parts of a
    batch at once, under its owner's lock: ``Vocabulary.frozen``): a token it does not hold
    gets id -1 and a column ``(where in ids, start, end)`` in ``misses`` (``misses[:, k]``
    for the k-th; past its room only counted), for its owner to add afterwards
    (``Vocabulary.intern_held``), in order, so that every id is what interning the parts
    one after the other gives. Without it ``misses`` is not touched (it may be empty).
    """
    mask = table.shape[0] - 1
    n = 0
    n_missed = 0
    offsets[0] = 0
    for t in range((offsets.shape[0] - 1) * per_row):
        i = bounds[t * stride]
        stop = bounds[t * stride + 1]
        parts_end = i  # a word being split into its runs and joiners: its parts in i:parts_end
        while True:
            # the next token, buf[s:e], its FNV-1a hash h and packed word w
            if i < parts_end:  # the next part of a split word (rare: hashed on its own)
                s = i
                e = i + 1
                if classes[buf[i]] & IS_ALNUM:
                    while e < parts_end and classes[buf[e]] & IS_ALNUM:
                        e += 1
                h = _FNV_OFFSET
                w = np.uint64(0)
                for k in range(s, e):
                    x = np.uint64(buf[k])
                    h = (h ^ x) * _FNV_PRIME
                    w = w * _BYTE + x
                i = e
            else:
                while i < stop and classes[buf[i]] & IS_SPACE:
                    i += 1
                if i >= stop:
                    break
                x = np.uint64(buf[i])
                h = (_FNV_OFFSET ^ x) * _FNV_PRIME
                w = x
                s = i
                if not classes[buf[i]] & IS_ALNUM:  # any other character: a token of its own
                    e = i + 1
                    i = e
                else:
                    # a word: alnum runs chained by single joiners, hashed as it is read
                    seen = classes[buf[i]]
                    joined = False
                    j = i + 1
                    while True:
                        while j < stop:
                            cj = classes[buf[j]]
                            if not cj & IS_ALNUM:
                                break
                            seen |= cj
                            x = np.uint64(buf[j])
                            h = (h ^ x) * _FNV_PRIME
                            w = w * _BYTE + x
                            j += 1
                        if (j + 1 < stop and classes[buf[j]] & IS_JOINER
                                and classes[buf[j + 1]] & IS_ALNUM):
                            joined = True
                            x = np.uint64(buf[j])
                            h = (h ^ x) * _FNV_PRIME
                            w = w * _BYTE + x
                            j += 1
                            continue
                        break
                    if joined and not seen & IS_DIGIT:  # split: its parts come next
                        parts_end = j
                        continue
                    e = j
                    i = j
            # its id: intern_spans' look-up, written out here (a shared step, a function
            # with a dozen array arguments, cost 2.1-2.2 ms a batch against 0.6, called
            # or inlined by numba alike)
            length = e - s
            slot = np.int64(h & np.uint64(mask))
            while True:
                found = table[slot]
                if found < 0 and read_only:  # a new token, for the owner to add
                    if n_missed < misses.shape[1]:
                        misses[0, n_missed] = n
                        misses[1, n_missed] = s
                        misses[2, n_missed] = e
                    n_missed += 1  # (more than the room: the owner interns the part again)
                    break
                if found < 0:  # free: a new token
                    found = n_tokens
                    for k in range(length):
                        arena[used + k] = buf[s + k]
                    tok_start[found] = used
                    tok_len[found] = length
                    tok_hash[found] = h
                    tok_word[found] = w
                    table[slot] = found
                    used += length
                    n_tokens += 1
                    break
                if tok_word[found] == w and tok_len[found] == length:
                    if length <= WORD_BYTES:  # the word is the whole token
                        break
                    if tok_hash[found] == h and same_bytes(arena, tok_start[found], buf, s,
                                                           length):
                        break
                slot = (slot + 1) & mask
            ids[n] = found
            n += 1
        if (t + 1) % per_row == 0:  # (the caller's rows, written here: no cumsum after)
            offsets[(t + 1) // per_row] = n
    return (n, n_missed), n_tokens, used
