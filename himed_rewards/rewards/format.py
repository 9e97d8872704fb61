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


# With every tag present exactly once (checked first, by str.count), this pattern has one
# way to match, so it runs in linear time even on megabytes of hostile text.
_STRUCTURE = re.compile(
    r"\s*<think>.*?</think>\s*<finding>(.*?)</finding>\s*<impression>(.*?)</impression>\s*",
    re.DOTALL,
)


def _well_formed_sections(text: str) -> tuple[str, str] | None:
    """(finding, impression) bodies if ``text`` is well formed (Eq. 7), else None."""
    count = text.count
    if count("<") == 6:  # exactly the six tags' "<": each tag occurs at most once
        match = _STRUCTURE.fullmatch(text)
    elif (count("<think>") != 1 or count("</think>") != 1 or count("<finding>") != 1
            or count("</finding>") != 1 or count("<impression>") != 1 or count("</impression>") != 1):
        return None  # missing, repeated or nested tags
    else:
        match = _STRUCTURE.fullmatch(text)
    if match is None:
        return None
    finding, impression = match.group(1, 2)
    if not finding.strip() or not impression.strip():
        return None
    return finding, impression


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


def _drop_reasoning(text: str) -> str:
    """Remove ``<think>...</think>`` blocks (and reasoning cut off by a missing tag)."""
    stray = text.rfind(_CLOSE["think"])
    if stray >= 0 and text.rfind(_OPEN["think"], 0, stray) < 0:
        text = text[stray + len(_CLOSE["think"]):]  # the open tag was in the prompt
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find(_OPEN["think"], pos)
        if start < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        end = text.find(_CLOSE["think"], start)
        if end >= 0:
            pos = end + len(_CLOSE["think"])
            continue
        # Unclosed: the reasoning runs to the first report tag after it, else to the end.
        nexts = [i for i in (text.find(_OPEN["finding"], start), text.find(_OPEN["impression"], start)) if i >= 0]
        if not nexts:
            break
        pos = min(nexts)
    return "".join(parts)


def _sections(text: str, tag: str) -> list[str]:
    opening, closing = _OPEN[tag], _CLOSE[tag]
    out: list[str] = []
    pos = 0
    while True:
        start = text.find(opening, pos)
        if start < 0:
            return out
        start += len(opening)
        end = text.find(closing, start)
        if end < 0:  # unclosed: up to the next report tag or the end
            nexts = [i for i in (text.find(_OPEN[t], start) for t in TAGS) if i >= 0]
            end = min(nexts) if nexts else len(text)
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
