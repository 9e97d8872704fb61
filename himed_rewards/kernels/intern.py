"""Interning byte strings into dense ids: an open-addressing hash table over a byte arena.

The vocabulary's whole state is six arrays: ``arena`` (every token's UTF-8 bytes, one after
the other), per id its ``tok_start``, ``tok_len``, 64-bit FNV-1a ``tok_hash`` and ``tok_word``
(its last ``WORD_BYTES`` bytes packed into a uint64, ``w = w * 256 + byte``), and ``table``
(power-of-two slots holding an id, or -1 when free; linear probing). The Python owner sizes
every array before a call (at most one new token per span, its bytes at most the span's), so
the kernel never allocates and never fails half-way.

Why ``tok_word``: a token of at most ``WORD_BYTES`` bytes (five in six of a report's) is equal
to a candidate exactly when their lengths and packed words are, so finding it needs no
byte-by-byte comparison with the arena, whose loop, of a different length for every token,
cost as much as the rest of the look-up (0.28 of 0.63 us per fresh GRPO pair); the word is
packed in the hash's own loop. Longer tokens are compared byte for byte.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)
_BYTE = np.uint64(256)
WORD_BYTES = 8  # a token this long or shorter is identified by its length and packed word


@kernel
def same_bytes(arena, base, buf, start, length):
    """Whether ``arena[base:base + length]`` equals ``buf[start:start + length]``."""
    for j in range(length):  # noqa: SIM110 (a loop: numba compiles no generator in all())
        if arena[base + j] != buf[start + j]:
            return False
    return True


@kernel
def intern_spans(buf, span_start, span_end, out, arena, tok_start, tok_len, tok_hash, tok_word,
                 table, n_tokens, used):
    """Write the id of ``buf[span_start[k]:span_end[k]]`` to ``out[k]``, adding new tokens.

    Returns the new ``(n_tokens, used)``: the token count and the arena bytes in use.
    """
    mask = table.shape[0] - 1
    for k in range(span_start.shape[0]):
        s = span_start[k]
        e = span_end[k]
        length = e - s
        h = _FNV_OFFSET  # 64-bit FNV-1a of the bytes, and the packed word, in one loop
        w = np.uint64(0)
        for i in range(s, e):
            b = np.uint64(buf[i])
            h = (h ^ b) * _FNV_PRIME
            w = w * _BYTE + b  # wraps past WORD_BYTES bytes: then the last ones
        slot = np.int64(h & np.uint64(mask))
        while True:
            t = table[slot]
            if t < 0:  # free: a new token
                t = n_tokens
                for j in range(length):  # a loop, not a slice copy: numba compiles slice
                    arena[used + j] = buf[s + j]  # assignment with string-formatting errors
                tok_start[t] = used
                tok_len[t] = length
                tok_hash[t] = h
                tok_word[t] = w
                used += length
                n_tokens += 1
                table[slot] = t
                break
            if tok_word[t] == w and tok_len[t] == length:
                if length <= WORD_BYTES:  # the word is the whole token
                    break
                if tok_hash[t] == h and same_bytes(arena, tok_start[t], buf, s, length):
                    break
            slot = (slot + 1) & mask
        out[k] = t
    return n_tokens, used


@kernel
def rebuild_table(table, tok_hash, n_tokens):
    """Fill an all -1 ``table`` with ids ``0..n_tokens-1`` (after it grew)."""
    mask = table.shape[0] - 1
    for t in range(n_tokens):
        slot = np.int64(tok_hash[t] & np.uint64(mask))
        while table[slot] >= 0:
            slot = (slot + 1) & mask
        table[slot] = t
