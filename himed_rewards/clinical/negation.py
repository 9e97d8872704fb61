"""Negation and uncertainty of a mention: trigger matching with NegEx/ConText-style scopes.

A *trigger* ("no", "without", "cannot exclude", "is normal", "possible", ...) sits before
(forward / ``pre``) or after (backward / ``post``) the mention it modifies. It applies
when the mention lies within its window (counted in tokens), in the same sentence, with no
scope terminator ("but", "however", "with", ...) in between. Pseudo-triggers ("no
change", "to suggest") are matched first so that the cue words inside them do nothing.
A trigger that starts with a sentence break (ConText's ": no") looks back at the sentence
before the break when nothing follows it in its own ("Pneumothorax: no."), and leaves the
cue word after the break to the next sentence ("Findings: no effusion.").

Resolution follows the CheXpert labeler's order: a strong hedge ("cannot exclude",
"not ruled out") makes the mention uncertain; otherwise any applicable negation makes it
negative; otherwise any applicable uncertainty cue makes it uncertain; otherwise it is
positive.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from himed_rewards.clinical.rules import (
    RULES,
    SENTENCE_END,
    TOKEN_RE,
    WORD_INFO,
    Trigger,
    candidate_starts,
    match_phrases,
    word_info,
)

__all__ = ["POLARITIES", "TextContext", "analyse", "is_blocked", "polarity_of_span", "polarity_at"]

#: The three labels a mention can get.
POLARITIES = ("positive", "negative", "uncertain")


@dataclass
class TextContext:
    """Tokens of one text, its sentence breaks and the triggers found in it."""

    words: list[str]
    keys: list[tuple[str, str | None]]
    breaks: list[int]  # token indices of sentence-ending punctuation, ascending
    cues: list[tuple[int, int, Trigger]]  # neg / unc / strong_unc triggers, by start
    terms: list[int]  # token indices where a scope terminator starts, ascending
    cue_starts: list[int]  # cues[k][0], for bisecting the cues near a mention
    starts: tuple[list[int], ...] = ()  # candidate phrase starts per trie of RULES.tries

    def sentence_of(self, i: int) -> tuple[int, int]:
        """Token range ``[start, end)`` of the sentence holding token ``i``."""
        k = bisect_right(self.breaks, i)
        start = self.breaks[k - 1] + 1 if k else 0
        end = self.breaks[k] if k < len(self.breaks) else len(self.words)
        return start, end


def analyse(words: list[str]) -> TextContext:
    """Normalise lower-case tokens and find sentence breaks and triggers.

    Examples:
        >>> ctx = analyse(["no", "effusion", ".", "possible", "nodule"])
        >>> ctx.breaks, [t.phrase for _, _, t in ctx.cues]
        ([2], ['no', 'possible'])
    """
    get = WORD_INFO.get
    infos = [get(w) or word_info(w) for w in words]
    keys = [info[0] for info in infos]
    breaks = [i for i, w in enumerate(words) if w in SENTENCE_END]
    starts = candidate_starts(infos)
    cues, terms = [], []
    trie = RULES.trigger_trie
    led = [i for i in starts[0] if words[i] in _BREAK_LED] if _BREAK_LED else []
    if not led:
        found = match_phrases(keys, trie, starts[0])
    else:
        # A trigger that starts with a sentence break (ConText's ": no") looks back at the
        # sentence before the break when it is all that follows ("Pneumothorax: no.", not
        # "Effusion: no pneumothorax."); it never swallows the cue word after the break,
        # which starts the next sentence ("Findings: no effusion").
        found = match_phrases(keys, trie, [i for i in starts[0] if words[i] not in _BREAK_LED])
        n = len(words)
        for i in led:
            found += [match for match in match_phrases(keys, trie, [i])
                      if match[1] == n or words[match[1]] in SENTENCE_END]  # fmt: skip
        found.sort(key=_start)
    for start, end, trigger in found:
        if trigger.polarity == "term":
            terms.append(start)
        elif trigger.polarity != "pseudo":
            cues.append((start, end, trigger))
    return TextContext(words, keys, breaks, cues, terms, [c[0] for c in cues], starts)


#: Sentence breaks that start a trigger phrase (ConText's ": no", ": none").
_BREAK_LED = frozenset(key for key in RULES.trigger_trie if key in SENTENCE_END)


def _start(match: tuple) -> int:
    return match[0]


def is_blocked(terms: list[int], lo: int, hi: int) -> bool:
    """True when a terminator starts in ``[lo, hi)``: the scope is cut between the two."""
    k = bisect_left(terms, lo)
    return k < len(terms) and terms[k] < hi


# Only cues starting within this many tokens of a mention can reach it (the widest window
# plus the longest trigger), so long texts cost linear, not quadratic, time.
_REACH = max(RULES.max_window + RULES.max_trigger_tokens, 1)


def polarity_of_span(ctx: TextContext, i: int, j: int) -> str:
    """Polarity of the mention occupying tokens ``[i, j)`` of an analysed text.

    Examples:
        >>> ctx = analyse("no pneumothorax , effusion , or consolidation".split())
        >>> polarity_of_span(ctx, 6, 7)
        'negative'
    """
    start, end = ctx.sentence_of(i)
    lo = bisect_left(ctx.cue_starts, max(start, i - _REACH))
    # up to the break that closes the sentence: a cue starting there is one that starts
    # with the break (": no"), which looks back at this sentence
    hi = bisect_left(ctx.cue_starts, min(end + 1, j + _REACH))
    negated = uncertain = False
    for s, e, trig in ctx.cues[lo:hi]:
        applies = (
            s < i < e  # the mention sits inside a trigger that starts before it ("not enlarged")
        ) or (
            trig.pre and e <= i and i - e <= trig.window_pre and not is_blocked(ctx.terms, e, i)
        ) or (
            trig.post
            and s >= j
            and s - j <= trig.window_post
            and not is_blocked(ctx.terms, j, s)
        )
        if not applies:
            continue
        if trig.polarity == "strong_unc":
            return "uncertain"
        if trig.polarity == "neg":
            negated = True
        else:
            uncertain = True
    if negated:
        return "negative"
    return "uncertain" if uncertain else "positive"


def _lower_same_length(text: str) -> str:
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    # A few characters (e.g. "İ") lower-case to two; keep offsets aligned with the input.
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def polarity_at(text: str, start: int, end: int) -> str:
    """Polarity of the mention occupying characters ``[start, end)`` of ``text``.

    Uses the same tokens, triggers and scopes as :func:`~himed_rewards.clinical.label_report`,
    so a keyword found anywhere in a report can be checked for negation: returns
    ``"positive"``, ``"negative"`` or ``"uncertain"``.

    Raises:
        TypeError: ``text`` is not a str or ``start``/``end`` are not ints.
        ValueError: the span is outside the text or holds no token.

    Examples:
        >>> text = "No pleural effusion. Possible small nodule. Heart is enlarged."
        >>> polarity_at(text, text.index("effusion"), text.index("effusion") + 8)
        'negative'
        >>> polarity_at(text, text.index("nodule"), text.index("nodule") + 6)
        'uncertain'
        >>> polarity_at(text, text.index("enlarged"), text.index("enlarged") + 8)
        'positive'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= start < end <= len(text):
        raise ValueError(
            f"span [start, end) = [{start}, {end}) must satisfy 0 <= start < end <= "
            f"len(text) = {len(text)}"
        )
    ctx, spans = _analysed(text)
    first = bisect_right([e for _, e in spans], start)  # first token ending after start
    last = bisect_left([b for b, _ in spans], end)  # tokens starting before end
    if first >= last:
        raise ValueError(f"span [{start}, {end}) of text holds no token: {text[start:end]!r}")
    return polarity_of_span(ctx, first, last)


# The keyword reward asks about several spans of one text in a row: keep the last analysis.
_LAST: tuple[str, TextContext, list[tuple[int, int]]] | None = None


def _analysed(text: str) -> tuple[TextContext, list[tuple[int, int]]]:
    global _LAST
    last = _LAST
    if last is not None and last[0] == text:
        return last[1], last[2]
    words, spans = [], []
    for m in TOKEN_RE.finditer(_lower_same_length(text)):
        words.append(m.group())
        spans.append(m.span())
    ctx = analyse(words)
    _LAST = (text, ctx, spans)
    return ctx, spans
