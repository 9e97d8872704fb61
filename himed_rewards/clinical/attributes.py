"""Attributes of each finding a report states: side, zone, severity, size, change, position.

``describe_report(text)`` extends :func:`~himed_rewards.clinical.label_report`: for every
finding (and judge-only concept ``x:...``) it returns a :class:`FindingState` with the
merged polarity and the attributes the report gives it:

* ``sides``: ``{"left"}``, ``{"right"}`` or both (bilateral, bibasilar, biapical);
* ``zones``: ``upper`` (apex, apical, upper lobe), ``middle`` (mid, lingula), ``lower``
  (base, basilar, lower lobe, costophrenic), ``central`` (perihilar, hilar);
* ``severity``: 1 (mild, small, trace), 2 (moderate), 3 (large, severe, marked, tension);
* ``size_mm``: the largest measurement (a number followed by mm / cm);
* ``change``: ``new``, ``stable``, ``improved``, ``worsened``;
* ``position`` (support devices only): ``ok`` or ``malpositioned``.

An attribute word belongs to the nearest mention in its clause (clauses end at sentence
punctuation, commas and contrast words such as "but"); on a tie it goes to
the mention after it, since radiology modifiers usually precede their noun ("left pleural
effusion"). Position words only attach to device mentions. Negated mentions carry no
attributes ("no left effusion" says nothing about a side). The lexicon is in
``himed_rewards/data/clinical/rules.json`` (``attributes``, ``units``), built by
``scripts/build_clinical_rules.py``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from himed_rewards.clinical.labeler import merge_polarities, scan, scan_content
from himed_rewards.clinical.negation import TextContext
from himed_rewards.clinical.rules import RULES, match_phrases

__all__ = ["FindingState", "describe_report", "describe_with_filler", "filler_sentences"]

_DEVICE = "support_devices"
_NUMBER_CHARS = frozenset("0123456789.")
_MAX_SIZE_MM = 10_000.0
_SIDES = frozenset({"left", "right"})
_MORE = frozenset({"greater", "worse", "more", "larger", "bigger", "predominant"})


@dataclass(frozen=True)
class FindingState:
    """What a report says about one finding: polarity plus attributes (empty = unstated).

    Examples:
        >>> FindingState("positive", sides=frozenset({"left"}), severity=1.0)
        FindingState(polarity='positive', sides=frozenset({'left'}), zones=frozenset(), \
severity=1.0, size_mm=0.0, change=frozenset(), position='', sites=frozenset(), dominant='')
    """

    polarity: str
    sides: frozenset[str] = field(default_factory=frozenset)
    zones: frozenset[str] = field(default_factory=frozenset)
    severity: float = 0.0  # 0 = unstated; 1 mild .. 3 severe (mean of the stated words)
    size_mm: float = 0.0  # 0 = unstated
    change: frozenset[str] = field(default_factory=frozenset)
    position: str = ""  # "" | "ok" | "malpositioned"
    # (side, zone) of each lateral mention: "right upper and left mid-lung opacities" are
    # two sites, so swapping one side still changes the set (the sides alone would not).
    sites: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    dominant: str = ""  # "left greater than right": "left"



_PLAIN = {p: FindingState(p) for p in ("positive", "negative", "uncertain")}


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


class _Groups:
    """Clause or sentence number of a token, by bisecting the boundary tokens (a boundary
    token opens the next group). Clauses end at sentence ends, commas and contrast words;
    unlike negation scopes, "with" does not end one: in "left middle lobe with increased
    opacities" the side belongs to the opacity."""

    __slots__ = ("bounds",)

    def __init__(self, bounds: list[int]) -> None:
        self.bounds = bounds

    def __getitem__(self, k: int) -> int:
        return bisect_right(self.bounds, k)


