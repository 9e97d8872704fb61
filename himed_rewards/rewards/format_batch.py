"""A whole batch of completions parsed at once: formats, report texts and report token ids.

:func:`parse_completions` gives every completion exactly what
:func:`~himed_rewards.rewards.format.parse_completion` gives it (report text, format reward).
Well-formed ASCII completions, training's common case, are checked by one kernel call over
their bytes (``himed_rewards.kernels.completion``), and the default tokenizer then reads their
report bodies in place: no report string is built unless asked for (the semantic judge needs
the texts, the low-level reward only the ids). Any other completion goes through
``parse_completion`` itself.

With two threads, a big batch is parsed in two parts at once, each thread looking up its
part's tokens as it goes (``rewards.parse_split``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from himed_rewards.kernels._config import LazyKernel
from himed_rewards.kernels.completion import (
    LOWER,
    TAG_BYTES,
    TAG_OFFSETS,
    report_spans,
    report_texts,
)
from himed_rewards.kernels.intern_default import intern_default_segments
from himed_rewards.kernels.tokenize import SPACE
from himed_rewards.rewards.format import parse_completion
from himed_rewards.rewards.parse_split import LookedUpReferences, parse_and_look_up
from himed_rewards.rewards.threads import get_num_threads
from himed_rewards.text.base import Tokenizer, concat_ids, offsets_of
from himed_rewards.text.tokenizers import DefaultTokenizer
from himed_rewards.text.vocabulary import VOCAB

__all__ = ["ParsedCompletions", "gather_reports", "gather_room", "parse_completions"]


class ParsedCompletions:
    """The parse of a batch (see :func:`parse_completions`).

    ``formats`` is the list of format rewards (``format_array`` the same as a float64
    array); :meth:`reports` the report texts;
    :meth:`encode` their interned token ids; ``lowered`` and ``spans`` where the well-formed
    ASCII completions' report bodies lie, lowercased (what the offline judge reads:
    :func:`gather_reports`).
    """

    __slots__ = ("completions", "formats", "format_array", "lowered", "spans", "_slow",
                 "_slow_reports", "_reports", "_offsets", "_body_bytes", "_encoded",
                 "_references")

    def __init__(self, completions: list[str], formats: list[float], format_array: np.ndarray,
                 lowered: np.ndarray, offsets: np.ndarray, spans: np.ndarray, slow: list[int],
                 slow_reports: list[str], body_bytes: int,
                 encoded: tuple[int, np.ndarray, np.ndarray] | None = None,
                 references: LookedUpReferences | None = None) -> None:
        self.completions = completions
        #: the format rewards, as floats and as a float64 array (what the kernels read)
        self.formats = formats
        self.format_array = format_array
        #: the completions' bytes, one after the other, with their report bodies lowercased
        #: (only those bytes are written: the rest is whatever the buffer held)
        self.lowered = lowered
        #: per completion, (finding start, finding end, impression start, impression end) of
        #: its stripped bodies in ``lowered``; all -1 when it is not well-formed ASCII
        self.spans = spans
        self._offsets = offsets
        self._body_bytes = body_bytes  # (the bytes of the spans' bodies, in all)
        self._slow, self._slow_reports = slow, slow_reports
        self._reports: list[str] | None = None
        # the well-formed rows' ids when the parse looked them up (parse_completions' encode),
        # with the vocabulary's generation they belong to, and the references' look-up
        self._encoded = encoded
        self._references = references

    def reports(self) -> list[str]:
        """The report of every completion (``parse_completion(c)[0]``), built on first call."""
        if self._reports is None:
            # ASCII: byte offsets are character offsets; spans relative to each completion
            rel = (self.spans - self._offsets[:-1, None]).tolist()
            reports = [c[f0:f1] + "\n" + c[i0:i1]
                       for c, (f0, f1, i0, i1) in zip(self.completions, rel, strict=True)]
            for i, report in zip(self._slow, self._slow_reports, strict=True):
                reports[i] = report
            self._reports = reports
        return self._reports

    def encoded_references(self, references: list[str]
                           ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray] | None:
        """``(groups, hyp_group, ids, offsets)`` of ``references`` (``layout_for_encoded``'s
        ``encoded``: the distinct references' count and ids, each reference's group) when the
        parse looked them up (``parse_completions(..., references=references)``); None when it
        did not. Call it after :meth:`encode`: the tokens the look-up missed are added now, as
        the serial path adds the references' tokens after the reports'."""
        looked_up = self._references
        if looked_up is None or looked_up.references is not references:
            return None
        interned = looked_up.interned()
        if interned is None:
            return None
        return looked_up.distinct, looked_up.hyp_group, *interned

    def irregular_reports(self) -> dict[int, str]:
        """The reports of the completions that are not well-formed ASCII (the rows
        :func:`gather_reports` leaves out), by row."""
        return dict(zip(self._slow, self._slow_reports, strict=True))

    def encode(self, tokenizer: Tokenizer) -> tuple[np.ndarray, np.ndarray]:
        """The reports' interned ids in CSR form (``tokenizer.encode_batch(self.reports())``)."""
        if not isinstance(tokenizer, DefaultTokenizer):
            return tokenizer.encode_batch(self.reports())
        # a row per completion, its finding then its impression: the "\n" that joins them in
        # the report text separates tokens exactly as the gap between the segments does
        # (the parse's own spans, in bounds, and their bytes: no check needed, as the public
        # encode_spans makes; its numpy would cost more than the interning's Python)
        encoded = self._encoded
        if encoded is not None and encoded[0] == VOCAB.generation:
            _, ids, offsets = encoded
        else:
            ids, offsets = tokenizer._intern(self.lowered, self.spans.reshape(-1), 2, 2,
                                             self.spans.shape[0], self._body_bytes)
        if not self._slow:
            return ids, offsets
        # the rows that are not well-formed ASCII have no spans, so no ids yet
        slow_ids, slow_offsets = tokenizer.encode_batch(self._slow_reports)
        bounds = offsets.tolist()
        rows = [ids[bounds[i]:bounds[i + 1]] for i in range(len(self.completions))]
        for k, i in enumerate(self._slow):
            rows[i] = slow_ids[slow_offsets[k]:slow_offsets[k + 1]]
        return concat_ids(rows)


