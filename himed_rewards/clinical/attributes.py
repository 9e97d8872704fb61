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

from dataclasses import dataclass, field

from himed_rewards.clinical.attachment import DEVICE as _DEVICE
from himed_rewards.clinical.rules import RULES
from himed_rewards.clinical.sentences import SentenceFacts, report_sentences, reports_sentences

__all__ = [
    "FindingState", "describe_many", "describe_report", "describe_with_filler",
    "filler_sentences",
]



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



#: One shared state per polarity for findings stated without attributes.
BARE_STATES = {p: FindingState(p) for p in ("positive", "negative", "uncertain")}
_PLAIN = BARE_STATES
_RANK = {"negative": 0, "uncertain": 1, "positive": 2}
_OTHER = RULES.other


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
    return _describe_with_filler(report_sentences(text))[0]


def describe_with_filler(text: str) -> tuple[dict[str, FindingState], int]:
    """``(describe_report(text), filler_sentences(text))`` from one analysis of the text.

    Examples:
        >>> states, filler = describe_with_filler("No effusion. Thanks.")
        >>> sorted(states), filler
        (['no_finding', 'pleural_effusion'], 1)
    """
    return _describe_with_filler(report_sentences(text))


def describe_many(texts: list[str]) -> list[tuple[dict[str, FindingState], int]]:
    """:func:`describe_with_filler` of each text, the sentences new to the cache analysed
    in one pass for all of them (the judge's batch path).

    Examples:
        >>> [sorted(states) for states, _ in describe_many(["No effusion.", "Edema."])]
        [['no_finding', 'pleural_effusion'], ['edema']]
    """
    return [_describe_with_filler(s) for s in reports_sentences(texts)]


def _describe_with_filler(sentences: list[SentenceFacts]) -> tuple[dict[str, FindingState], int]:
    """A report's states and its filler count (:func:`filler_sentences`) in one pass over its
    sentences: labeler.merge_polarities of all the mentions, from each sentence's merged
    polarities (sentence tuples unpacked, not read by field name: a fresh report costs a
    few microseconds here)."""
    polarities: dict[str, str] = {}
    normal = abnormal = mentioned = significant = False
    gathered: list = []
    rank = _RANK
    seen: set[tuple[str, ...]] = set()
    filler = 0
    for _, said_normal, said_gathered, keys, content, sig, said, abn in sentences:
        size = len(seen)  # filler: no content, or a verbatim repeat
        seen.add(keys)
        if not content or len(seen) == size:
            filler += 1
        if said_normal:
            normal = True
        if said_gathered:
            gathered += said_gathered
        if not said:
            continue
        if not mentioned:  # the first sentence with mentions: its findings are distinct
            mentioned, abnormal, significant = True, abn, sig
            polarities = dict(said)
            continue
        abnormal = abnormal or abn
        significant = significant or sig
        for finding, polarity in said:
            old = polarities.get(finding)
            if old is None or (old != polarity and rank[polarity] > rank[old]):
                polarities[finding] = polarity
    return _states(polarities, normal, abnormal, mentioned, significant, gathered), filler


def _states(polarities: dict[str, str], normal: bool, abnormal: bool, mentioned: bool,
            significant: bool, gathered: list) -> dict[str, FindingState]:
    """A report's states from its merged polarities, what its sentences say about it as a
    whole, and its mentions' attribute words."""
    if not abnormal and (mentioned or normal):
        polarities["no_finding"] = "positive"
    polarities.pop(_OTHER, None)
    if "no_finding" not in polarities and mentioned and not significant:
        polarities["no_finding"] = "positive"  # only incidental findings: a normal study
    # "density representing atelectasis": attributes go to the findings, not to "other"
    # words (see attachment.gather_attributes), and never cross a sentence break.
    if not gathered:
        return {f: _PLAIN[p] for f, p in polarities.items()}
    hit_lists: dict[str, tuple[list, set]] = {}  # finding -> (hits of each mention, sites)
    for (_, _, findings, polarity), hits in gathered:
        if polarity == "negative":
            continue
        sites = None
        for finding in findings:
            if finding not in polarities:
                continue
            entry = hit_lists.get(finding)
            if entry is None:
                entry = hit_lists[finding] = ([], set())
            entry[0].append(hits)
            if sites is None:
                sites = _sites(hits)  # once per mention, not per finding it names
            entry[1].update(sites)
    # (a finding with attribute words has a mention that is not negative: it is asserted)
    described = {f: _folded(polarities[f], f, lists, sites)
                 for f, (lists, sites) in hit_lists.items() if polarities[f] != "negative"}
    device = described.get(_DEVICE)
    if device is not None and device.position == "malpositioned":
        polarities.pop("no_finding", None)  # a misplaced tube is not a normal study
    return {f: described.get(f) or _PLAIN[p] for f, p in polarities.items()}


def _folded(polarity: str, finding: str, hit_lists: list, sites: set) -> FindingState:
    """The state of a finding from the attribute words of its mentions, in text order: sides,
    zones and changes gathered, severity averaged, the largest size, a malposition anywhere
    over "in place", two different predominant sides "mixed"."""
    side: set = set()
    zone: set = set()
    change: set = set()
    severity: list[float] = []
    size = 0.0
    position = dominant = ""
    for hits in hit_lists:
        for kind, value in hits:
            if kind == "side":
                side.add(value)
            elif kind == "zone":
                zone.add(value)
            elif kind == "change":
                change.add(value)
            elif kind == "severity":
                severity.append(float(value))
            elif kind == "size":
                size = max(size, float(value))
            elif kind == "dominant":
                dominant = value if not dominant or dominant == value else "mixed"
            elif kind == "position" and position != "malpositioned":
                position = value
    state = _new_state(FindingState)  # the dataclass __init__ costs several times more
    state.__dict__.update(
        polarity=polarity, sides=frozenset(("left", "right") if "both" in side else side),
        zones=frozenset(zone), severity=sum(severity) / len(severity) if severity else 0.0,
        size_mm=size, change=frozenset(change),
        position=position if finding == _DEVICE else "", sites=frozenset(sites),
        dominant=dominant)
    return state


_new_state = object.__new__


def _sites(hits: list[tuple[str, str | float]]) -> set[tuple[str, str]]:
    """``(side, zone)`` pairs of one mention ("" = unstated zone); none without a side.

    ``hits`` are in text order: each side takes the zones between it and the next side
    ("right upper lobe and both lower lobes": right-upper, left-lower, right-lower), and a
    side with none takes the zones named before the first side ("upper lobes bilaterally").
    """
    leading: list[str] = []
    groups: list[tuple[set[str], list[str]]] = []
    for kind, value in hits:
        if kind == "side":
            groups.append(({"left", "right"} if value == "both" else {value}, []))
        elif kind == "zone":
            (groups[-1][1] if groups else leading).append(value)  # type: ignore[arg-type]
    return {(side, zone) for sides, zones in groups
            for side in sides for zone in (zones or leading or [""])}


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
    return _describe_with_filler(report_sentences(text))[1]