def _clause_and_sentence_ids(ctx: TextContext) -> tuple[_Groups, _Groups]:
    clause_words = _CLAUSE_WORDS
    clauses = [k for k, word in enumerate(ctx.words) if word in clause_words]
    return _Groups(sorted(clauses + ctx.breaks)), _Groups(ctx.breaks)


def _nearest(starts: list[int], mentions: list, clause: _Groups, k: int) -> int | None:
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


def describe_report(text: str) -> dict[str, FindingState]:
    """Every finding and judge-only concept a report states, with its attributes.

    Keys are the names of :data:`~himed_rewards.clinical.FINDINGS` plus judge-only
    concepts (``x:lymphadenopathy``, ``x:aortic_aneurysm``, ...); linear time.

    Raises:
        TypeError: ``text`` is not a str.

    Examples:
        >>> s = describe_report("Small left pleural effusion, new since prior. No pneumothorax.")
        >>> e = s["pleural_effusion"]
        >>> e.polarity, sorted(e.sides), e.severity, s["pneumothorax"].polarity
        ('positive', ['left'], 1.0, 'negative')
        >>> describe_report("3.2 cm mass in the right upper lobe.")["mass"].size_mm
        32.0
        >>> describe_report("Malpositioned ETT, tip in the right main bronchus.")[
        ...     "support_devices"].position
        'malpositioned'
    """
    return _describe(*scan(text))


def describe_with_filler(text: str) -> tuple[dict[str, FindingState], int]:
    """``(describe_report(text), filler_sentences(text))`` from one analysis of the text.

    Examples:
        >>> states, filler = describe_with_filler("No effusion. Thanks.")
        >>> sorted(states), filler
        (['no_finding', 'pleural_effusion'], 1)
    """
    ctx, mentions, normal_starts, phrase_starts = scan_content(text)
    return _describe(ctx, mentions, bool(normal_starts)), _filler(ctx, normal_starts +
                                                                 phrase_starts)


def _describe(ctx: TextContext, mentions: list, normal: bool) -> dict[str, FindingState]:
    polarities = merge_polarities(mentions, normal)
    if "no_finding" not in polarities and mentions:
        minor = RULES.minor_concepts | {RULES.other}
        significant = any(
            p != "negative" and f in polarities and f not in minor for _, _, fs, p in mentions
            for f in fs
        ) or any(p != "negative" and set(fs) <= {RULES.other} for _, _, fs, p in mentions)
        if not significant:  # only incidental findings: a normal study for the judge
            polarities["no_finding"] = "positive"
    # "density representing atelectasis": attributes go to the findings, not to "other" words.
    other = RULES.other
    mentions = [m for m in mentions if m[2] != (other,)]
    hits = _attribute_hits(ctx) if mentions else []
    if not hits:
        return {f: _PLAIN[p] for f, p in polarities.items()}
    starts = [m[0] for m in mentions]
    clause, sentence = _clause_and_sentence_ids(ctx)
    device_index = [k for k, m in enumerate(mentions) if _DEVICE in m[2]]
    devices = [mentions[k] for k in device_index]
    device_starts = [m[0] for m in devices]
    gathered: dict[int, list[tuple[str, str | float]]] = {}
    for k, kind, value in hits:
        if kind == "position":
            if devices:
                index = _nearest(device_starts, devices, clause, k)
                if index is not None:
                    gathered.setdefault(device_index[index], []).append((kind, value))
            continue
        if kind == "dominant":  # "effusions, left greater than right": crosses the comma
            index = bisect_left(starts, k) - 1
            if index >= 0 and sentence[mentions[index][0]] == sentence[k]:
                gathered.setdefault(index, []).append((kind, value))
            continue
        index = _nearest(starts, mentions, clause, k)
        if index is None:
            # "In the right midlung zone, there is a small nodule", "Left effusion,
            # increased since prior": a clause without a finding qualifies the sentence's
            # nearest one.
            index = _nearest(starts, mentions, sentence, k)
        if index is not None:
            gathered.setdefault(index, []).append((kind, value))
    attributes: dict[str, dict] = {}
    for index, hits in gathered.items():
        _, _, findings, polarity = mentions[index]
        if polarity == "negative":
            continue
        for finding in findings:
            if finding not in polarities:
                continue
            slot = attributes.setdefault(finding, {"side": set(), "zone": set(),
                                                   "severity": [], "size": 0.0,
                                                   "change": set(), "position": "",
                                                   "sites": set(), "dominant": ""})  # fmt: skip
            for kind, value in hits:
                _add(slot, kind, value)
            slot["sites"].update(_sites(hits))
    out = {}
    device = attributes.get(_DEVICE)
    if device is not None and device["position"] == "malpositioned":
        polarities.pop("no_finding", None)  # a misplaced tube is not a normal study
    for finding, polarity in polarities.items():
        slot = attributes.get(finding)
        if slot is None or polarity == "negative":
            out[finding] = _PLAIN[polarity]
            continue
        sides = {"left", "right"} if "both" in slot["side"] else slot["side"]
        severity = sum(slot["severity"]) / len(slot["severity"]) if slot["severity"] else 0.0
        position = slot["position"] if finding == _DEVICE else ""
        out[finding] = FindingState(polarity, frozenset(sides), frozenset(slot["zone"]),
                                    severity, slot["size"], frozenset(slot["change"]),
                                    position, frozenset(slot["sites"]),
                                    slot["dominant"])  # fmt: skip
    return out


