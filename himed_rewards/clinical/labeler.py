"""Rule-based labeler: which of 21 chest X-ray findings a report mentions, and how.

``label_report(text)`` finds every mention of a finding (CheXpert phrases plus the NIH
ChestX-ray14 findings), decides each mention's polarity with the trigger/scope machinery of
:mod:`himed_rewards.clinical.negation`, and merges the mentions of one finding the way the
CheXpert labeler does: positive if any mention is positive, else uncertain if any is
uncertain, else negative.

Anatomical phrases ("heart size", "cardiac silhouette", "mediastinum") only count when an
enlargement word qualifies them nearby ("the cardiac silhouette is enlarged") or when a
trigger negates them ("heart size is normal").

``no_finding`` is reported (always as ``"positive"``) when the report says something
(a finding mention or a normal statement such as "lungs are clear") and asserts no
pathology, positive or uncertain; support devices do not count as pathology, as in
CheXpert.
"""

from __future__ import annotations

from himed_rewards.clinical.negation import TextContext, analyse, is_blocked, polarity_of_span
from himed_rewards.clinical.rules import RULES, TOKEN_RE, Mention, match_phrases

__all__ = [
    "FINDINGS", "PATHOLOGIES", "label_report", "merge_polarities", "scan", "scan_content",
    "scan_words",
]

#: The 21 canonical findings: CheXpert's 14 observations united with NIH ChestX-ray14's.
FINDINGS: tuple[str, ...] = RULES.findings
#: Findings that make a study abnormal (all but ``no_finding`` and ``support_devices``).
PATHOLOGIES: frozenset[str] = frozenset(FINDINGS) - {"no_finding", "support_devices"}

_RANK = {"negative": 0, "uncertain": 1, "positive": 2}
_QUALIFIER_AFTER = 6  # "heart size is mildly enlarged": qualifier up to 6 tokens later
_QUALIFIER_BEFORE = 3  # "mildly enlarged cardiac silhouette"


def _qualifier_polarity(ctx, i: int, j: int) -> str | None:
    """Polarity of the nearest enlargement word qualifying the anatomy at ``[i, j)``."""
    start, end = ctx.sentence_of(i)
    after = range(j, min(end, j + _QUALIFIER_AFTER))
    before = range(i - 1, max(start, i - _QUALIFIER_BEFORE) - 1, -1)
    for positions, lo_hi in ((after, lambda k: (j, k)), (before, lambda k: (k, i))):
        for k in positions:
            if ctx.keys[k][0] in RULES.qualifiers:
                lo, hi = lo_hi(k)
                if is_blocked(ctx.terms, lo, hi):  # bisect: linear time on long texts
                    break  # a terminator separates the word from the anatomy
                return polarity_of_span(ctx, k, k + 1)
    return None


def _mention_polarity(ctx, i: int, j: int, mention: Mention) -> str | None:
    polarity = polarity_of_span(ctx, i, j)
    if not mention.anatomical or polarity == "negative":
        return polarity
    qualified = _qualifier_polarity(ctx, i, j)
    if qualified is not None:
        return qualified
    return "uncertain" if polarity == "uncertain" else None  # bare anatomy: no statement


def scan(text: str) -> tuple[TextContext, list[tuple[int, int, tuple[str, ...], str]], bool]:
    """Analyse ``text``: its context, every mention that makes a statement as
    ``(start, end, findings, polarity)``, and whether it holds a normal statement.

    Findings include the judge-only concepts (``x:...``) and ``_other``.

    Raises:
        TypeError: ``text`` is not a str.

    Examples:
        >>> ctx, mentions, normal = scan("No effusion. Lungs are clear.")
        >>> [(i, j, f, p) for i, j, f, p in mentions], normal
        ([(1, 2, ('pleural_effusion',), 'negative')], True)
    """
    ctx, mentions, normal_starts, _ = scan_content(text)
    return ctx, mentions, bool(normal_starts)


