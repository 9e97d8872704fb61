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
# sentences longer than _MAX_TOKENS (rare, and rarely repeated) are not kept.
_CACHE_LIMIT = 32_768
_MAX_TOKENS = 48


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


def report_sentences(text: str) -> list[SentenceFacts]:
    """The facts of every non-empty sentence of ``text``, in order.

    Raises:
        TypeError: ``text`` is not a str.

    Examples:
        >>> [(f.mentions, f.normal) for f in report_sentences("No effusion. Lungs are clear.")]
        [(((1, 2, ('pleural_effusion',), 'negative'),), False), ((), True)]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = TOKEN_RE.findall(text.lower())
    cache = _CACHE
    out = []
    begin = 0
    ends = [k for k, word in enumerate(words) if word in SENTENCE_END]
    ends.append(len(words))
    for end in ends:
        if end > begin:
            lead = 1 if begin and words[begin - 1] in _LEADING else 0
            key = tuple(words[begin - lead:end])
            facts = cache.get(key)
            if facts is None:
                facts = _analyse(list(key), lead)
                if len(key) <= _MAX_TOKENS:
                    if len(cache) >= _CACHE_LIMIT:
                        cache.clear()
                    cache[key] = facts
            out.append(facts)
        begin = end + 1
    return out
