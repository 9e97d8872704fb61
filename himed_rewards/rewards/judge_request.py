"""A batch for the offline judge, as the completions' parse left it: the helper reads it in place.

The parse (``rewards.format_batch``) writes the lowercased report bodies of the well-formed
ASCII completions into one byte buffer, and knows where each lies (``spans``). When the
offline judge works in a helper process (``rewards.judge_process``), that buffer is memory
both processes map: the caller parses straight into it, and the socket carries only a
:class:`JudgeRequest` (the spans, the distinct references lowercased, the pair -> reference
numbering and the few texts the buffer lacks). The helper cuts the reports out of the
buffer and judges them (:func:`judge_request`), as the calling process does when it judges
the batch itself (``rewards.offline_scores``): the same kernels on the same bytes, so the
same floats (``tests/rewards/test_offline_scores.py``).

Before, the caller wrote each report again into the shared memory after the parse (0.23 ms
for 512 pairs) and sent where each lay; before that, it pickled the completions themselves
into the socket (0.6-0.7 ms), and the helper parsed them again (docs/benchmarks.md).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from himed_rewards.rewards.format_batch import ParsedCompletions, gather_reports

__all__ = ["JudgeRequest", "make_request", "judge_request"]


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
    from himed_rewards.clinical import encoded

    buf, starts, ends, rows, tail_at = gather_reports(lowered, request.spans, request.tail)
    starts = np.concatenate([starts, request.tail_starts + tail_at])
    ends = np.concatenate([ends, request.tail_ends + tail_at])
    plain = rows.tolist() + request.tail_texts
    others = request.others

    def read_back(k: int) -> str:  # (a text the kernels leave to the interpreter)
        if k in others:
            return others[k]
        j = bisect_left(plain, k)
        return buf[starts[j]:ends[j]].tobytes().decode("ascii")

    texts = read_back if text is None else text
    try:
        return encoded.judge_lowered(buf, starts, ends, plain, request.n_texts, texts,
                                     np.arange(request.n), request.ref)
    except KeyError:  # (never with the shipped rules: a name the kernel lacks)
        return judge.score_columns(  # type: ignore[attr-defined]
            [texts(k) for k in range(request.n)], [texts(k) for k in request.ref.tolist()])
