"""A batch for the offline judge's helper process, as bytes in a buffer both processes map.

The helper (``rewards.judge_process``) used to be sent the completions themselves: the caller
pickled about 220 KB of them into the socket, which blocked it 0.6-0.7 ms, and the helper
parsed them again, on caches gone cold while it idled. The caller parses them anyway
(``score_batch``), so now it writes each well-formed completion's report (finding, newline,
impression: the bytes of ``ParsedCompletions.reports()``) and each distinct ASCII reference
into the shared buffer (:func:`write_request`), and sends only where each text lies. The
helper lowercases the buffer and judges it in place (:func:`judge_request`), as
``rewards.offline_scores`` does in one process: the same kernels on the same lowercased
bytes, so the same floats (``tests/rewards/test_offline_scores.py``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from himed_rewards.rewards.format_batch import ParsedCompletions

__all__ = ["JudgeRequest", "write_request", "judge_request", "lay_out"]

_Buffer = TypeVar("_Buffer")


class JudgeRequest(NamedTuple):
    """Where the texts of a batch lie in the shared buffer (what the socket carries).

    The texts are numbered as ``OfflineClinicalJudge.score_columns`` numbers them: the ``n``
    reports, then the distinct references.
    """

    nbytes: int  #: the texts' bytes at the start of the buffer
    starts: np.ndarray  #: text ``plain[j]`` is ``buffer[starts[j]:ends[j]]``
    ends: np.ndarray
    plain: list[int]  #: the texts in the buffer, in increasing order
    n: int  #: pairs (report ``i`` is text ``i``)
    n_texts: int
    ref: np.ndarray  #: pair ``i``'s reference is text ``ref[i]``
    others: dict[int, str]  #: the texts not in the buffer (non-ASCII, not well formed)


def write_request(parsed: ParsedCompletions, references: Sequence[str],
                  buffer: Callable[[int], np.ndarray]) -> JudgeRequest:
    """Write the reports of ``parsed`` and the distinct ``references`` (checked ``str``, one
    per completion) into ``buffer(room)``, a writable uint8 array of at least ``room`` bytes,
    and return where they are.

    Examples:
        >>> from himed_rewards.rewards.format_batch import parse_completions
        >>> parsed = parse_completions(["<think>x</think><finding>Clear.</finding><impression>Normal.</impression>"] * 2)
        >>> shared = np.zeros(1024, np.uint8)
        >>> request = write_request(parsed, ["No Effusion.", "No Effusion."], lambda room: shared)
        >>> request.plain, request.ref.tolist(), shared[:request.nbytes].tobytes()
        ([0, 1, 2], [2, 2], b'Clear.\\nNormal.Clear.\\nNormal.No Effusion.')
    """
    request, _, _ = lay_out(parsed, references, lambda tail: (None, *parsed.reports_into(
        buffer(parsed.report_room(len(tail))), tail)), lowered=False)
    return request


def lay_out(parsed: ParsedCompletions, references: Sequence[str],
            gather: Callable[[bytes], tuple[_Buffer, np.ndarray, np.ndarray, np.ndarray, int]], *,
            lowered: bool) -> tuple[JudgeRequest, _Buffer, list[str]]:
    """The texts of a batch numbered as ``OfflineClinicalJudge.score_columns`` numbers them
    (the reports, then the distinct references), laid out by ``gather(tail)``: it writes the
    well-formed ASCII reports, then ``tail`` (the distinct ASCII references joined, lowercased
    with ``lowered``), and returns ``(buffer, starts, ends, rows, tail_at)`` as
    ``ParsedCompletions.lowered_reports`` does. Returns the request, ``gather``'s buffer and
    the distinct references. What :func:`write_request` writes for the helper and
    ``rewards.offline_scores`` judges in one process.

    Examples:
        >>> from himed_rewards.rewards.format_batch import parse_completions
        >>> parsed = parse_completions(["<think>x</think><finding>Clear.</finding><impression>Normal.</impression>"])
        >>> request, buf, distinct = lay_out(parsed, ["No Effusion."], parsed.lowered_reports,
        ...                                  lowered=True)
        >>> buf[request.starts[1]:request.ends[1]].tobytes(), request.ref.tolist(), distinct
        (b'no effusion.', [1], ['No Effusion.'])
    """
    from himed_rewards.clinical.records import ascii_join

    n = len(parsed.completions)
    distinct = list(dict.fromkeys(references))
    number = {text: n + k for k, text in enumerate(distinct)}
    ref = np.fromiter(map(number.__getitem__, references), np.int64, n)
    ascii_refs, joined, ref_starts, ref_ends = ascii_join(distinct)
    tail = (joined.lower() if lowered else joined).encode("ascii")  # (ASCII: same offsets)
    gathered, starts, ends, rows, tail_at = gather(tail)
    others = parsed.irregular_reports()
    if len(ascii_refs) < len(distinct):
        others.update((n + k, distinct[k]) for k in set(range(len(distinct))) - set(ascii_refs))
    request = JudgeRequest(
        tail_at + len(tail), np.concatenate([starts, ref_starts + tail_at]),
        np.concatenate([ends, ref_ends + tail_at]), rows.tolist() + [n + k for k in ascii_refs],
        n, n + len(distinct), ref, others)
    return request, gathered, distinct


def judge_request(judge: object, request: JudgeRequest, buffer: np.ndarray) -> np.ndarray:
    """``judge.score_columns(reports, references)`` of the batch that :func:`write_request`
    wrote into ``buffer``, read in place: a float64 array of shape ``(n, 3)``. ``judge`` is
    an ``OfflineClinicalJudge`` (what the helper holds).

    Examples:
        >>> from himed_rewards.clinical.judge import OfflineClinicalJudge
        >>> from himed_rewards.rewards.format_batch import parse_completions
        >>> c = ["<think>x</think><finding>Large left pleural effusion.</finding><impression>Effusion.</impression>"] * 3
        >>> refs = ["Large right pleural effusion."] * 3
        >>> parsed, judge, shared = parse_completions(c), OfflineClinicalJudge(), np.zeros(1024, np.uint8)
        >>> scores = judge_request(judge, write_request(parsed, refs, lambda room: shared), shared)
        >>> scores.tolist() == judge.score_columns(parsed.reports(), refs).tolist()
        True
    """
    from himed_rewards.clinical import encoded

    texts = buffer[:request.nbytes]
    plain, starts, ends, others = request.plain, request.starts, request.ends, request.others

    def text(k: int) -> str:  # (a text the kernels leave to the interpreter)
        if k in others:
            return others[k]
        j = bisect_left(plain, k)
        return texts[starts[j]:ends[j]].tobytes().decode("ascii")

    try:
        return encoded.judge_lowered(_lowercase(texts), starts, ends, plain, request.n_texts,
                                     text, np.arange(request.n), request.ref)
    except KeyError:  # (never with the shipped rules: a name the kernel lacks)
        return judge.score_columns(  # type: ignore[attr-defined]
            [text(k) for k in range(request.n)], [text(k) for k in request.ref.tolist()])


def _lowercase(ascii_bytes: np.ndarray) -> np.ndarray:
    """``str.lower`` of ASCII bytes (``kernels.completion.LOWER``, as the parse lowercases),
    a new read-only array (as the parse's own bytes: one kernel specialisation)."""
    # (b - 65) wraps around below "A": only "A".."Z" are under 26; 32 takes each to its
    # lowercase. Three passes of numpy, about twice as fast as LOWER[b].
    capital = (ascii_bytes - np.uint8(65)) < 26
    out = ascii_bytes + (capital.view(np.uint8) << np.uint8(5))
    out.setflags(write=False)
    return out
