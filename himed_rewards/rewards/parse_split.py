"""A big batch parsed, and its tokens looked up, in two threads at once.

The serial front end of the low-level reward parses the completions (``report_spans``), then
interns the reports' tokens, then the references' (``DefaultTokenizer``): about 2.3 us a
pair on fresh GRPO batches, all in the calling thread. :func:`parse_and_look_up` cuts the
completions in two: the pool's thread parses the second part and looks up its tokens while
the calling thread does the first part, then the references. Looking up does not write the
vocabulary (``intern_default_segments``' read-only mode, under ``Vocabulary.frozen``), so
both threads may read it at once; the tokens it does not hold are added afterwards, in the
order they came: the completions' then (with any completion the kernel does not parse, which
``ParsedCompletions.encode`` adds) the references' (:meth:`LookedUpReferences.interned`).
Every id is then what the serial path gives, id for id.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels.completion import LOWER, TAG_BYTES, TAG_OFFSETS, report_spans
from himed_rewards.kernels.intern_default import NO_MISSES, intern_default_segments, most_new_tokens
from himed_rewards.kernels.tokenize import DEFAULT_CLASSES, SPACE
from himed_rewards.metrics._layout import reference_groups
from himed_rewards.rewards.threads import submit
from himed_rewards.text.base import offsets_of
from himed_rewards.text.vocabulary import VOCAB

__all__ = ["LookedUpReferences", "parse_and_look_up"]

# The calling thread's share of the work: the pool's thread starts its part later (some
# 50 us after submit, on a virtual machine's idle core).
_CALLER_SHARE = 0.55
# The cost of a completion's byte (parsed, and looked up if in a report body) against a
# reference's (looked up): 4.5 against 4.1 ns on fresh GRPO batches.
_COMPLETION_BYTE = 1.1
# Room for the tokens a part's look-up does not find: a fresh GRPO batch's 512 reports bring
# about 5 when the vocabulary is in its steady state. A part with more is interned again, on
# the serial path (its ids are the same).
_MISSES_ROOM = 1024


class LookedUpReferences:
    """The references of a batch as the split parse looked them up: their groups (as
    ``metrics._layout.reference_groups`` makes them), and their tokens' ids but for those the
    vocabulary did not hold, which :meth:`interned` adds."""

    __slots__ = ("references", "generation", "hyp_group", "_buf", "_ids", "_offsets",
                 "_misses", "_missed")

    def __init__(self, references: list[str], generation: int, hyp_group: np.ndarray,
                 buf: np.ndarray, ids: np.ndarray, offsets: np.ndarray, misses: np.ndarray,
                 missed: int) -> None:
        self.references = references
        self.generation = generation
        self.hyp_group = hyp_group
        self._buf, self._ids, self._offsets = buf, ids, offsets
        self._misses, self._missed = misses, missed

    @property
    def distinct(self) -> int:
        """How many distinct references (groups) the batch has."""
        return self._offsets.shape[0] - 1

    def interned(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(ids, offsets)`` of the distinct references, their missed tokens added now (after
        the completions'); None when the look-up missed more than its room, or when the
        vocabulary has been recycled since (the caller then encodes them again)."""
        if self._missed > _MISSES_ROOM or self.generation != VOCAB.generation:
            return None
        if self._missed:
            where = self._misses[:, :self._missed]
            self._ids[where[0]] = VOCAB.intern_spans(self._buf, where[1], where[2])
            self._missed = 0
        return self._ids, self._offsets


