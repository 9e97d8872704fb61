"""The format check of Eq. 7 and the report spans of many completions, over their bytes.

``report_spans`` reproduces ``himed_rewards.rewards.format._well_formed_sections`` exactly on
*ASCII* text (its front door, ``rewards.format_batch``, sends nothing else): a completion is
well formed when each of the six tags occurs exactly once, in order, with only whitespace
(Python's ``str.isspace`` on ASCII: the ``SPACE`` table of ``kernels.tokenize``) around and
between the blocks, and non-blank finding and impression bodies. For those it writes the
stripped bodies' byte spans, and their lowercased bytes (what the default tokenizer reads);
for the others, -1.

Why the count and the first position of each tag are enough: Python's version asks for
``count == 1`` of every tag (or exactly six ``<`` and every tag found, which is the same:
six distinct tag occurrences then use up all six ``<``), then compares the first positions.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels._config import kernel

TAG_TEXT = ("<think>", "</think>", "<finding>", "</finding>", "<impression>", "</impression>")
TAG_BYTES = np.frombuffer("".join(TAG_TEXT).encode("ascii"), dtype=np.uint8)
TAG_OFFSETS = np.cumsum([0, *map(len, TAG_TEXT)]).astype(np.int64)
LOWER = np.arange(256, dtype=np.uint8)
LOWER[65:91] += 32  # str.lower on ASCII


@kernel
def _tag_at(buf, i, stop, tags, t0, t1):
    """Whether ``tags[t0:t1]`` occurs in ``buf`` at ``i`` (before ``stop``)."""
    if i + (t1 - t0) > stop:
        return False
    for k in range(t1 - t0):  # noqa: SIM110 (a loop: numba compiles no generator in all())
        if buf[i + k] != tags[t0 + k]:
            return False
    return True


@kernel
def _blank(buf, start, stop, space):
    for i in range(start, stop):  # noqa: SIM110 (as above)
        if not space[buf[i]]:
            return False
    return True


@kernel
def _strip(buf, start, stop, space):
    """``(start, stop)`` of ``buf[start:stop].strip()``."""
    while start < stop and space[buf[start]]:
        start += 1
    while stop > start and space[buf[stop - 1]]:
        stop -= 1
    return start, stop


@kernel(nogil=True)
def report_spans(buf, text_offsets, lo, hi, tags, tag_offsets, space, lower, lowered, spans,
                 formats):
    """Per text ``t`` in ``lo:hi`` (``buf[text_offsets[t]:text_offsets[t + 1]]``),
    ``spans[t]`` = (finding start, finding end, impression start, impression end) of the
    stripped bodies if the text is well formed, else all -1, and ``formats[t]`` (float64) its
    format reward, 1.0 or -1.0. Returns the number of well-formed texts in ``lo:hi`` and their
    bodies' bytes in all.

    ``lowered`` (as long as ``buf``) receives the lowercased bytes of the bodies. Texts are
    independent: two threads may parse two ranges of one batch at once (no GIL held).
    """
    n_tags = tag_offsets.shape[0] - 1
    first = np.empty(n_tags, dtype=np.int64)
    count = np.empty(n_tags, dtype=np.int64)
    n_good = 0
    body_bytes = 0
    for t in range(lo, hi):
        start = text_offsets[t]
        stop = text_offsets[t + 1]
        for c in range(4):
            spans[t, c] = -1
        formats[t] = -1.0
        for k in range(n_tags):
            first[k] = -1
            count[k] = 0
        for i in range(start, stop):
            if buf[i] != 60:
                continue
            # "<": which tag, if any, starts here (at most one can)
            for k in range(n_tags):
                if _tag_at(buf, i, stop, tags, tag_offsets[k], tag_offsets[k + 1]):
                    count[k] += 1
                    if first[k] < 0:
                        first[k] = i
                    break
        good = True
        for k in range(n_tags):
            if count[k] != 1:
                good = False
        if not good:
            continue
        for k in range(n_tags - 1):
            if first[k] >= first[k + 1]:
                good = False
        if not good:
            continue
        # whitespace only before, between and after the blocks
        if not (_blank(buf, start, first[0], space)
                and _blank(buf, first[1] + tag_offsets[2] - tag_offsets[1], first[2], space)
                and _blank(buf, first[3] + tag_offsets[4] - tag_offsets[3], first[4], space)
                and _blank(buf, first[5] + tag_offsets[6] - tag_offsets[5], stop, space)):
            continue
        f0, f1 = _strip(buf, first[2] + tag_offsets[3] - tag_offsets[2], first[3], space)
        i0, i1 = _strip(buf, first[4] + tag_offsets[5] - tag_offsets[4], first[5], space)
        if f0 == f1 or i0 == i1:
            continue
        spans[t, 0] = f0
        spans[t, 1] = f1
        spans[t, 2] = i0
        spans[t, 3] = i1
        for i in range(f0, f1):
            lowered[i] = lower[buf[i]]
        for i in range(i0, i1):
            lowered[i] = lower[buf[i]]
        formats[t] = 1.0
        n_good += 1
        body_bytes += f1 - f0 + i1 - i0
    return n_good, body_bytes


@kernel
def report_texts(lowered, spans, out, text_start, text_end):
    """The lowercased report of every well-formed row of ``spans`` (as :func:`report_spans`
    writes them): its finding, a newline, its impression (what
    ``rewards.format_batch.ParsedCompletions.reports`` joins, lowercased), one after the other
    in ``out`` (room for ``len(lowered)`` plus one byte per row), row ``t``'s being
    ``out[text_start[t]:text_end[t]]`` (empty for a row that is not well formed). Returns the
    bytes written."""
    at = 0
    for t in range(spans.shape[0]):
        text_start[t] = at
        if spans[t, 0] >= 0:
            for i in range(spans[t, 0], spans[t, 1]):
                out[at] = lowered[i]
                at += 1
            out[at] = 10  # "\n"
            at += 1
            for i in range(spans[t, 2], spans[t, 3]):
                out[at] = lowered[i]
                at += 1
        text_end[t] = at
    return at
