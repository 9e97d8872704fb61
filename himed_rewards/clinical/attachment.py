"""Which mention of a sentence each attribute word belongs to (see
:mod:`himed_rewards.clinical.attributes` for the rules).

Everything here stays inside one sentence: clauses and the "nearest mention" never cross a
sentence break, which is what lets :mod:`himed_rewards.clinical.sentences` analyse and
cache sentence by sentence.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate

from himed_rewards.clinical.negation import TextContext
from himed_rewards.clinical.rules import RULES, SENTENCE_END, match_phrases

__all__ = ["gather_attributes", "gather_placed"]

# Words read here directly (not through RULES' tries) must be listed in
# sentences._read_by_words: a word it does not list is treated as unread, interchangeable
# with any other in the sentence cache's skeletons.
DEVICE = "support_devices"
_NUMBER_CHARS = frozenset("0123456789.")
_MAX_SIZE_MM = 10_000.0
_SIDES = frozenset({"left", "right"})
_MORE = frozenset({"greater", "worse", "more", "larger", "bigger", "predominant"})

Mention = tuple[int, int, tuple[str, ...], str]
Hit = tuple[str, "str | float"]


def _attribute_hits(ctx: TextContext) -> list[tuple[int, str, str | float]]:
    """``(token index, kind, value)`` of every attribute word and measurement, by index."""
    hits: list[tuple[int, str, str | float]] = []
    words, units = ctx.words, RULES.units
    n = len(words)
    for start, _end, pairs in match_phrases(ctx.keys, RULES.attribute_trie, ctx.starts[3]):
        hits.extend((start, kind, value) for kind, value in pairs)
        word = words[start]  # "left greater than right": the predominant side
        if word in _SIDES and start + 2 < n and words[start + 1] in _MORE \
                and words[start + 2] == "than":
            hits.append((start, "dominant", word))
    numbers = [k for k, word in enumerate(words) if word[0].isdigit()]
    for k in numbers:
        scale = units.get(words[k + 1]) if k + 1 < n else None
        if scale is None or not _NUMBER_CHARS.issuperset(words[k]):
            continue
        try:
            size = float(words[k]) * scale
        except ValueError:  # "1.2.3" is not a number
            continue
        if 0.0 < size < _MAX_SIZE_MM:  # "0 cm" or a 400-digit number is no size
            hits.append((k, "size", size))
    hits.sort(key=lambda h: h[0])
    return hits


_CLAUSE_WORDS = frozenset({",", "but", "however", "although", "whereas", "while", "and/or"})
_CLAUSE_BOUNDS = _CLAUSE_WORDS | SENTENCE_END  # (the sentence breaks of negation.analyse)


def _clause_and_sentence_ids(ctx: TextContext) -> tuple[list[int], list[int]]:
    """Clause and sentence number of every token: a boundary token opens the next group
    (counted by ``accumulate`` in C, then looked up by index). Clauses end at sentence ends,
    commas and contrast words; unlike negation scopes, "with" does not end one: in "left
    middle lobe with increased opacities" the side belongs to the opacity."""
    words = ctx.words
    return (list(accumulate(map(_CLAUSE_BOUNDS.__contains__, words))),
            list(accumulate(map(SENTENCE_END.__contains__, words))))


def _nearest(starts: list[int], mentions: list, clause: list[int], k: int) -> int | None:
    """Index of the mention nearest token ``k`` in the same clause (ties: the later one)."""
    pos = bisect_left(starts, k + 1)  # mentions starting after k are at pos and beyond
    best, best_distance = None, None
    if pos < len(mentions) and clause[mentions[pos][0]] == clause[k]:
        best, best_distance = pos, mentions[pos][0] - k
    if pos > 0:
        i, j = mentions[pos - 1][0], mentions[pos - 1][1]
        if clause[i] == clause[k]:
            distance = 0 if k < j else k - j + 1
            if best_distance is None or distance < best_distance:
                best = pos - 1
    return best


def gather_attributes(ctx: TextContext, mentions: list[Mention]) -> list[tuple[Mention, list[Hit]]]:
    """``(mention, [(kind, value), ...])`` for every mention that gets attribute words, in
    the order of its first word; ``mentions`` excludes the bare "other" mentions.

    Examples:
        >>> from himed_rewards.clinical.labeler import scan
        >>> ctx, mentions, _ = scan("small left effusion")
        >>> gather_attributes(ctx, mentions)
        [((2, 3, ('pleural_effusion',), 'positive'), [('severity', '1'), ('side', 'left')])]
    """
    return [(m, [(kind, value) for _, kind, value in hits])
            for m, hits in gather_placed(ctx, mentions)]  # fmt: skip


def gather_placed(
    ctx: TextContext, mentions: list[Mention]
) -> list[tuple[Mention, list[tuple[int, str, str | float]]]]:
    """:func:`gather_attributes` with the token index of every hit: ``(index, kind, value)``.

    Examples:
        >>> from himed_rewards.clinical.labeler import scan
        >>> ctx, mentions, _ = scan("nodule measuring 2 cm")
        >>> gather_placed(ctx, mentions)
        [((0, 1, ('nodule', 'lung_lesion'), 'positive'), [(2, 'size', 20.0)])]
    """
    hits = _attribute_hits(ctx) if mentions else []
    if not hits:
        return []
    starts = [m[0] for m in mentions]
    clause, sentence = _clause_and_sentence_ids(ctx)
    device_index = [k for k, m in enumerate(mentions) if DEVICE in m[2]]
    devices = [mentions[k] for k in device_index]
    device_starts = [m[0] for m in devices]
    gathered: dict[int, list[tuple[int, str, str | float]]] = {}
    for hit in hits:
        k, kind = hit[0], hit[1]
        if kind == "position":
            if devices:
                index = _nearest(device_starts, devices, clause, k)
                if index is not None:
                    gathered.setdefault(device_index[index], []).append(hit)
            continue
        if kind == "dominant":  # "effusions, left greater than right": crosses the comma
            index = bisect_left(starts, k) - 1
            if index < 0 or sentence[mentions[index][0]] != sentence[k]:
                index += 1  # "Bibasilar, left greater than right atelectasis": the next one
            if index < len(mentions) and sentence[mentions[index][0]] == sentence[k]:
                gathered.setdefault(index, []).append(hit)
            continue
        index = _nearest(starts, mentions, clause, k)
        if index is None:
            # "In the right midlung zone, there is a small nodule", "Left effusion,
            # increased since prior": a clause without a finding qualifies the sentence's
            # nearest one.
            index = _nearest(starts, mentions, sentence, k)
        if index is not None:
            gathered.setdefault(index, []).append(hit)
    return [(mentions[index], found) for index, found in gathered.items()]
