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

from himed_rewards.clinical.negation import analyse, is_blocked, polarity_of_span
from himed_rewards.clinical.rules import RULES, TOKEN_RE, Mention, match_phrases

__all__ = ["FINDINGS", "PATHOLOGIES", "label_report"]

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


def label_report(text: str) -> dict[str, str]:
    """Label every finding a radiology report mentions.

    Returns ``{finding: "positive" | "negative" | "uncertain"}`` over the canonical names in
    :data:`FINDINGS`, in that order; findings the text does not mention are absent, and a
    text that mentions nothing gives ``{}``. Deterministic, offline, pure Python.

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
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    ctx = analyse(TOKEN_RE.findall(text.lower()))
    found: dict[str, str] = {}
    said_something = False
    for i, j, mention in match_phrases(ctx.keys, RULES.mention_trie):
        if not mention.findings:
            continue  # an "unmention" such as "pericardial effusion" or "plate-like"
        polarity = _mention_polarity(ctx, i, j, mention)
        if polarity is None:
            continue
        said_something = True
        for finding in mention.findings:
            old = found.get(finding)
            if old is None or _RANK[polarity] > _RANK[old]:
                found[finding] = polarity
    abnormal = any(
        p != "negative" for f, p in found.items() if f in PATHOLOGIES or f == RULES.other
    )
    if not abnormal and (said_something or match_phrases(ctx.keys, RULES.normal_trie)):
        found["no_finding"] = "positive"
    return {f: found[f] for f in FINDINGS if f in found}
