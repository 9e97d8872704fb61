"""Sentence-by-sentence analysis of a report, cached per sentence.

Everything the judge reads from a report is decided inside one sentence: trigger scopes,
qualifiers, clauses and the attachment of attribute words all stop at a sentence break
(``. ; ! ? :``), and no phrase of the rule table spans one. So a report can be analysed
one sentence at a time and the results concatenated, with the same outcome as analysing
it whole. Reports repeat sentences ("No pneumothorax.", "Heart size is normal.") far more
than whole texts, within a GRPO group and across steps, so each sentence's facts are
cached by its text; the sentences of a batch that miss the cache are analysed together, a
few dozen at a time, and sentences that differ only in numbers or in words the analysis
never reads share one analysis (their skeleton, see _skeleton and _measured); a new
sentence that is a known one with other numbers skips even tokenising (its digit mask, see
_MASKED). The caches are bounded (cleared when full).

One exception to "no phrase spans a break": a break token may *start* a trigger (ConText's
": no"). Such a trigger looks back at the sentence before the break when it is all that
follows it ("Pneumothorax: no."), and the cue word in it also starts the next sentence
("Findings: no effusion."; see negation.analyse). So a sentence that follows such a break
is analysed, and cached, with that break token in front, and a sentence that such a
trigger follows, with the trigger behind it. The rule table is checked for this at import.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from himed_rewards.clinical.attachment import _MAX_SIZE_MM, Hit, Mention, gather_placed
from himed_rewards.clinical.cache_dict import CacheDict
from himed_rewards.clinical.labeler import PATHOLOGIES, scan_words, strongest_polarities
from himed_rewards.clinical.rules import (
    RULES,
    SENTENCE_END,
    TOKEN_RE,
    WORD_INFO,
    match_phrases,
    token_keys,
    word_info,
)

__all__ = ["SentenceFacts", "clear_caches", "number_variants", "on_clear", "report_sentences",
           "reports_sentences"]


class SentenceFacts(NamedTuple):
    """What one sentence says, independent of the sentences around it (a named tuple:
    made by the thousand on fresh text, where a frozen dataclass costs more)."""

    mentions: tuple[Mention, ...]  # (start, end, findings, polarity); positions are local
    normal: bool  # holds a normal statement ("lungs are clear")
    gathered: tuple[tuple[Mention, tuple[Hit, ...]], ...]  # attribute words per mention
    keys: tuple[str, ...]  # normalised tokens: a verbatim repeat has the same keys
    content: bool  # names a finding, an anatomy word or a device, or is a normal statement
    # a mention that is not negative of a finding outside RULES.minor_concepts, or of
    # "other" words alone: the report is not a normal study (see attributes._describe_with_filler)
    significant: bool
    # What the mentions say per finding, merged as labeler.merge_polarities does (the
    # strongest polarity; findings in the order of their first mention): merging these
    # sentence by sentence gives the merge of all a report's mentions.
    polarities: tuple[tuple[str, str], ...] = ()
    # a mention that is not negative of a pathology, an "other" abnormality or a judge-only
    # concept: the report asserts pathology (merge_polarities' test for no_finding)
    abnormal: bool = False


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
# Bounded so that arbitrary generated text cannot grow it without limit: cleared when full;
# sentences longer than _MAX_CHARS characters (rare, and rarely repeated) are not kept.
_CACHE_LIMIT = 32_768
_MAX_CHARS = 400
# New sentences are analysed this many at a time: enough to spread the fixed cost of an
# analysis, few enough to keep its lists small.
_GROUP = 64


def _analyse(
    sentences: list[tuple[list[str], str, list[str]]],
) -> tuple[list[SentenceFacts], list[list[tuple[int, int, int]]]]:
    """Facts of each ``(tokens, lead, trailer)`` sentence, from one analysis of them all.

    ``lead``: the break token in front of the sentence when that break starts a phrase
    (else ""); ``trailer``: the phrase that starts with the break after the sentence (":",
    "no"), which looks back at it (else empty); neither belongs to the sentence's facts.
    Sentences are joined with a "." between (that starts nothing and ends every scope),
    so they stay apart. Also, per sentence, where its measurements went: ``(entry of
    gathered, hit of that entry, index of the number in tokens)`` for every "size" hit."""
    words: list[str] = []
    firsts = []  # index of each sentence's first token in words
    stops = []  # index just past its last token (its trailer follows)
    for tokens, lead, trailer in sentences:
        words.append(".")
        if lead:
            words.append(lead)
        firsts.append(len(words))
        words += tokens
        stops.append(len(words))
        if trailer:
            words += trailer
    ctx, mentions, normal_starts, phrase_starts = scan_words(words)
    count = len(sentences)
    ends = [*firsts[1:], len(words) + 1]  # a sentence's tokens, trailer and what follows
    local_mentions: dict[int, list[Mention]] = {}  # sentence -> its mentions, local
    sentence_of_mention = {}
    kept = []
    k = 0
    for m in mentions:
        while m[0] >= ends[k]:
            k += 1
        if m[0] >= stops[k]:
            continue  # in the trailer: the next sentence's
        offset = firsts[k] - (1 if sentences[k][1] else 0)
        local = (m[0] - offset, m[1] - offset, m[2], m[3])
        mine = local_mentions.get(k)
        if mine is None:
            local_mentions[k] = [local]
        else:
            mine.append(local)
        sentence_of_mention[m[0]] = (k, local)
        kept.append(m)
    local_gathered: dict[int, list[tuple[Mention, tuple[Hit, ...]]]] = {}
    sizes: dict[int, list[tuple[int, int, int]]] = {}
    if kept:
        other = (RULES.other,)
        for m, hits in gather_placed(ctx, [m for m in kept if m[2] != other]):
            k, local = sentence_of_mention[m[0]]
            gathered = local_gathered.setdefault(k, [])
            for h, (position, kind, _) in enumerate(hits):
                if kind == "size":  # hits never leave their sentence
                    sizes.setdefault(k, []).append((len(gathered), h, position - firsts[k]))
            gathered.append((local, tuple([(kind, value) for _, kind, value in hits])))
    normal = [False] * count
    for s in normal_starts:
        k = bisect_right(firsts, s) - 1
        if s < stops[k]:
            normal[k] = True
    content = normal[:]
    for s in phrase_starts:
        k = bisect_right(firsts, s) - 1
        if s < stops[k]:
            content[k] = True
    anatomy = RULES.anatomy_words
    all_keys = [key for key, _ in ctx.keys]
    summaries = _SUMMARIES
    new = _tuple_new
    out = []
    for k, begin in enumerate(firsts):
        keys = tuple(all_keys[begin:stops[k]])
        found = content[k] or not anatomy.isdisjoint(keys)
        gathered = local_gathered.get(k)
        gathered = tuple(gathered) if gathered else ()
        mine = local_mentions.get(k)
        if mine:
            said = tuple([(m[2], m[3]) for m in mine])
            summary = summaries.get(said)
            if summary is None:
                summary = _summary(mine)
                if len(summaries) >= _CACHE_LIMIT:
                    summaries.clear()
                summaries[said] = summary
            out.append(new(SentenceFacts, (tuple(mine), normal[k], gathered, keys, found,
                                           *summary)))  # fmt: skip
        else:
            out.append(new(SentenceFacts, ((), normal[k], gathered, keys, found, False, (),
                                           False)))  # fmt: skip
    return out, [sizes.get(k, _NO_SIZES) for k in range(count)]


_NO_SIZES: list[tuple[int, int, int]] = []
# what a sentence's mentions say, (findings, polarity) of each in order -> (significant,
# polarities, abnormal): sentences repeat what they say far more than how ("no effusion")
_SUMMARIES: dict[tuple, tuple[bool, tuple[tuple[str, str], ...], bool]] = CacheDict()


def _summary(mentions: list[Mention]) -> tuple[bool, tuple[tuple[str, str], ...], bool]:
    polarities = tuple(strongest_polarities(mentions).items())
    return _significant(mentions), polarities, _abnormal(polarities)


def _abnormal(polarities: tuple[tuple[str, str], ...]) -> bool:
    return any(p != "negative" and (f in PATHOLOGIES or f == RULES.other or f.startswith("x:"))
               for f, p in polarities)  # fmt: skip


_MINOR = RULES.minor_concepts | {RULES.other}
_OTHER_ONLY = frozenset({RULES.other})


def _significant(mentions: list[Mention]) -> bool:
    return any(
        p != "negative" and f not in _MINOR for _, _, fs, p in mentions for f in fs
    ) or any(p != "negative" and _OTHER_ONLY.issuperset(fs) for _, _, fs, p in mentions)


# Every break character splits the text, except a "." that TOKEN_RE reads inside a number
# ("2.5"); see _split.
_ANY_BREAK = re.compile(r"([.;!?:])")
# The common case, split by str.split (see _split_dots): the text holds no break but ".",
# which starts no phrase. The test in reports_sentences names the other breaks.
_SIMPLE_BREAKS = "." not in _LEADING and {".", ":", ";", "!", "?"} == SENTENCE_END
# A "." between two digits (the "." first: the regular expression engine then skips ahead to
# each ".", several times faster than r"\d\.\d").
_NUMBER_DOT = re.compile(r"\.(?=\d)(?<=\d\.)")
_CHUNKS: dict[str, SentenceFacts | None] = {}  # sentence text -> facts (None: no tokens)
_STRIP = " \t\n\r"  # whitespace that surely separates tokens


def _remember(cache: dict, key: object, facts: SentenceFacts | None) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = facts


def clear_caches() -> None:
    """Forget every sentence analysed so far (benchmarks of text never seen; tests). What
    is known about single words stays; so do the summaries of what mentions say.

    Examples:
        >>> clear_caches(); report_sentences("No effusion.")[0].keys
        ('no', 'effusion')
    """
    _CHUNKS.clear()
    _SKELETONS.clear()
    _MASKED.clear()
    for forget in _ON_CLEAR:
        forget()


# What else forgets its sentences with clear_caches (the judge's records: clinical/records.py)
_ON_CLEAR: list = []


def on_clear(forget) -> None:
    """Call ``forget()`` at every :func:`clear_caches` from now on.

    Examples:
        >>> forgotten = []; on_clear(lambda: forgotten.append(1)); clear_caches(); forgotten
        [1]
    """
    _ON_CLEAR.append(forget)


def report_sentences(text: str) -> list[SentenceFacts]:
    """The facts of every sentence of ``text`` that holds a token, in order.

    Raises:
        TypeError: ``text`` is not a str.

    Examples:
        >>> [(f.mentions, f.normal) for f in report_sentences("No effusion. Lungs are clear.")]
        [(((1, 2, ('pleural_effusion',), 'negative'),), False), ((), True)]
    """
    return reports_sentences([text])[0]


def reports_sentences(texts: list[str]) -> list[list[SentenceFacts]]:
    """:func:`report_sentences` of several texts; the sentences that miss the caches are
    analysed together in one pass (each distinct one once), so a batch of fresh reports
    pays the fixed cost of an analysis once, not once per sentence.

    Raises:
        TypeError: a text is not a str.

    Examples:
        >>> [len(s) for s in reports_sentences(["No effusion. Lungs clear.", "", "Edema."])]
        [2, 0, 1]
    """
    chunks = _CHUNKS
    outs: list[list[SentenceFacts | None]] = []
    places: dict[str, list[int]] = {}  # sentence key -> [text, index, text, index, ...]
    # analysis key (a sentence key, or a skeleton) ->
    # (tokens, lead, trailer, [(sentence key, tokens)])
    todo: dict[object, tuple[list[str], str, list[str], list[tuple[str, list[str]]]]] = {}
    for t, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        out: list[SentenceFacts | None] = []
        lowered = text.lower()
        if _SIMPLE_BREAKS and not (":" in lowered or ";" in lowered or "!" in lowered
                                   or "?" in lowered):
            # Only "." breaks, none starting a phrase: what _split returns, without the
            # breaks (every lead stays "", no trailer). The common case, so its loop is
            # the general one below with those tests left out.
            for part in _split_dots(lowered):
                chunk = part.strip(_STRIP)
                if chunk:
                    facts = chunks.get(chunk, _MISSING)
                    if facts is _MISSING:
                        where = places.get(chunk)
                        if where is not None:  # met earlier in this batch
                            where += (t, len(out))
                            out.append(None)
                            continue
                        facts = _first_miss(chunk, chunk, "", _NO_TRAILER, todo)
                        if facts is _PENDING:
                            places[chunk] = [t, len(out)]
                            out.append(None)
                            continue
                    if facts is not None:
                        out.append(facts)
            outs.append(out)
            continue
        parts = _split(lowered)
        for k in range(0, len(parts), 2):
            # the break before this sentence, when it starts a phrase, and the phrase
            # that starts with the break after it, which looks back at it (": no")
            lead = parts[k - 1] if k and parts[k - 1] in _LEADING else ""
            trailer = _trailer(parts[k + 1], parts[k + 2]) \
                if k + 2 < len(parts) and parts[k + 1] in _LEADING else []
            chunk = parts[k].strip(_STRIP)
            if chunk:
                key = lead + chunk if lead else chunk
                if trailer:  # a break inside a key only comes from a trailer
                    key = f"{key}{trailer[0]}{' '.join(trailer[1:])}"
                facts = chunks.get(key, _MISSING)
                if facts is _MISSING:
                    where = places.get(key)
                    if where is not None:  # met earlier in this batch
                        where += (t, len(out))
                        out.append(None)
                        continue
                    facts = _first_miss(key, chunk, lead, trailer, todo)
                    if facts is _PENDING:
                        places[key] = [t, len(out)]
                        out.append(None)
                        continue
                if facts is not None:
                    out.append(facts)
        outs.append(out)
    if todo:
        work = [(words, lead, trailer) for words, lead, trailer, _ in todo.values()]
        analysed: list[SentenceFacts] = []
        sizes: list[list[tuple[int, int, int]]] = []
        for k in range(0, len(work), _GROUP):
            facts_of_group, sizes_of_group = _analyse(work[k:k + _GROUP])
            analysed += facts_of_group
            sizes += sizes_of_group
        limit = _CACHE_LIMIT
        for (analysis_key, (_, _, _, members)), facts, size in zip(
                todo.items(), analysed, sizes, strict=True):
            skeleton = isinstance(analysis_key, tuple)
            if skeleton:
                stand_ins = tuple(i for i, word in enumerate(analysis_key[1:])
                                  if word == _ANY_WORD or word[0] in "0123456789")  # fmt: skip
                known = (facts, tuple(size), stand_ins)
                if len(analysis_key) <= _MAX_TOKENS:
                    _remember(_SKELETONS, analysis_key, known)
                numbers = _ONE in analysis_key
            for m, (key, words) in enumerate(members):
                # the first member was analysed with its own words (but its numbers)
                own = _measured(known, words) if skeleton and (m or numbers) else facts
                if skeleton and numbers and not analysis_key[0] and len(key) <= _MAX_CHARS \
                        and key.isascii():
                    _remember_masked(key, known, analysis_key, words)
                if len(key) <= _MAX_CHARS:
                    if len(chunks) >= limit:
                        chunks.clear()
                    chunks[key] = own
                where = places[key]
                for k in range(0, len(where), 2):
                    outs[where[k]][where[k + 1]] = own
    return outs  # type: ignore[return-value]  # every None was filled


# Skeletons. Sentences that differ only in the value of a number ("nodule measuring 7 mm" /
# "9 mm") or in words the analysis never reads ("there is no XXXX of effusion" / "no sign
# of effusion"; a misspelt or new word) say the same, except for the sizes: they are analysed
# once, as their skeleton (every plain number read as "1", every such word as "~"), and each
# gets its own tokens and sizes back (see _measured). Exact because the analysis compares a
# word with its phrases, qualifiers, anatomy words, clause words, units and side words only,
# reads a plain number only through the size rule, and nothing it compares with starts with
# a digit; "1" is a valid size in every unit (checked below; otherwise no skeletons).
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # what TOKEN_RE reads from ASCII digits
_ONE = "1"
_ANY_WORD = "~"
_MAX_TOKENS = 48  # longer skeletons (rare, and rarely repeated) are not kept
# skeleton -> (its facts, its sizes as _analyse gives them, the indices of its stand-ins)
_SKELETONS: dict[tuple[str, ...], tuple[SentenceFacts, tuple, tuple[int, ...]]] = CacheDict()


def _read_by_words() -> frozenset[str]:
    """Every token the analysis compares a word (or its normalised key) with."""
    from himed_rewards.clinical import attachment

    found: set[str] = set()
    for keys in (k for trie in RULES.tries for k in _phrase_keys(trie)):
        found.update(keys)
    found |= RULES.qualifiers | RULES.anatomy_words | set(RULES.units) | SENTENCE_END
    found |= attachment._CLAUSE_WORDS | attachment._SIDES | attachment._MORE | {"than"}
    return frozenset(found)


_READ = _read_by_words()
_USE_SKELETONS = (
    not any(word[:1].isdigit() for word in _READ) and _ANY_WORD not in _READ
    and all(0.0 < float(_ONE) * scale < _MAX_SIZE_MM for scale in RULES.units.values()))
# word -> what stands for it in a skeleton (the word itself, "1" or "~"); bounded
_SYMBOLS: dict[str, str] = {}
# Number masks. A new sentence is most often a known one with other numbers ("measuring
# 2.7 cm"). TOKEN_RE reads a text by the class of each character only (letter, digit,
# space, "-", other), so two ASCII texts equal once every digit is written "0" have the same
# tokens at the same places but for the numbers' digits, and, in ASCII, every number token
# is a plain number, a "1" of their skeleton: the same skeleton. Such a text skips
# tokenising and its skeleton: its words are those of the text met before with its own
# numbers cut from the same places (then _measured, as for any skeleton).
# digit mask (bytes) -> (the skeleton's analysis as in _SKELETONS, the words of a text with
# that mask, the indices of its numbers in those words, their (start, end) in the text)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_ASCII_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
# (then True; until first used, (analysis, words, skeleton, text): see _remember_masked)
_MASKED: dict[bytes, tuple] = CacheDict()


def _remember_masked(chunk: str, known: tuple, skeleton: tuple[str, ...],
                     words: list[str], masked: bytes | None = None) -> None:
    """Keep ``known`` (the analysis of ``skeleton``, whose first item is the empty lead) for
    the ASCII texts with the digit mask of ``chunk``, whose tokens are ``words``. Kept as
    met: where its numbers are is found at the first text that uses it (most masks of text
    never met before, with a new word, are never used again). ``masked``: that mask, when
    known already."""
    if masked is None:
        encoded = chunk.encode()
        masked = encoded.translate(_DIGITS_TO_ZERO)
        if masked == encoded:  # no digit from 1 to 9: never looked up (see _first_miss)
            return
    # (tuples of str only: the garbage collector stops tracking them, and a kept list it
    # would visit on every full pass)
    _remember(_MASKED, masked, (known, tuple(words), skeleton, chunk))


def _numbers_placed(known: tuple, words: tuple[str, ...], skeleton: tuple[str, ...],
                    chunk: str) -> tuple:
    """An entry of _MASKED ready for use: the indices of the numbers in ``words`` and their
    (start, end) in ``chunk``, and True (5 items: a kept entry has 4; () when unusable)."""
    positions = tuple(k for k, symbol in enumerate(skeleton[1:]) if symbol == _ONE)
    spans = tuple(m.span() for m in _ASCII_NUMBER.finditer(chunk))
    if len(spans) != len(positions):  # (never, by the argument above: then unused)
        return ()
    return known, words, positions, spans, True


def number_variants(chunk: str, masked: bytes | None = None) -> tuple | None:
    """``(known, words, positions)`` for the sentences that differ from ``chunk`` (a cut,
    stripped, lowercased ASCII sentence met before) only in their ASCII numbers: the
    analysis of their skeleton as _SKELETONS keeps it, the words of one of them, and where
    its numbers are in those words (the n-th ``_ASCII_NUMBER`` match of any of them is word
    ``positions[n]``); None when there is no such entry (see _MASKED). A sentence of these
    has the skeleton's facts with its own keys and sizes (_measured), which the judge's
    records can then be written from directly (clinical/records.py). ``masked``: the
    chunk's digit mask, when the caller has it.

    Examples:
        >>> _ = report_sentences("Nodule measuring 7 mm.")
        >>> number_variants("nodule measuring 7 mm")[2]
        (2,)
    """
    if not _USE_SKELETONS:
        return None
    if masked is None:
        masked = chunk.encode().translate(_DIGITS_TO_ZERO)
    entry = _placed(masked)
    if not entry:
        return None
    known, words, positions, _, _ = entry
    return known, words, positions


def _placed(masked: bytes) -> tuple:
    """The usable entry of _MASKED for a digit mask (its numbers placed at its first use,
    once), or () when there is none."""
    entry = _MASKED.get(masked)
    if entry is not None and len(entry) == 4:  # kept as met: numbers placed now, once
        entry = _MASKED[masked] = _numbers_placed(*entry)
    return entry or ()


def _symbol(word: str) -> str:
    if word[0] in "0123456789" and _PLAIN_NUMBER.fullmatch(word):
        symbol = _ONE
    else:
        keys = (WORD_INFO.get(word) or word_info(word))[0]
        neutral = (keys[1] is None and word not in _READ and keys[0] not in _READ
                   and not word[0].isdigit())  # fmt: skip
        symbol = _ANY_WORD if neutral else word
    if len(_SYMBOLS) >= _CACHE_LIMIT:
        _SYMBOLS.clear()
    _SYMBOLS[word] = symbol
    return symbol


def _skeleton(words: list[str], lead: str) -> tuple[str, ...] | None:
    """``(lead, *symbols)`` of a sentence; None when no token has a stand-in."""
    if not _USE_SKELETONS:
        return None
    skeleton = list(map(_SYMBOLS.get, words))  # (the words met before: most of them)
    if None in skeleton:
        skeleton = [symbol or _symbol(word) for word, symbol in zip(words, skeleton, strict=True)]
    return (lead, *skeleton) if skeleton != words else None


def _measured(known: tuple[SentenceFacts, tuple, tuple[int, ...]], words: list[str]) -> SentenceFacts:
    """The facts of the sentence ``words`` from those of its skeleton: its own tokens, and
    each size recomputed from its own number as attachment._attribute_hits does (dropped
    when it is no size, "0 cm"; an entry left without hits is dropped, as there)."""
    facts, sizes, stand_ins = known
    keys = list(facts.keys)
    get = WORD_INFO.get
    for k in stand_ins:
        keys[k] = (get(words[k]) or word_info(words[k]))[0][0]
    gathered = facts.gathered
    if sizes:
        # the common case first: every size is one (nothing dropped), each put in place
        # by index in a list of the entries
        entries_fast = list(gathered)
        for entry, h, position in sizes:
            mention, hits = entries_fast[entry]
            size = float(words[position]) * gathered[entry][1][h][1]  # type: ignore[operator]
            if not 0.0 < size < _MAX_SIZE_MM:
                break
            entries_fast[entry] = (mention, (*hits[:h], ("size", size), *hits[h + 1:]))
        else:
            return _tuple_new(SentenceFacts, (facts[0], facts[1], tuple(entries_fast),
                                              tuple(keys), *facts[4:]))  # fmt: skip
        entries = [(mention, list(hits)) for mention, hits in gathered]
        dropped = []
        for entry, h, position in sizes:
            scale = entries[entry][1][h][1]  # the skeleton's size: 1 * scale
            size = float(words[position]) * scale  # type: ignore[operator]
            if 0.0 < size < _MAX_SIZE_MM:
                entries[entry][1][h] = ("size", size)
            else:
                dropped.append((entry, h))
        for entry, h in reversed(dropped):  # sizes are in (entry, hit) order
            del entries[entry][1][h]
        gathered = tuple((mention, tuple(hits)) for mention, hits in entries if hits)
    # SentenceFacts with its own keys and gathered (a tuple built directly: _replace costs
    # several times more)
    return _tuple_new(SentenceFacts, (facts[0], facts[1], gathered, tuple(keys), *facts[4:]))


_tuple_new = tuple.__new__


_PENDING = object()
_NO_TRAILER: list[str] = []  # (never changed)


def _trailer(brk: str, after: str) -> list[str]:
    """The tokens of the phrase that starts with the break ``brk`` and is all of the text
    ``after`` it, or [] (negation.analyse: such a phrase looks back across the break).

    Examples:
        >>> _trailer(":", " no"), _trailer(":", " no effusion"), _trailer(":", " small")
        ([':', 'no'], [], [])
    """
    words = [brk, *TOKEN_RE.findall(after)]
    found = match_phrases([token_keys(w) for w in words], RULES.trigger_trie, [0])
    return words if found and found[0][1] == len(words) else []


def _first_miss(
    key: str, chunk: str, lead: str, trailer: list[str], todo: dict
) -> SentenceFacts | None | object:
    """The facts of a sentence missing from the cache when its skeleton is known (cached
    now), None when it holds no token, else _PENDING: it joins ``todo`` (under its skeleton
    when it has one, so that all its variants are analysed once)."""
    masked = None
    if not lead and not trailer and _USE_SKELETONS and chunk.isascii():
        encoded = chunk.encode()
        masked = encoded.translate(_DIGITS_TO_ZERO)
        # a text without a digit from 1 to 9 is left out (no dictionary look-up for most
        # misses; "0 cm" takes the skeleton's way)
        if masked == encoded:
            masked, entry = None, ()
        else:
            entry = _placed(masked)
        if entry:
            known, words, positions, spans, _ = entry
            words = list(words)
            for position, (start, end) in zip(positions, spans, strict=True):
                words[position] = chunk[start:end]
            facts = _measured(known, words)
            if len(key) <= _MAX_CHARS:
                _remember(_CHUNKS, key, facts)
            return facts
    words = TOKEN_RE.findall(chunk)
    if not words:  # no token ("-"): nothing to say
        if len(key) <= _MAX_CHARS:
            _remember(_CHUNKS, key, None)
        return None
    skeleton = _skeleton(words, lead) if not trailer else None  # (trailers are rare)
    if skeleton is None:
        todo[key] = (words, lead, trailer, [(key, words)])
        return _PENDING
    known = _SKELETONS.get(skeleton)
    if known is not None:
        facts = _measured(known, words)
        if len(key) <= _MAX_CHARS:
            _remember(_CHUNKS, key, facts)
            if masked is not None and _ONE in skeleton:
                _remember_masked(chunk, known, skeleton, words, masked)
        return facts
    entry = todo.get(skeleton)
    if entry is None:
        # Analysed with this sentence's own words but "1" for its numbers: the facts are this
        # sentence's when it has no number (see reports_sentences), and any other sentence of
        # the skeleton differs only where _measured puts back its own tokens and sizes.
        if _ONE in skeleton:
            analysed = [_ONE if symbol == _ONE else word
                        for word, symbol in zip(words, skeleton[1:], strict=True)]  # fmt: skip
        else:
            analysed = words
        entry = todo[skeleton] = (analysed, lead, [], [])
    entry[3].append((key, words))
    return _PENDING


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


def _split_dots(lowered: str) -> list[str]:
    """The texts of :func:`_split` for a text whose only break character is ".", by
    ``str.split`` (the regular expression costs more than the rest of a cached sentence).

    Examples:
        >>> _split_dots("size 2.5 cm. no effusion 1.2.3")
        ['size 2.5 cm', ' no effusion 1.2', '3']
    """
    pieces = lowered.split(".")
    if len(pieces) == 1 or not _NUMBER_DOT.search(lowered):
        return pieces
    out = [pieces[0]]
    fraction = False  # the digits that end out[-1] are a number's fraction (see _split)
    for nxt in pieces[1:]:
        cur = out[-1]
        if not fraction and cur[-1:].isdecimal() and nxt[:1].isdecimal():
            out[-1] = f"{cur}.{nxt}"
            fraction = nxt.isdecimal()
        else:
            out.append(nxt)
            fraction = False
    return out


_MISSING = object()