def parse_and_look_up(buf: np.ndarray, offsets: np.ndarray, lowered: np.ndarray,
                      spans: np.ndarray, formats: np.ndarray, references: list[str] | None
                      ) -> tuple[int, int, tuple[int, np.ndarray, np.ndarray],
                                 LookedUpReferences | None]:
    """``report_spans`` of the completions ``buf[offsets[t]:offsets[t + 1]]`` (writing
    ``lowered``, ``spans`` and ``formats`` as it does), the default tokenizer's ids of their
    report bodies, and the references' lookup, in two threads. Returns ``(good, body bytes,
    (generation, ids, row offsets), references)``; ``references`` is None when none were
    given or they are not all ASCII (the caller encodes them).

    Examples:
        >>> texts = ["<think>a</think><finding>No effusion.</finding><impression>Clear."
        ...          "</impression>"] * 2
        >>> buf = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8)
        >>> offsets = np.array([0, len(texts[0]), 2 * len(texts[0])])
        >>> lowered, spans, formats = np.empty_like(buf), np.empty((2, 4), np.int64), np.empty(2)
        >>> good, _, (_, ids, rows), refs = parse_and_look_up(buf, offsets, lowered, spans,
        ...                                                   formats, ["No effusion."] * 2)
        >>> good, formats.tolist(), VOCAB.tokens(ids[rows[1]:rows[2]])
        (2, [1.0, 1.0], ['no', 'effusion', '.', 'clear', '.'])
        >>> refs.distinct, refs.hyp_group.tolist(), VOCAB.tokens(refs.interned()[0])
        (1, [0, 0], ['no', 'effusion', '.'])
    """
    n = spans.shape[0]
    total = int(offsets[n])
    # (the references' Python before the pool's thread starts: it needs the GIL to start,
    # and between its two kernels)
    ready = None if references is None else _references_ready(references)
    ref_bytes = 0 if ready is None else ready[3].shape[0]
    # the first part: the calling thread's share of the work, less the references'
    work = _CALLER_SHARE * (_COMPLETION_BYTE * total + ref_bytes) - ref_bytes
    h = min(max(int(np.searchsorted(offsets, work / _COMPLETION_BYTE)), 1), n - 1)
    a_bytes = int(offsets[h])
    ids = np.empty(total, dtype=np.int32)  # (the first part's from 0, the second's from a_bytes)
    row_offsets = np.empty(n + 1, dtype=np.int64)
    second_offsets = np.empty(n - h + 1, dtype=np.int64)
    misses = (np.empty((3, _MISSES_ROOM), dtype=np.int64),
              np.empty((3, _MISSES_ROOM), dtype=np.int64))
    reading = lowered.view()
    reading.setflags(write=False)  # (the look-up's specialisation: see parse_completions)
    bounds = spans.reshape(-1)

    def segments(lo: int, hi: int, at: int, rows: np.ndarray) -> tuple:
        # intern_default_segments' first arguments for the report bodies of texts lo:hi
        return reading, bounds[4 * lo:4 * hi], 2, 2, ids[at:], rows, DEFAULT_CLASSES

    def part(lo: int, hi: int, at: int, rows: np.ndarray, misses: np.ndarray,
             tables: tuple) -> tuple[int, int, int, int]:
        good, body_bytes = report_spans(buf, offsets, lo, hi, TAG_BYTES, TAG_OFFSETS, SPACE,
                                        LOWER, lowered, spans, formats)
        (count, missed), _, _ = intern_default_segments(*segments(lo, hi, at, rows), True,
                                                        misses, *tables, 0, 0)
        return good, body_bytes, count, missed

    looked_up = None
    with VOCAB.frozen() as tables:
        pending = submit(lambda: part(h, n, a_bytes, second_offsets, misses[1], tables))
        first = part(0, h, 0, row_offsets[:h + 1], misses[0], tables)
        if ready is not None:
            looked_up = _look_up_references(*ready, tables)
        # (not started: the pool's thread is busy with other callers' work; done here)
        second = (part(h, n, a_bytes, second_offsets, misses[1], tables) if pending.cancel()
                  else pending.result())
        if first[3] > _MISSES_ROOM or second[3] > _MISSES_ROOM:
            # more new tokens than the room (a new vocabulary, a recycle): interned serially
            for lo, hi, at, rows in ((0, h, 0, row_offsets[:h + 1]),
                                     (h, n, a_bytes, second_offsets)):
                VOCAB.intern_held_with(intern_default_segments,
                                       (*segments(lo, hi, at, rows), False, NO_MISSES),
                                       most_new_tokens(total), total)
        elif first[3] or second[3]:  # the tokens neither found, added in the order they came
            where = np.concatenate((misses[0][:, :first[3]], misses[1][:, :second[3]]), axis=1)
            where[0, first[3]:] += a_bytes
            ids[where[0]] = VOCAB.intern_held(reading, where[1], where[2])
        generation = VOCAB.generation
    count = first[2] + second[2]
    ids[first[2]:count] = ids[a_bytes:a_bytes + second[2]]
    row_offsets[h + 1:] = second_offsets[1:] + first[2]
    return (first[0] + second[0], first[1] + second[1], (generation, ids[:count], row_offsets),
            looked_up)


def _references_ready(references: list[str]) -> tuple | None:
    """The distinct references' groups and lowercased bytes, as ``DefaultTokenizer`` reads
    them (``encode_batch``: ASCII text lowercased whole); None when they are not all ASCII
    or hold no byte (the caller encodes them)."""
    distinct, hyp_group = reference_groups(references)
    text = "".join(distinct)
    if not text or not text.isascii():
        return None
    buf = np.frombuffer(text.lower().encode("ascii"), dtype=np.uint8)
    return references, distinct, hyp_group, buf, offsets_of(map(len, distinct), len(distinct))


def _look_up_references(references: list[str], distinct: list[str], hyp_group: np.ndarray,
                        buf: np.ndarray, text_offsets: np.ndarray,
                        tables: tuple) -> LookedUpReferences:
    ids = np.empty(buf.shape[0], dtype=np.int32)
    offsets = np.empty(len(distinct) + 1, dtype=np.int64)
    misses = np.empty((3, _MISSES_ROOM), dtype=np.int64)
    (count, missed), _, _ = intern_default_segments(
        buf, text_offsets, 1, 1, ids, offsets, DEFAULT_CLASSES, True, misses, *tables, 0, 0)
    # (under the lock, inside a session: the generation cannot change until the ids are used)
    return LookedUpReferences(references, VOCAB.generation, hyp_group, buf, ids[:count],
                              offsets, misses, missed)