def gather_reports(lowered: np.ndarray, spans: np.ndarray, tail: bytes = b"",
                   out: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """``(buf, starts, ends, rows, tail_at)``: the reports (finding, newline, impression) of
    the rows of ``spans`` that are well formed (``rows``, ascending), cut from ``lowered`` as
    :func:`parse_completions` wrote it, report ``rows[j]`` being ``buf[starts[j]:ends[j]]``,
    then ``tail`` from ``buf[tail_at]`` on, in one new read-only buffer (what the offline
    judge reads, its references as the tail: ``rewards.judge_request``, in the calling
    process or in its helper, which maps the caller's ``lowered``), or at the start of
    ``out`` (a writable uint8 array of at least :func:`gather_room` bytes).

    Examples:
        >>> p = parse_completions(["<think>x</think><finding>Clear.</finding><impression>NORMAL.</impression>"])
        >>> buf, starts, ends, rows, tail_at = gather_reports(p.lowered, p.spans, b"ref.")
        >>> buf[starts[0]:ends[0]].tobytes(), buf[tail_at:].tobytes()
        (b'clear.\\nnormal.', b'ref.')
    """
    n = spans.shape[0]
    room = gather_room(lowered, spans, tail)
    out = np.empty(room, dtype=np.uint8) if out is None else out[:room]
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    # (one buffer for the reports and the tail: the judge reads both in one kernel call)
    used = report_texts(lowered, spans, out, starts, ends)
    out[used:used + len(tail)] = np.frombuffer(tail, dtype=np.uint8)
    out = out[:used + len(tail)]
    out.setflags(write=False)  # (as the parse's own bytes: one kernel specialisation)
    rows = np.flatnonzero(spans[:, 0] >= 0)
    if rows.shape[0] == n:
        return out, starts, ends, rows, used
    return out, starts[rows], ends[rows], rows, used


def gather_room(lowered: np.ndarray, spans: np.ndarray, tail: bytes = b"") -> int:
    """The bytes :func:`gather_reports` may write: the parse's, a newline per report, the tail.

    Examples:
        >>> gather_room(np.zeros(10, np.uint8), np.zeros((2, 4), np.int64), b"ref.")
        16
    """
    return lowered.shape[0] + spans.shape[0] + len(tail)


def parse_completions(completions: list[str],
                      lowered_into: Callable[[int], np.ndarray] | None = None, *,
                      encode: bool = False, references: list[str] | None = None
                      ) -> ParsedCompletions:
    """Parse many completions (a list of ``str``, already checked) in one kernel call (or
    two at once, when split: see ``encode``).

    ``lowered_into(size)``, when given, returns the writable uint8 array of ``size`` bytes
    the parse writes the lowercased report bodies into (the offline judge's helper reads
    them from there, in memory both processes map: ``rewards.judge_process``); by default a
    new one.

    ``encode``: the caller, inside ``VOCAB.session()``, will ask for the default tokenizer's
    ids (:meth:`ParsedCompletions.encode`), and of ``references`` if given
    (:meth:`ParsedCompletions.encoded_references`). With two threads or more and at least
    :data:`MIN_PAIRS_TO_SPLIT` completions, the parse and the look-up of the tokens are then
    split between the calling thread and the pool's (``rewards.parse_split``): the same
    spans, formats and ids, in less time.

    Examples:
        >>> from himed_rewards.text.tokenizers import get_tokenizer
        >>> from himed_rewards.text.vocabulary import VOCAB
        >>> p = parse_completions(["<think>x</think><finding>Clear.</finding><impression>Normal.</impression>",
        ...                        "no tags"])
        >>> p.formats, p.reports()
        ([1.0, -1.0], ['Clear.\\nNormal.', 'no tags'])
        >>> ids, offsets = p.encode(get_tokenizer("default"))
        >>> VOCAB.tokens(ids[offsets[0]:offsets[1]])
        ['clear', '.', 'normal', '.']
    """
    n = len(completions)
    joined = "".join(completions)
    kept = completions
    if not joined.isascii():  # non-ASCII completions go the Python way: an empty stand-in
        kept = [c if c.isascii() else "" for c in completions]  # here fails the check
        joined = "".join(kept)
    buf = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    offsets = offsets_of(map(len, kept), n)
    lowered = (np.empty(buf.shape[0], dtype=np.uint8) if lowered_into is None
               else lowered_into(buf.shape[0]))
    spans = np.empty((n, 4), dtype=np.int64)
    format_array = np.empty(n, dtype=np.float64)
    encoded = looked_up = None
    # (a stand-in kernel may run in the interpreter, which holds the GIL: one thread)
    if (encode and n >= MIN_PAIRS_TO_SPLIT and get_num_threads() >= 2
            and not isinstance(intern_default_segments, LazyKernel)):
        good, body_bytes, encoded, looked_up = parse_and_look_up(
            buf, offsets, lowered, spans, format_array, references)
    else:
        good, body_bytes = report_spans(buf, offsets, 0, n, TAG_BYTES, TAG_OFFSETS, SPACE,
                                        LOWER, lowered, spans, format_array)
    # read-only, as the tokenizers' own byte buffers (np.frombuffer) are: the tokenizer and
    # interning kernels then reuse one compiled specialisation for both
    lowered.setflags(write=False)
    formats = [1.0] * n  # (one float object for all: not a new one per row, as tolist makes)
    slow: list[int] = []
    slow_reports: list[str] = []
    if good < n:
        slow = np.flatnonzero(spans[:, 0] < 0).tolist()
        for i in slow:
            report, formats[i] = parse_completion(completions[i])
            format_array[i] = formats[i]
            slow_reports.append(report)
    return ParsedCompletions(completions, formats, format_array, lowered, offsets, spans, slow,
                             slow_reports, body_bytes, encoded, looked_up)


#: Fewer completions than this, and splitting the parse between two threads costs about
#: what it saves: the whole low-level reward on fresh GRPO batches, split against not, call
#: by call in turn, was 0.81x at 64 pairs, 0.90x at 128, 0.99x at 192, 1.02x at 256, 1.06x
#: at 384 and 1.09x at 512 (waking the pool's idle thread and waiting for it cost some
#: 0.1-0.2 ms a call on this 2-core virtual machine).
MIN_PAIRS_TO_SPLIT = 256
