"""The format reward (Eq. 7) and the extraction of the report a completion carries.

Both run in time linear in the completion (plain ``str.find`` scans, no backtracking
regular expressions), because a policy in RL can emit megabytes of unbalanced tags.
"""

from __future__ import annotations

import re

__all__ = ["format_reward", "extract_report", "parse_completion", "TAGS"]

TAGS = ("think", "finding", "impression")
_OPEN = {t: f"<{t}>" for t in TAGS}
_CLOSE = {t: f"</{t}>" for t in TAGS}
_ANY_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9_-]{0,40}\s?/?>")


def _check_str(completion: object, argument: str = "completion") -> str:
    if not isinstance(completion, str):
        raise TypeError(f"{argument} must be str, got {type(completion).__name__}")
    return completion


def _blank(text: str, start: int, stop: int) -> bool:
    return start == stop or text[start:stop].isspace()


def _well_formed_sections(text: str) -> tuple[str, str] | None:
    """(finding, impression) bodies if ``text`` is well formed (Eq. 7), else None.

    Plain ``str.count``/``str.find`` scans: linear time on any input.
    """
    count = text.count
    # Exactly six "<" means each tag can occur at most once; otherwise count each tag.
    if count("<") != 6 and (
            count("<think>") != 1 or count("</think>") != 1 or count("<finding>") != 1
            or count("</finding>") != 1 or count("<impression>") != 1
            or count("</impression>") != 1):
        return None  # missing, repeated or nested tags
    find = text.find
    think, think_end = find("<think>"), find("</think>")
    finding, finding_end = find("<finding>"), find("</finding>")
    impression, impression_end = find("<impression>"), find("</impression>")
    if not 0 <= think < think_end < finding < finding_end < impression < impression_end:
        return None  # a tag missing or out of order (nesting included)
    if not (_blank(text, 0, think) and _blank(text, think_end + 8, finding)
            and _blank(text, finding_end + 10, impression)
            and _blank(text, impression_end + 13, len(text))):
        return None  # something other than whitespace around the blocks
    body_finding = text[finding + 9:finding_end]
    body_impression = text[impression + 12:impression_end]
    if not body_finding.strip() or not body_impression.strip():
        return None
    return body_finding, body_impression


def format_reward(completion: str) -> float:
    """+1 if and only if the completion is exactly one ``<think>`` block, one ``<finding>``
    block and one ``<impression>`` block, in that order, with only whitespace around and
    between them and a non-empty finding and impression; otherwise -1 (Eq. 7).

    Examples:
        >>> format_reward("<think>ok</think>\\n<finding>Clear lungs.</finding><impression>Normal.</impression>")
        1.0
        >>> format_reward("<finding>Clear lungs.</finding><impression>Normal.</impression>")
        -1.0
    """
    return 1.0 if _well_formed_sections(_check_str(completion)) is not None else -1.0


def parse_completion(completion: str) -> tuple[str, float]:
    """``(extract_report(completion), format_reward(completion))`` in one pass when the
    completion is well formed (the common case in training), two otherwise.

    Examples:
        >>> parse_completion("<think>x</think><finding>Clear.</finding><impression>Normal.</impression>")
        ('Clear.\\nNormal.', 1.0)
    """
    sections = _well_formed_sections(_check_str(completion))
    if sections is None:
        return extract_report(completion), -1.0
    finding, impression = sections[0].strip(), sections[1].strip()
    return f"{finding}\n{impression}", 1.0


class _NextTag:
    """``text.find(tag, start)`` for non-decreasing ``start``, in linear time overall.

    A plain ``find`` per call rescans the same tail again and again when a tag never
    closes (``"<finding>" * n`` is quadratic that way). The last answer stays valid while
    ``start`` has not passed it, and each rescan begins after the previous answer, so
    every character is scanned at most once per tag.
    """

    __slots__ = ("_text", "_tag", "_found", "_missing")

    def __init__(self, text: str, tag: str) -> None:
        self._text, self._tag = text, tag
        self._found = -1
        self._missing = False  # no occurrence at or after the last scan start

    def __call__(self, start: int) -> int:
        if self._missing:
            return -1
        if self._found < start:
            self._found = self._text.find(self._tag, start)
            self._missing = self._found < 0
        return self._found


def _first_of(finders: list[_NextTag], start: int) -> int:
    """Position of the first of several tags at or after ``start``, else -1."""
    hits = [i for i in (find(start) for find in finders) if i >= 0]
    return min(hits) if hits else -1


def _drop_reasoning(text: str) -> str:
    """Remove ``<think>...</think>`` blocks (and reasoning cut off by a missing tag)."""
    stray = text.rfind(_CLOSE["think"])
    if stray >= 0 and text.rfind(_OPEN["think"], 0, stray) < 0:
        text = text[stray + len(_CLOSE["think"]):]  # the open tag was in the prompt
    next_open, next_close = _NextTag(text, _OPEN["think"]), _NextTag(text, _CLOSE["think"])
    report_tags = [_NextTag(text, _OPEN[t]) for t in ("finding", "impression")]
    parts: list[str] = []
    pos = 0
    while True:
        start = next_open(pos)
        if start < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        end = next_close(start)
        if end >= 0:
            pos = end + len(_CLOSE["think"])
            continue
        # Unclosed: the reasoning runs to the first report tag after it, else to the end.
        pos = _first_of(report_tags, start)
        if pos < 0:
            break
    return "".join(parts)


def _sections(text: str, tag: str) -> list[str]:
    opening, closing = _OPEN[tag], _CLOSE[tag]
    next_open, next_close = _NextTag(text, opening), _NextTag(text, closing)
    any_open = [_NextTag(text, _OPEN[t]) for t in TAGS]
    out: list[str] = []
    pos = 0
    while True:
        start = next_open(pos)
        if start < 0:
            return out
        start += len(opening)
        end = next_close(start)
        if end < 0:  # unclosed: up to the next report tag or the end
            end = _first_of(any_open, start)
            if end < 0:
                end = len(text)
            pos = end
        else:
            pos = end + len(closing)
        out.append(text[start:end])


def extract_report(completion: str) -> str:
    """The report text the token, concept and semantic levels score.

    The contents of the ``<finding>`` and ``<impression>`` blocks (joined by a newline, in
    that order) when present; otherwise the completion with any ``<think>...</think>`` block
    and any tags removed. Never the reasoning.

    Examples:
        >>> extract_report("<think>maybe edema?</think><finding>Clear lungs.</finding><impression>Normal.</impression>")
        'Clear lungs.\\nNormal.'
        >>> extract_report("<think>hmm</think> No acute disease. <b>")
        'No acute disease.'
    """
    text = _drop_reasoning(_check_str(completion))
    sections = [s.strip() for tag in TAGS[1:] for s in _sections(text, tag)]
    if sections:
        return "\n".join(s for s in sections if s)
    return " ".join(_ANY_TAG.sub(" ", text).split())