def scan_content(
    text: str,
) -> tuple[TextContext, list[tuple[int, int, tuple[str, ...], str]], list[int], list[int]]:
    """:func:`scan` plus where every normal statement and every phrase match starts
    (unmentions and bare anatomy included): what makes a sentence clinical content.

    Examples:
        >>> _, _, normal_starts, phrase_starts = scan_content("Heart size. Lungs are clear.")
        >>> normal_starts, phrase_starts
        ([5], [0])
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return scan_words(TOKEN_RE.findall(text.lower()))


def scan_words(
    words: list[str],
) -> tuple[TextContext, list[tuple[int, int, tuple[str, ...], str]], list[int], list[int]]:
    """:func:`scan_content` of a text already split into lower-case tokens.

    Examples:
        >>> scan_words(["no", "effusion"])[1]
        [(1, 2, ('pleural_effusion',), 'negative')]
    """
    ctx = analyse(words)
    mentions = []
    phrase_starts = []
    for i, j, mention in match_phrases(ctx.keys, RULES.mention_trie, ctx.starts[1]):
        phrase_starts.append(i)
        if not mention.findings:
            continue  # an "unmention" such as "pericardial effusion" or "plate-like"
        polarity = _mention_polarity(ctx, i, j, mention)
        if polarity is not None:
            mentions.append((i, j, mention.findings, polarity))
    normal_starts = [i for i, _, _ in match_phrases(ctx.keys, RULES.normal_trie, ctx.starts[2])]
    return ctx, mentions, normal_starts, phrase_starts


def strongest_polarities(mentions: list[tuple[int, int, tuple[str, ...], str]]) -> dict[str, str]:
    """Per finding, the most assertive polarity of its mentions (positive > uncertain >
    negative), in order of first mention.

    Examples:
        >>> strongest_polarities([(0, 1, ("edema",), "negative"), (3, 4, ("edema",), "positive")])
        {'edema': 'positive'}
    """
    found: dict[str, str] = {}
    for _, _, findings, polarity in mentions:
        for finding in findings:
            old = found.get(finding)
            if old is None or _RANK[polarity] > _RANK[old]:
                found[finding] = polarity
    return found


def merge_polarities(
    mentions: list[tuple[int, int, tuple[str, ...], str]], normal: bool
) -> dict[str, str]:
    """CheXpert's merge of mention polarities per finding, plus the derived ``no_finding``.

    Keeps the judge-only concepts (``x:...``); drops ``_other``.

    Examples:
        >>> merge_polarities([(0, 1, ("edema",), "negative"), (3, 4, ("edema",), "uncertain")],
        ...                  False)
        {'edema': 'uncertain'}
        >>> merge_polarities([(1, 2, ("pleural_effusion",), "negative")], True)
        {'pleural_effusion': 'negative', 'no_finding': 'positive'}
    """
    found = strongest_polarities(mentions)
    abnormal = any(
        p != "negative" for f, p in found.items()
        if f in PATHOLOGIES or f == RULES.other or f.startswith("x:")
    )  # fmt: skip
    if not abnormal and (mentions or normal):
        found["no_finding"] = "positive"
    found.pop(RULES.other, None)
    return found


def label_report(text: str) -> dict[str, str]:
    """Label every finding a radiology report mentions.

    Returns ``{finding: "positive" | "negative" | "uncertain"}`` over the canonical names in
    :data:`FINDINGS`, in that order; findings the text does not mention are absent, and a
    text that mentions nothing gives ``{}``. Deterministic, offline, pure Python, linear
    time in the length of the text.

    Raises:
        TypeError: ``text`` is not a str.

    Examples:
        >>> label_report("Mild cardiomegaly. No pleural effusion. Possible left basilar nodule.")
        {'cardiomegaly': 'positive', 'lung_lesion': 'uncertain', 'nodule': 'uncertain', \
'pleural_effusion': 'negative'}
        >>> label_report("Heart size is normal. The lungs are clear.")
        {'no_finding': 'positive', 'cardiomegaly': 'negative'}
        >>> label_report("")
        {}
    """
    _, mentions, normal = scan(text)
    found = merge_polarities(mentions, normal)
    return {f: found[f] for f in FINDINGS if f in found}
