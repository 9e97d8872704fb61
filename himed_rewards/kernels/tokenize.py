"""Tokenizers over ASCII / UTF-8 bytes that emit token spans (``start``, ``end``) directly.

Each kernel reproduces one Python tokenizer of ``himed_rewards.text.tokenizers`` exactly on
the inputs its front door sends it (the front door checks the precondition):

* the reward tokenizer's rule on *ASCII* text already lowercased is in
  ``kernels.intern_default``, which interns its tokens as it finds them (its byte classes,
  ``DEFAULT_CLASSES``, are here);
* ``rewrite_13a``: sacrebleu 13a's four rewriting rules on *ASCII* text (its string
  replacements done), with ``member_runs`` (``NOT_SPACE``) after it;
* ``member_runs`` with ``NOT_SPACE``: ``str.split()`` on *ASCII* text (13a's last step, and
  ``whitespace``);
* ``member_runs`` with ``LOWER_ALNUM``: runs of ``[a-z0-9]`` (rouge-score's tokenizer without
  stemming) on the UTF-8 bytes of any text already lowercased: every other byte, non-ASCII
  ones included, is a separator, exactly as rouge-score's ``[^a-z0-9]+`` is.

``text_offsets[t]:text_offsets[t + 1]`` are text t's bytes; tokens never cross texts.
``counts[t]`` receives text t's token count; span arrays must hold one slot per byte.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel


def _byte_classes() -> tuple[np.ndarray, ...]:
    alnum = np.zeros(256, dtype=np.bool_)
    for lo, hi in ((48, 57), (65, 90), (97, 122)):
        alnum[lo : hi + 1] = True
    # Python's str.isspace() on ASCII (what regex \s and str.split() use): \t..\r, \x1c..\x1f, " "
    space = np.zeros(256, dtype=np.bool_)
    space[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
    joiner = np.zeros(256, dtype=np.bool_)
    joiner[[ord(c) for c in ".,-/:"]] = True
    digit = np.zeros(256, dtype=np.bool_)
    digit[48:58] = True
    lower_alnum = np.zeros(256, dtype=np.bool_)
    lower_alnum[48:58] = True
    lower_alnum[97:123] = True
    return alnum, space, joiner, digit, lower_alnum


ALNUM, SPACE, JOINER, DIGIT, LOWER_ALNUM = _byte_classes()
NOT_SPACE = ~SPACE
# The default tokenizer's classes of a byte as bits of one table, so a byte costs one look-up (with
# a table per class, the word loop read two per byte: 0.45 -> 0.34 us per fresh GRPO pair)
IS_ALNUM, IS_DIGIT, IS_SPACE, IS_JOINER = 1, 2, 4, 8
DEFAULT_CLASSES = (ALNUM * IS_ALNUM | DIGIT * IS_DIGIT | SPACE * IS_SPACE
                   | JOINER * IS_JOINER).astype(np.uint8)
# 13a's first rule, r"([\{-\~\[-\` -\&\(-\+\:-\@\/])" -> r" \1 ": the characters it pads
PAD_13A = np.zeros(256, dtype=np.bool_)
for _lo, _hi in ((123, 126), (91, 96), (32, 38), (40, 43), (58, 64), (47, 47)):
    PAD_13A[_lo : _hi + 1] = True


@kernel
def member_runs(buf, text_offsets, span_start, span_end, counts, member):
    """Maximal runs of bytes ``b`` with ``member[b]``, per text; returns the span count.

    ``member=LOWER_ALNUM``: rouge-score's ``[a-z0-9]+`` runs; ``member=NOT_SPACE``:
    ``str.split()`` on ASCII text.
    """
    n = 0
    for t in range(text_offsets.shape[0] - 1):
        i = text_offsets[t]
        stop = text_offsets[t + 1]
        first = n
        while i < stop:
            if not member[buf[i]]:
                i += 1
                continue
            j = i + 1
            while j < stop and member[buf[j]]:
                j += 1
            span_start[n] = i
            span_end[n] = j
            n += 1
            i = j
        counts[t] = n - first
    return n


@kernel
def _rewrite_pass(src, n, dst, rule, digit):
    """One of 13a's three two-character rules over ``src[:n]`` into ``dst``; returns the length.

    Python's ``re.sub`` finds leftmost non-overlapping matches: a match consumes both
    characters and the scan resumes after them; otherwise it moves on by one. Rules:
    0: ``([^0-9])([\\.,])`` -> ``\\1 \\2 ``; 1: ``([\\.,])([^0-9])`` -> `` \\1 \\2``;
    2: ``([0-9])(-)`` -> ``\\1 \\2 ``.
    """
    i = 0
    m = 0
    while i < n:
        if i + 1 < n:
            a = src[i]
            b = src[i + 1]
            if rule == 0:
                hit = (not digit[a]) and (b == 46 or b == 44)
            elif rule == 1:
                hit = (a == 46 or a == 44) and not digit[b]
            else:
                hit = digit[a] and b == 45
            if hit:
                if rule == 1:
                    dst[m] = 32
                    dst[m + 1] = a
                    dst[m + 2] = 32
                    dst[m + 3] = b
                else:
                    dst[m] = a
                    dst[m + 1] = 32
                    dst[m + 2] = b
                    dst[m + 3] = 32
                m += 4
                i += 2
                continue
        dst[m] = src[i]
        m += 1
        i += 1
    return m


@kernel
def rewrite_13a(buf, text_offsets, out, out_offsets, digit, pad):
    """13a's four rules on each ASCII text; ``out`` must hold 24 bytes per input byte (the
    padding rule at most triples a text, the others at most double it). Writes the
    rewritten texts one after the other, with their offsets."""
    longest = 0
    for t in range(text_offsets.shape[0] - 1):
        longest = max(longest, text_offsets[t + 1] - text_offsets[t])
    padded = np.empty(3 * longest + 1, dtype=np.uint8)
    first = np.empty(6 * longest + 1, dtype=np.uint8)
    second = np.empty(12 * longest + 1, dtype=np.uint8)
    at = 0
    out_offsets[0] = 0
    for t in range(text_offsets.shape[0] - 1):
        n0 = 0
        for i in range(text_offsets[t], text_offsets[t + 1]):
            c = buf[i]
            if pad[c]:
                padded[n0] = 32
                padded[n0 + 1] = c
                padded[n0 + 2] = 32
                n0 += 3
            else:
                padded[n0] = c
                n0 += 1
        n1 = _rewrite_pass(padded, n0, first, 0, digit)
        n2 = _rewrite_pass(first, n1, second, 1, digit)
        n3 = _rewrite_pass(second, n2, out[at:], 2, digit)
        at += n3
        out_offsets[t + 1] = at
    return at
