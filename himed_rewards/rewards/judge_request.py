"""A batch for the offline judge, as the completions' parse left it: the helper reads it in place.

The parse (``rewards.format_batch``) writes the lowercased report bodies of the well-formed
ASCII completions into one byte buffer, and knows where each lies (``spans``). A
:class:`JudgeRequest` says what else the judge needs (the spans, the distinct references
lowercased, the pair -> reference numbering and the few texts the buffer lacks);
:func:`judge_request` lays the reports out as the judge's texts, cuts them into sentences
and judges them, as the calling process does when it judges the batch itself
(``rewards.offline_scores``).

When the offline judge works in a helper process (``rewards.judge_process``), the buffer is
memory both processes map: the caller parses straight into it, then lays the texts out and
cuts them there too, writes the request's arrays after them (:func:`share_request`), and
the socket carries a :class:`SharedRequest` of a few numbers; the helper reads it all in
place (:func:`judge_shared`). The same kernels on the same bytes, so the same floats
(``tests/rewards/test_offline_scores.py``).

Why the caller lays out and cuts the helper's texts: the helper is the reward call's
critical path, and it learns the references' sentences while the caller parses, longer
than the parse takes; the 0.25-0.3 ms of laying out and cutting then cost the caller's idle
time, not the helper's. Before, a 30 KB request crossed the socket (0.15-0.25 ms between
the send and the helper's having it); before that, the caller wrote each report again into
the shared memory after the parse (0.23 ms for 512 pairs), and before that, it pickled the
completions themselves into the socket (0.6-0.7 ms), and the helper parsed them again
(docs/speed_history.md).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from himed_rewards.rewards.format_batch import ParsedCompletions, gather_reports, gather_room

if TYPE_CHECKING:  # (the judge's modules load with the judge, not with this one)
    from himed_rewards.clinical.records import Cut

__all__ = ["JudgeRequest", "SharedRequest", "judge_request", "judge_shared", "make_request",
           "share_request"]


class JudgeRequest(NamedTuple):
    """A batch for the offline judge, with its reports left where the parse wrote them.

    The texts are numbered as ``OfflineClinicalJudge.score_columns`` numbers them: the ``n``
    reports, then the distinct references.
    """

    nbytes: int  #: the parse's bytes (``ParsedCompletions.lowered``) at the buffer's start
    spans: np.ndarray  #: ``ParsedCompletions.spans``: where each report's bodies lie
    tail: bytes  #: the distinct ASCII references, joined and lowercased
    tail_starts: np.ndarray  #: where each of them lies in ``tail``
    tail_ends: np.ndarray
    tail_texts: list[int]  #: and its text number, in increasing order
    n: int  #: pairs (report ``i`` is text ``i``)
    n_texts: int
    ref: np.ndarray  #: pair ``i``'s reference is text ``ref[i]``
    others: dict[int, str]  #: the texts not in the bytes (non-ASCII, not well formed)


class SharedRequest(NamedTuple):
    """A :class:`JudgeRequest` whose texts the caller laid out and cut into sentences in the
    buffer it shares with the helper, after the parse's bytes, with its arrays after them
    (:func:`share_request`); what crosses the socket is these numbers and the few texts the
    buffer lacks.
    """

    n: int  #: pairs (report ``i`` is text ``i``)
    n_texts: int
    others: dict[int, str]  #: the texts not in the bytes (non-ASCII, not well formed)
    at: int  #: the texts' bytes are ``buffer[at:at + size]``
    size: int
    arrays_at: int  #: int64 arrays from here, in turn: see :func:`share_request`
    n_plain: int  #: texts in the bytes
    count: int  #: their sentences
    end: int  #: the bytes the request uses, from the buffer's start


def make_request(parsed: ParsedCompletions, references: Sequence[str],
                 distinct: list[str] | None = None) -> JudgeRequest:
    """The request of ``parsed`` and its ``references`` (checked ``str``, one per completion);
    ``distinct``, when the caller has it already, is ``list(dict.fromkeys(references))``.

    Examples:
        >>> from himed_rewards.rewards.format_batch import parse_completions
        >>> parsed = parse_completions(["<think>x</think><finding>Clear.</finding><impression>Normal.</impression>"] * 2)
        >>> request = make_request(parsed, ["No Effusion.", "No Effusion."])
        >>> request.tail, request.tail_texts, request.ref.tolist(), request.n_texts
        (b'no effusion.', [2], [2, 2], 3)
    """
    from himed_rewards.clinical.records import lowered_ascii

    n = len(parsed.completions)
    if distinct is None:
        distinct = list(dict.fromkeys(references))
    number = {text: n + k for k, text in enumerate(distinct)}
    ref = np.fromiter(map(number.__getitem__, references), np.int64, n)
    ascii_refs, lowered, ref_starts, ref_ends = lowered_ascii(distinct)
    others = parsed.irregular_reports()
    if len(ascii_refs) < len(distinct):
        others.update((n + k, distinct[k]) for k in set(range(len(distinct))) - set(ascii_refs))
    return JudgeRequest(parsed.lowered.shape[0], parsed.spans, lowered.encode("ascii"),
                        ref_starts, ref_ends, [n + k for k in ascii_refs], n,
                        n + len(distinct), ref, others)


def share_request(parsed: ParsedCompletions, request: JudgeRequest,
                  shared: Callable[[int], np.ndarray]) -> SharedRequest:
    """Lay the texts of ``request`` out and cut them into sentences in the shared buffer
    ``parsed`` was parsed into, after the parse's bytes, followed by the arrays the judge
    reads (int64: the texts' starts and ends, their numbers, each pair's reference, then
    the sentences' starts, ends and texts; then a byte per text, whether it holds no other
    break than "."). ``shared(room)`` returns the buffer, a writable uint8 array of at least
    ``room`` bytes.

    Examples:
        >>> from himed_rewards.rewards.format_batch import parse_completions
        >>> buffer = np.zeros(1 << 12, np.uint8)
        >>> c = ["<think>x</think><finding>No effusion. Clear.</finding><impression>Normal.</impression>"] * 3
        >>> parsed = parse_completions(c, lambda size: buffer[:size])
        >>> shared = share_request(parsed, make_request(parsed, ["No effusion."] * 3),
        ...                        lambda room: buffer)
        >>> shared.n_plain, shared.count  # 3 reports and a reference; their sentences
        (4, 10)
    """
    from himed_rewards.clinical.records import cut_sentences

    lowered = parsed.lowered
    at = _aligned(request.nbytes)
    memory = shared(at + gather_room(lowered, request.spans, request.tail))
    buf, starts, ends, plain = _laid_out(lowered, request, memory[at:])
    cut = cut_sentences(buf, starts, ends)
    n_plain, count = len(plain), cut.span_start.shape[0]
    arrays_at = _aligned(at + buf.shape[0])  # (int64 arrays: 8-byte aligned, as numpy's)
    simple_at = arrays_at + 8 * (3 * n_plain + request.n + 3 * count)
    end = simple_at + n_plain
    memory = shared(end)
    np.concatenate((starts, ends, np.array(plain, np.int64), request.ref, cut.span_start,
                    cut.span_end, cut.span_text), out=memory[arrays_at:simple_at].view(np.int64))
    memory[simple_at:end] = cut.simple
    return SharedRequest(request.n, request.n_texts, request.others, at, buf.shape[0],
                         arrays_at, n_plain, count, end)


def _aligned(offset: int) -> int:
    return (offset + 7) & ~7


def judge_shared(judge: object, request: SharedRequest, shared: np.ndarray) -> np.ndarray:
    """:func:`judge_request` of a request :func:`share_request` wrote into ``shared`` (the
    buffer, at least ``request.end`` bytes), read in place.

    Examples:
        >>> from himed_rewards.clinical.judge import OfflineClinicalJudge
        >>> from himed_rewards.rewards.format_batch import parse_completions
        >>> buffer = np.zeros(1 << 12, np.uint8)
        >>> c = ["<think>x</think><finding>Large left pleural effusion.</finding><impression>Effusion.</impression>"] * 3
        >>> refs = ["Large right pleural effusion."] * 3
        >>> parsed = parse_completions(c, lambda size: buffer[:size])
        >>> shared = share_request(parsed, make_request(parsed, refs), lambda room: buffer)
        >>> judge = OfflineClinicalJudge()
        >>> (judge_shared(judge, shared, buffer).tolist()
        ...  == judge.score_columns(parsed.reports(), refs).tolist())
        True
    """
    from himed_rewards.clinical.records import Cut

    buf = shared[request.at:request.at + request.size]
    buf.setflags(write=False)  # (as gather_reports leaves it: one kernel specialisation)
    n_plain, n, count = request.n_plain, request.n, request.count
    arrays = shared[request.arrays_at:request.end - n_plain].view(np.int64)
    bounds = np.cumsum([0, n_plain, n_plain, n_plain, n, count, count, count]).tolist()
    starts, ends, plain, ref, span_start, span_end, span_text = (
        arrays[a:z] for a, z in zip(bounds[:-1], bounds[1:], strict=True))
    cut = Cut(span_start, span_end, span_text, shared[request.end - n_plain:request.end])
    return _judge_texts(judge, buf, starts, ends, plain.tolist(), n, request.n_texts, ref,
                        request.others, None, cut)


def judge_request(judge: object, request: JudgeRequest, lowered: np.ndarray,
                  text: Callable[[int], str] | None = None) -> np.ndarray:
    """``judge.score_columns(reports, references)`` of the batch of ``request``, whose
    parse's bytes are ``lowered`` (read in place): a float64 array of shape ``(n, 3)``.
    ``judge`` is an ``OfflineClinicalJudge``. ``text(k)`` gives text ``k`` as given, for
    what the kernels leave to the interpreter; without it, the texts are read back from the
    bytes, lowercased (the judge lowercases every text before it reads it).

    Examples:
        >>> from himed_rewards.clinical.judge import OfflineClinicalJudge
        >>> from himed_rewards.rewards.format_batch import parse_completions
        >>> c = ["<think>x</think><finding>Large left pleural effusion.</finding><impression>Effusion.</impression>"] * 3
        >>> refs = ["Large right pleural effusion."] * 3
        >>> parsed, judge = parse_completions(c), OfflineClinicalJudge()
        >>> scores = judge_request(judge, make_request(parsed, refs), parsed.lowered)
        >>> scores.tolist() == judge.score_columns(parsed.reports(), refs).tolist()
        True
    """
    buf, starts, ends, plain = _laid_out(lowered, request)
    return _judge_texts(judge, buf, starts, ends, plain, request.n, request.n_texts,
                        request.ref, request.others, text)


def _laid_out(lowered: np.ndarray, request: JudgeRequest, out: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """``(buf, starts, ends, plain)``: the texts of ``request`` in the bytes, as the judge
    reads them (the parse's reports, then the references), text ``plain[j]`` being
    ``buf[starts[j]:ends[j]]``; written at the start of ``out`` when given
    (``format_batch.gather_reports``)."""
    buf, starts, ends, rows, tail_at = gather_reports(lowered, request.spans, request.tail, out)
    return (buf, np.concatenate([starts, request.tail_starts + tail_at]),
            np.concatenate([ends, request.tail_ends + tail_at]),
            rows.tolist() + request.tail_texts)


def _judge_texts(judge: object, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 plain: list[int], n: int, n_texts: int, ref: np.ndarray,
                 others: dict[int, str], text: Callable[[int], str] | None,
                 cut: Cut | None = None) -> np.ndarray:
    """The scores of pairs ``(k, ref[k])`` of the texts, ``plain[j]``'s being
    ``buf[starts[j]:ends[j]]`` and the others ``others``' (:func:`judge_request`)."""
    from himed_rewards.clinical import encoded

    def read_back(k: int) -> str:  # (a text the kernels leave to the interpreter)
        if k in others:
            return others[k]
        j = bisect_left(plain, k)
        return buf[starts[j]:ends[j]].tobytes().decode("ascii")

    texts = read_back if text is None else text
    try:
        return encoded.judge_lowered(buf, starts, ends, plain, n_texts, texts, np.arange(n),
                                     ref, cut)
    except KeyError:  # (never with the shipped rules: a name the kernel lacks)
        return judge.score_columns(  # type: ignore[attr-defined]
            [texts(k) for k in range(n)], [texts(k) for k in ref.tolist()])
