"""Sentence-by-sentence analysis of a report, cached per sentence.

Everything the judge reads from a report is decided inside one sentence: trigger scopes,
qualifiers, clauses and the attachment of attribute words all stop at a sentence break
(``. ; ! ? :``), and no phrase of the rule table spans one. So a report can be analysed
one sentence at a time and the results concatenated, with the same outcome as analysing
it whole. Reports repeat sentences ("No pneumothorax.", "Heart size is normal.") far more
than whole texts, within a GRPO group and across steps, so each sentence's facts are
cached by its tokens.

One exception to "no phrase spans a break": a break token may *start* a trigger (ConText's
": no"), which then swallows the cue word after it ("Findings: no effusion" is not negated
by that "no"). A sentence that follows such a break is therefore analysed, and cached, with
that break token in front. The rule table is checked for this at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from himed_rewards.clinical.attachment import Hit, Mention, gather_attributes
from himed_rewards.clinical.labeler import scan_words
from himed_rewards.clinical.rules import RULES, SENTENCE_END, TOKEN_RE

__all__ = ["SentenceFacts", "report_sentences"]


@dataclass(frozen=True, slots=True)
class SentenceFacts:
    """What one sentence says, independent of the sentences around it."""

    mentions: tuple[Mention, ...]  # (start, end, findings, polarity); positions are local
    normal: bool  # holds a normal statement ("lungs are clear")
    gathered: tuple[tuple[Mention, tuple[Hit, ...]], ...]  # attribute words per mention
    keys: tuple[str, ...]  # normalised tokens: a verbatim repeat has the same keys
    content: bool  # names a finding, an anatomy word or a device, or is a normal statement


def _phrase_keys(trie: dict, prefix: tuple[str, ...] = ()):
    for key, node in trie.items():
        if key:  # "" holds a payload
            yield (*prefix, key)
            yield from _phrase_keys(node, (*prefix, key))


def _leading_breaks() -> frozenset[str]:
    """Break tokens that start a trigger; raises if a break sits anywhere else in a phrase
    (then sentences could not be analysed apart)."""
    leading = set()
    for index, trie in enumerate(RULES.tries):
        for keys in _phrase_keys(trie):
            if keys[-1] in SENTENCE_END:
                if len(keys) > 1 or trie is not RULES.trigger_trie:
                    raise ValueError(f"rules.json: a phrase of trie {index} holds the sentence "
                                     f"break {keys[-1]!r} after its start: {keys}")
                leading.add(keys[-1])
    return frozenset(leading)


_LEADING = _leading_breaks()
_CACHE: dict[tuple[str, ...], SentenceFacts] = {}
# Bounded so that arbitrary generated text cannot grow it without limit: cleared when full;
# sentences longer than _MAX_TOKENS tokens or _MAX_CHARS characters (rare, and rarely
# repeated) are not kept.
_CACHE_LIMIT = 32_768
_MAX_TOKENS = 48
_MAX_CHARS = 400


def _analyse(words: list[str], lead: int) -> SentenceFacts:
    """Facts of one sentence; ``words[:lead]`` is the break token in front of it, if any."""
    ctx, mentions, normal_starts, phrase_starts = scan_words(words)
    other = (RULES.other,)
    gathered = gather_attributes(ctx, [m for m in mentions if m[2] != other])
    keys = tuple(key for key, _ in ctx.keys[lead:])
    content = any(s >= lead for s in phrase_starts) or any(s >= lead for s in normal_starts) \
        or not RULES.anatomy_words.isdisjoint(keys)
    return SentenceFacts(tuple(mentions), bool(normal_starts),
                         tuple((m, tuple(hits)) for m, hits in gathered), keys, content)


# Every break character splits the text, except a "." that TOKEN_RE reads inside a number
# ("2.5"); see _split.
_ANY_BREAK = re.compile(r"([.;!?:])")
_CHUNKS: dict[str, SentenceFacts | None] = {}  # sentence text -> facts (None: no tokens)
_STRIP = " \t\n\r"  # whitespace that surely separates tokens


def _facts(chunk: str, lead: str) -> SentenceFacts | None:
    """Facts of the tokens of ``chunk`` (after break ``lead``, if it starts a phrase)."""
    words = TOKEN_RE.findall(chunk)
    if not words:
        return None
    if lead:
        words.insert(0, lead)
    key = tuple(words)
    facts = _CACHE.get(key)
    if facts is None:
        facts = _analyse(words, 1 if lead else 0)
        if len(key) <= _MAX_TOKENS:
            _remember(_CACHE, key, facts)
    return facts


def _remember(cache: dict, key: object, facts: SentenceFacts | None) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = facts


def report_sentences(text: str) -> list[SentenceFacts]:
    """The facts of every sentence of ``text`` that holds a token, in order.

    Raises:
        TypeError: ``text`` is not a str.

    Examples:
        >>> [(f.mentions, f.normal) for f in report_sentences("No effusion. Lungs are clear.")]
        [(((1, 2, ('pleural_effusion',), 'negative'),), False), ((), True)]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    lowered = text.lower()
    chunks = _CHUNKS
    out = []
    lead = ""
    parts = _split(lowered)
    for k in range(0, len(parts), 2):
        chunk = parts[k].strip(_STRIP)
        if chunk:
            key = lead + chunk
            facts = chunks.get(key, _MISSING)
            if facts is _MISSING:
                facts = _facts(chunk, lead)
                if len(key) <= _MAX_CHARS:
                    _remember(chunks, key, facts)
            if facts is not None:
                out.append(facts)
        if k + 1 < len(parts):
            lead = parts[k + 1] if parts[k + 1] in _LEADING else ""
    return out


def _split(lowered: str) -> list[str]:
    """``[text, break, text, break, ..., text]``: the sentences and the breaks between, cut
    where TOKEN_RE has a break token, so each text tokenises as that stretch of the whole.

    TOKEN_RE reads ``\\d+(?:\\.\\d+)?`` from the first digit of a run: a "." with digits on
    both sides belongs to that number unless the digits before it are the number's own
    fraction ("1.2.3" is "1.2", ".", "3"). ``\\d`` is ``str.isdecimal``.

    Examples:
        >>> _split("size 2.5 cm. no effusion: 1.2.3")
        ['size 2.5 cm', '.', ' no effusion', ':', ' 1.2', '.', '3']
    """
    parts = _ANY_BREAK.split(lowered)
    if len(parts) == 1 or "." not in lowered:
        return parts
    out = [parts[0]]
    fraction = False  # the digits that end out[-1] are a number's fraction
    for k in range(1, len(parts), 2):
        sep, nxt = parts[k], parts[k + 1]
        cur = out[-1]
        if sep == "." and not fraction and cur[-1:].isdecimal() and nxt[:1].isdecimal():
            out[-1] = f"{cur}.{nxt}"
            fraction = nxt.isdecimal()
        else:
            out += (sep, nxt)
            fraction = False
    return out


_MISSING = object()