def _sites(hits: list[tuple[str, str | float]]) -> set[tuple[str, str]]:
    """``(side, zone)`` pairs of one mention ("" = unstated zone); none without a side."""
    sides = {v for k, v in hits if k == "side"}
    if "both" in sides:
        sides = {"left", "right"}
    zones = {v for k, v in hits if k == "zone"} or {""}
    return {(side, zone) for side in sides for zone in zones}  # type: ignore[misc]


def _add(slot: dict, kind: str, value: str | float) -> None:
    if kind == "side" or kind == "zone" or kind == "change":
        slot[kind].add(value)
    elif kind == "severity":
        slot["severity"].append(float(value))  # type: ignore[arg-type]
    elif kind == "size":
        slot["size"] = max(slot["size"], float(value))
    elif kind == "dominant":
        slot["dominant"] = value
    elif kind == "position" and slot["position"] != "malpositioned":
        slot["position"] = value  # a malposition anywhere wins over "in place"


def filler_sentences(text: str) -> int:
    """Number of sentences with no clinical content, plus verbatim repeats of a sentence.

    A sentence has content when it names a finding (or an unmention such as "pericardial
    effusion"), makes a normal statement ("lungs are clear") or names anatomy or a device
    ("osseous structures are intact"). Raises ``TypeError`` for non-str input.

    Examples:
        >>> filler_sentences("Heart is normal. Thank you for the referral. Heart is normal.")
        2
        >>> filler_sentences("")
        0
    """
    ctx, _, normal_starts, phrase_starts = scan_content(text)
    return _filler(ctx, normal_starts + phrase_starts)


def _filler(ctx: TextContext, content_starts: list[int]) -> int:
    """Sentences (between ``ctx.breaks``) with no content start and no anatomy word, plus
    verbatim repeats."""
    content = sorted(content_starts)
    anatomy = RULES.anatomy_words
    seen: set[tuple[str, ...]] = set()
    filler, begin, c = 0, 0, 0
    keys = ctx.keys
    for end in [*ctx.breaks, len(keys)]:
        if end > begin:
            while c < len(content) and content[c] < begin:
                c += 1
            sentence = tuple(key for key, _ in keys[begin:end])
            has_content = (c < len(content) and content[c] < end) or not anatomy.isdisjoint(
                sentence)
            if not has_content or sentence in seen:
                filler += 1
            seen.add(sentence)
        begin = end + 1
    return filler
