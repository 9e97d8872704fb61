"""The offline clinical judge: accuracy, relevance and completeness from what two reports say.

Both reports are described by :func:`~himed_rewards.clinical.attributes.describe_report`:
per finding (the 21 CheXpert / NIH findings plus judge-only concepts such as
``x:lymphadenopathy``) a polarity and the attributes side, zone, severity, size, interval
change and device position. A finding the reference does not mention counts as absent
(radiology convention: unreported means not seen). Agreement of a candidate state ``c``
with a reference state ``r`` starts from the polarity table

=============  ========  =========  ================
c \\ r          positive  uncertain  negative/absent
=============  ========  =========  ================
positive       1         0.5        0
uncertain      0.5       1          0.5
negative       0         0.5        1
=============  ========  =========  ================

and, when both assert the finding, loses the penalty of every attribute both state and
disagree on (sides: 0.75 times one minus the Jaccard overlap of the (side, zone) sites,
so left vs right 0.75 and bilateral vs one side 0.375; the predominant side of a
bilateral finding 0.3; zone 0.3, severity 0.3 per
step, size ``min(0.75, |ln(c / r)|)``, interval change 0.4, device position 1), floored
at 0. An attribute only the candidate states costs nothing here, except an interval change
(0.2: a comparison with a prior study the reference does not make).

* **accuracy** = weighted precision of the candidate's claims, smoothed:
  ``(sum w*agreement + 0.5) / (sum w + 0.5)`` over its assertions (positive, uncertain,
  normal) and its negations that contradict the reference. A correct negation neither
  helps nor hurts (a pertinent negative is never worse than silence), and each further
  error lowers the score (errors are graded, not all tied at 0). A candidate with no
  statements gets 1.0 if the reference has none either, else 0.0.
* **relevance** = weighted Dice overlap of what the two reports address: the findings each
  *asserts* (weight 1; a negation-flipped copy is off topic), each set closed under
  CheXpert's hierarchy (pneumonia implies lung opacity), plus the reference's negations
  (weight 0.25 each) that the candidate also negates or covers with a normal-study
  statement ("no acute cardiopulmonary abnormality"); a candidate's negation the reference
  does not make is neutral. Times ``1 / (1 + 0.25 * extra filler sentences)``: sentences
  without clinical content or repeating an earlier one, beyond the reference's own count.
  Both silent: 1.0; exactly one silent: 0.0.
* **completeness** = weighted mean agreement over the reference's positive and uncertain
  findings of what the candidate says about each (0 when silent), less 0.1 per attribute
  the reference states and the candidate omits (0.5 for a device malposition), plus the
  reference's negations at weight 0.1 each (recalled when the candidate negates them or
  calls the study normal). A normal reference also has ``no_finding`` to recall; nothing
  to recall gives 1.0.

Before judging, interchangeable terms are merged (``pneumonia`` is judged as
``consolidation``, vascular congestion as ``edema``, as CheXpert files it) and an apical
lucency is read as a possible pneumothorax (:func:`canonical_states`).

Weights (clinical significance, hand-set): pneumothorax, pneumomediastinum and
pneumoperitoneum 3; pneumonia, consolidation, edema, mass and aortic aneurysm 2; pleural
effusion, fracture and enlarged cardiomediastinum 1.5; minor judge-only concepts
(granuloma, degenerative spine, calcification, ...) 0.5; others 1; a malpositioned device
4; a severe (3) finding 1.5 times its weight.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from himed_rewards.clinical.attributes import BARE_STATES, FindingState, describe_many
from himed_rewards.clinical.labeler import PATHOLOGIES
from himed_rewards.clinical.rules import RULES
from himed_rewards.judge.verdict import SemanticVerdict

if TYPE_CHECKING:  # (numpy comes with the first batch: see _compiled_judge)
    import numpy as np

__all__ = ["OfflineClinicalJudge", "canonical_states", "judge_labels", "judge_states"]

_AGREEMENT = {
    ("positive", "positive"): 1.0, ("positive", "uncertain"): 0.5,
    ("positive", "negative"): 0.0, ("uncertain", "positive"): 0.5,
    ("uncertain", "uncertain"): 1.0, ("uncertain", "negative"): 0.5,
    ("negative", "positive"): 0.0, ("negative", "uncertain"): 0.5,
    ("negative", "negative"): 1.0,
}  # fmt: skip
_PRIOR = 0.5  # pseudo-count of the accuracy smoothing
_FILLER_COST = 0.25
_WEIGHTS = {
    "pneumothorax": 3.0, "x:pneumomediastinum": 3.0, "x:pneumoperitoneum": 3.0,
    "pneumonia": 2.0, "consolidation": 2.0, "edema": 2.0, "mass": 2.0,
    "x:aortic_aneurysm": 2.0, "pleural_effusion": 1.5, "fracture": 1.5,
    "enlarged_cardiomediastinum": 1.5, "x:granuloma": 0.5, "x:degenerative_spine": 0.5,
    "x:calcification": 0.5, "x:tortuous_aorta": 0.5, "x:scarring": 0.5,
    "x:hyperinflation": 0.5, "x:low_lung_volume": 0.5, "x:spine_curvature": 0.5,
    "x:osteopenia": 0.5, "x:deformity": 0.5, "x:diaphragm_elevation": 0.5,
    "x:metastasis": 2.0, "x:pericardial_effusion": 1.5,
}  # fmt: skip
_MALPOSITION_WEIGHT = 4.0
# A reference's negation ("no pneumothorax") counts this much (a positive finding counts 1 or
# more): in relevance (does the candidate address it?) and completeness (does it recall it?). A
# candidate's own negation the reference does not address stays neutral (a pertinent
# negative is never worse than silence), and a candidate that calls the study normal
# ("no acute cardiopulmonary abnormality") addresses every negation it does not contradict.
_NEGATION_RELEVANCE = 0.25
_NEGATION_COMPLETENESS = 0.1
# Interchangeable terms, judged as one finding (RadJudge "clinical practicality"): CheXpert
# itself files vascular congestion under Edema, and a consolidation in the clinical setting of
# pneumonia is reported either way.
_SAME_AS = {"pneumonia": "consolidation", "x:congestion": "edema"}
# Interval change the candidate states and the reference does not (a comparison with a prior
# study it cannot know): GREEN's and ReXVal's error category (e).
_UNSUPPORTED_CHANGE = 0.2
_UNZONED_SITE = 0.75  # a site matched by side only (see _site_overlap)
_POLARITY_RANK = {"negative": 0, "uncertain": 1, "positive": 2}
# CheXpert's hierarchy: a child finding implies its parent ("pneumonia" is a lung opacity).
_CHILDREN = {
    "lung_opacity": ("edema", "consolidation", "pneumonia", "lung_lesion", "atelectasis",
                     "infiltration", "mass", "nodule"),
    "lung_lesion": ("mass", "nodule"),
    "enlarged_cardiomediastinum": ("cardiomegaly",),
}  # fmt: skip
_ASSERTED = ("positive", "uncertain")
_EMPTY = FindingState("negative")
_NEGATIVE, _POSITIVE, _UNCERTAIN = (BARE_STATES[p] for p in ("negative", "positive", "uncertain"))
# States without attributes: no attribute penalty. Identity, not equality, is tested (cheap);
# describe_report hands out these very objects.
_BARE = frozenset(id(s) for s in (*BARE_STATES.values(), _EMPTY))


def _weight(finding: str, *states: FindingState | None) -> float:
    weight = _WEIGHTS.get(finding, 1.0)
    for state in states:
        if state is None:
            continue
        if state.position == "malpositioned":
            weight = max(weight, _MALPOSITION_WEIGHT)
        if state.severity >= 2.5:
            weight = max(weight, 1.5 * _WEIGHTS.get(finding, 1.0))
    return weight


def _no_finding_state(states: Mapping[str, FindingState]) -> FindingState | None:
    explicit = states.get("no_finding")  # describe_report only ever says "positive" here
    if explicit is not None:
        return explicit
    found = {s.polarity for f, s in states.items()
             if f in PATHOLOGIES or f.startswith("x:")}  # fmt: skip
    if "positive" in found:
        return BARE_STATES["negative"]
    return BARE_STATES["uncertain"] if "uncertain" in found else None


def _state(states: Mapping[str, FindingState], finding: str) -> FindingState | None:
    """A report's state for one finding (implied by its children when unstated)."""
    if finding == "no_finding":
        return _no_finding_state(states)
    state = states.get(finding)
    if state is not None:
        return state
    children = [states[c].polarity for c in _CHILDREN.get(finding, ()) if c in states]
    if "positive" in children:
        return BARE_STATES["positive"]
    return BARE_STATES["uncertain"] if "uncertain" in children else None


def canonical_states(states: Mapping[str, FindingState]) -> Mapping[str, FindingState]:
    """One report's states with interchangeable terms merged and signs read as findings.

    ``pneumonia`` is judged as ``consolidation`` and ``x:congestion`` as ``edema``
    (:data:`_SAME_AS`; the most assertive polarity wins when a report states both); an
    apical ``x:lucency`` (the sign of a pneumothorax) is an uncertain ``pneumothorax`` unless
    the report states one.

    Examples:
        >>> from himed_rewards.clinical.attributes import describe_report as d
        >>> sorted(canonical_states(d("Left lower pneumonia.")))
        ['consolidation']
        >>> canonical_states(d("Lucency at the right apex."))["pneumothorax"].polarity
        'uncertain'
    """
    lucency = states.get("x:lucency")
    sign = lucency is not None and "upper" in lucency.zones and "pneumothorax" not in states
    if not sign and states.keys().isdisjoint(_SAME_AS):
        return states  # the common case: nothing to rewrite
    out: dict[str, FindingState] = {}
    for f, state in states.items():
        if f == "x:lucency" and sign:
            f, state = "pneumothorax", replace(state, polarity="uncertain") \
                if state.polarity == "positive" else state
        f = _SAME_AS.get(f, f)
        held = out.get(f)
        if held is None or _POLARITY_RANK[state.polarity] > _POLARITY_RANK[held.polarity]:
            out[f] = state
    return out


def _attribute_penalty(c: FindingState, r: FindingState) -> float:
    penalty = 0.0
    if c.sides and r.sides and (c.sides != r.sides or c.sites != r.sites):
        penalty += 0.75 * (1.0 - _site_overlap(c, r))
    if c.dominant and r.dominant and c.dominant != r.dominant:
        penalty += 0.3  # "left greater than right" against "right greater than left"
    if c.zones and r.zones and not c.zones & r.zones:
        penalty += 0.3
    if c.severity and r.severity:
        penalty += 0.3 * abs(c.severity - r.severity)
    if c.size_mm and r.size_mm:
        penalty += min(0.75, abs(math.log(c.size_mm / r.size_mm)))
    if c.change and r.change and not c.change & r.change:
        penalty += 0.4
    elif c.change and not r.change:
        penalty += _UNSUPPORTED_CHANGE  # "stable effusion": a comparison the reference lacks
    if c.position and r.position and c.position != r.position:
        penalty += 1.0
    return penalty


def _site_overlap(c: FindingState, r: FindingState) -> float:
    """Soft Jaccard overlap of the lateral sites ``(side, zone)``.

    A site counts 1 when the other report has it, 0.75 when the other report only has its
    side with no zone on one of the two (a zone is often given in one sentence and not in
    another), else 0. Before, any zone-less site made the judge compare sides alone, so
    "right upper lobe" turned into "left upper lobe" went unseen whenever another sentence
    said "bilateral".
    """
    mine, theirs = c.sites or {(s, "") for s in c.sides}, r.sites or {(s, "") for s in r.sides}
    return (_site_credit(mine, theirs) + _site_credit(theirs, mine)) / (len(mine) + len(theirs))


def _site_credit(sites: frozenset | set, other: frozenset | set) -> float:
    credit = 0.0
    for site in sites:
        if site in other:
            credit += 1.0
        elif any(side == site[0] and (zone == "" or site[1] == "") for side, zone in other):
            credit += _UNZONED_SITE
    return credit


def _agreement(c: FindingState, r: FindingState) -> float:
    base = _AGREEMENT[(c.polarity, r.polarity)]
    if c.polarity in _ASSERTED and r.polarity in _ASSERTED:
        base = max(0.0, base - _attribute_penalty(c, r))
    return base


def _omission_penalty(c: FindingState, r: FindingState) -> float:
    """What the candidate leaves out about a finding it does assert."""
    if c.polarity not in _ASSERTED:
        return 0.0
    missing = sum(bool(r_attr) and not c_attr for r_attr, c_attr in (
        (r.sides, c.sides), (r.severity, c.severity), (r.size_mm, c.size_mm),
        (r.change, c.change)))  # fmt: skip
    penalty = 0.1 * missing
    if r.position == "malpositioned" and not c.position:
        penalty += 0.5
    return penalty


_PARENTS: dict[str, tuple[str, ...]] = {}  # child -> the parents it implies (see _CHILDREN)
for _parent, _children in _CHILDREN.items():
    for _child in _children:
        _PARENTS[_child] = (*_PARENTS.get(_child, ()), _parent)
# A candidate's state recalling a reference negation: _AGREEMENT[(polarity, "negative")]
_RECALL_NEGATION = {p: _AGREEMENT[(p, "negative")] for p in _POLARITY_RANK}
_SKIP = None  # an accuracy term of a correct negation (no gain, no loss)
# finding -> accuracy term of a bare positive / uncertain candidate state against a
# reference silent on the finding (one entry per finding name met: bounded by the rules)
_SILENT_TERMS: tuple[dict[str, tuple[float, float] | None], ...] = ({}, {})
# findings whose reference state may be implied when unstated (see _state)
_IMPLIED = frozenset({*_CHILDREN, "no_finding"})


class _Reference:
    """What scoring against one reference needs, computed once per reference text (a GRPO
    group shares one): its asserted set, negations, completeness targets with their
    weights, and tables of the terms a bare candidate state earns (filled as met)."""

    __slots__ = ("states", "filler", "asserted", "negations", "targets", "weights",
                 "resolved", "bare_by_polarity", "stated")

    def __init__(self, states: Mapping[str, FindingState], filler: int) -> None:
        self.states = states
        self.filler = filler
        # findings this reference states or may imply: a claim about any other is compared
        # with silence (one set test per claim instead of two)
        self.stated = _IMPLIED.union(states)
        # one pass: the asserted set (closed under CheXpert's hierarchy), the
        # negations, and the completeness targets: (finding, its state, its weight,
        # completeness term per bare candidate state, whether a candidate's state of it
        # may be implied rather than stated: see _state)
        asserted = set()
        negations = []
        targets = []
        weights = 0.0  # summed in the order judge_states always has (exact floats)
        for f, r in states.items():
            if r.polarity == "negative":
                negations.append(f)
                continue
            asserted.add(f)
            parents = _PARENTS.get(f)
            if parents:
                asserted.update(parents)
            if f != "no_finding":
                w = _weight(f, r) if r.position or r.severity else _WEIGHTS.get(f, 1.0)
                weights += w
                targets.append((f, r, w, {}, f in _CHILDREN))
        no_finding = states.get("no_finding")
        if no_finding is not None:  # a normal study (perhaps with incidental findings)
            w = _weight("no_finding", no_finding)
            weights += w
            targets.append(("no_finding", no_finding, w, {}, True))
        for _ in negations:
            weights += _NEGATION_COMPLETENESS
        self.asserted, self.negations, self.targets, self.weights = \
            asserted, negations, targets, weights
        self.resolved: dict[str, FindingState] = {}  # finding -> the state accuracy compares
        # accuracy terms of the bare candidate states (negative, positive, uncertain), per
        # finding this reference states or may imply (the others: _SILENT_TERMS)
        self.bare_by_polarity: tuple[dict, dict, dict] = ({}, {}, {})

    def resolve(self, finding: str) -> FindingState:
        """The reference state a candidate's claim about ``finding`` is compared with."""
        r = self.states.get(finding) if finding != "no_finding" else None
        if r is None:
            r = _state(self.states, finding) or _EMPTY
        self.resolved[finding] = r
        return r


def _accuracy_term(f: str, c: FindingState, r: FindingState) -> tuple[float, float] | None:
    """``(weight * agreement, weight)`` of one candidate claim, None for a correct negation."""
    if c.polarity == "negative" and r.polarity == "negative":
        return _SKIP
    # _weight and _agreement, with their no-attribute cases short-cut (same values)
    if c.position or c.severity or r.position or r.severity:
        w = _weight(f, c, r)
    else:
        w = _WEIGHTS.get(f, 1.0)
    if id(c) in _BARE or (id(r) in _BARE and not c.change):
        return w * _AGREEMENT[(c.polarity, r.polarity)], w
    return w * _agreement(c, r), w


def _judge(
    candidate: Mapping[str, FindingState], candidate_filler: int, ref: _Reference
) -> tuple[float, float, float]:
    """:func:`judge_states` of a canonical candidate against a prepared reference."""
    reference = ref.states
    mine: set[str] = set()
    if candidate:
        credit = total = 0.0
        resolved = ref.resolved
        bare_negative, bare_positive, bare_uncertain = ref.bare_by_polarity
        silent_positive, silent_uncertain = _SILENT_TERMS
        stated = ref.stated
        for f, c in candidate.items():
            # A bare state (tested by identity: cheap) has a term that depends on the
            # finding only, the same for every reference silent on it. Most claims of a
            # report are bare negations, and one of what the reference leaves unsaid is a
            # correct negation (no gain, no loss).
            if c is _NEGATIVE:
                if f not in stated:
                    continue
                table = silent = bare_negative
            else:
                if c.polarity != "negative":  # the asserted set, closed under the hierarchy
                    mine.add(f)
                    parents = _PARENTS.get(f)
                    if parents:
                        mine.update(parents)
                if c is _POSITIVE:
                    table, silent = bare_positive, silent_positive
                elif c is _UNCERTAIN:
                    table, silent = bare_uncertain, silent_uncertain
                else:
                    table = None
            if table is None:
                term = _accuracy_term(f, c, resolved.get(f) or ref.resolve(f))
            elif f in stated:
                term = table.get(f, table)
                if term is table:
                    term = table[f] = _accuracy_term(f, c, resolved.get(f) or ref.resolve(f))
            else:
                term = silent.get(f, silent)
                if term is silent:  # (one entry per finding name: bounded by the rules)
                    term = silent[f] = _accuracy_term(f, c, _EMPTY)
            if term is not _SKIP:
                credit += term[0]
                total += term[1]
        accuracy = (credit + _PRIOR) / (total + _PRIOR)
    else:
        accuracy = 0.0 if reference else 1.0
    negations = ref.negations
    if negations:
        normal_recall = 1.0 if "no_finding" in candidate else 0.0
        recall = _RECALL_NEGATION
        recalls = [normal_recall if c is None else recall[c.polarity]
                   for c in map(candidate.get, negations)]  # fmt: skip
        addressed = sum(recalls)
    else:
        recalls, addressed = [], 0
    theirs = ref.asserted
    if mine or theirs or negations:
        shared = len(mine & theirs) + _NEGATION_RELEVANCE * addressed
        sizes = len(mine) + len(theirs) + _NEGATION_RELEVANCE * (addressed + len(negations))
        relevance = 2.0 * shared / sizes if sizes else 0.0
    else:
        relevance = 1.0 if bool(candidate) == bool(reference) else 0.0
    extra = max(0, candidate_filler - ref.filler)
    relevance /= 1.0 + _FILLER_COST * extra
    if ref.targets or negations:
        recalled = 0.0
        get = candidate.get
        for f, r, w, bare, implied in ref.targets:
            c = _state(candidate, f) if implied else get(f)
            if c is None:
                continue
            term = bare.get(id(c))
            if term is None:
                term = w * max(0.0, _agreement(c, r) - _omission_penalty(c, r))
                if id(c) in _BARE:  # the term of a bare state depends on the target only
                    bare[id(c)] = term
            recalled += term
        for value in recalls:
            recalled += _NEGATION_COMPLETENESS * value
        completeness = recalled / ref.weights
    else:
        completeness = 1.0
    return accuracy, relevance, completeness


def judge_states(
    candidate: Mapping[str, FindingState],
    reference: Mapping[str, FindingState],
    *,
    candidate_filler: int = 0,
    reference_filler: int = 0,
) -> tuple[float, float, float]:
    """``(accuracy, relevance, completeness)`` of two :func:`describe_report` results.

    Examples:
        >>> from himed_rewards.clinical.attributes import describe_report as d
        >>> ref = d("Large left pleural effusion.")
        >>> judge_states(d("Large left pleural effusion."), ref)
        (1.0, 1.0, 1.0)
        >>> [round(x, 3) for x in judge_states(d("Large right pleural effusion."), ref)]
        [0.386, 1.0, 0.25]
        >>> [round(x, 3) for x in judge_states(d("Small left pleural effusion."), ref)]
        [0.509, 1.0, 0.4]
    """
    return _judge(canonical_states(candidate), candidate_filler,
                  _Reference(canonical_states(reference), reference_filler))


def judge_labels(
    candidate: Mapping[str, str], reference: Mapping[str, str]
) -> tuple[float, float, float]:
    """:func:`judge_states` on plain label dicts (polarities only, no attributes).

    Examples:
        >>> ref = {"cardiomegaly": "positive", "pleural_effusion": "negative"}
        >>> judge_labels({"cardiomegaly": "positive", "pleural_effusion": "negative"}, ref)
        (1.0, 1.0, 1.0)
        >>> [round(x, 3) for x in judge_labels({"cardiomegaly": "positive"}, ref)]
        [1.0, 0.941, 0.909]
        >>> [round(x, 3) for x in judge_labels({"no_finding": "positive"}, ref)]
        [0.333, 0.143, 0.091]
        >>> judge_labels({}, {})
        (1.0, 1.0, 1.0)
    """
    return judge_states({f: FindingState(p) for f, p in candidate.items()},
                        {f: FindingState(p) for f, p in reference.items()})  # fmt: skip


def _check_texts(name: str, texts: object) -> Sequence[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a sequence of str, got {type(texts).__name__}")
    if set(map(type, texts)) <= {str}:  # the common case, tested without a Python loop
        return texts
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{k}] must be a str, got {type(text).__name__}")
    return texts


# Batches this large or larger go through the kernel once it is ready (clinical/encoded.py);
# smaller ones cost less in the interpreter (one pair: 21 us against 26 us).
_KERNEL_FROM = 3


def _compiled_judge():
    # (imported at the first batch: it brings the kernel's tables and numpy)
    from himed_rewards.clinical import encoded

    return encoded


class OfflineClinicalJudge:
    """Deterministic, offline :class:`~himed_rewards.judge.verdict.SemanticScorer`.

    Describes candidate and reference with
    :func:`~himed_rewards.clinical.attributes.describe_report` and scores them with
    :func:`judge_states`. Each distinct text is labelled once per batch
    (a GRPO group shares one reference), and each sentence's analysis is cached across
    batches (:mod:`himed_rewards.clinical.sentences`). Never raises for str input.

    Examples:
        >>> judge = OfflineClinicalJudge()
        >>> [v] = judge.score_batch(["Mild cardiomegaly. No effusion or pneumothorax."],
        ...                         ["Cardiomegaly. No pleural effusion or pneumothorax."])
        >>> (v.accuracy, v.relevance, v.completeness, v.source)
        (1.0, 1.0, 1.0, 'clinical')
        >>> [v] = judge.score_batch(["Mild cardiomegaly."],
        ...                         ["Cardiomegaly. No pleural effusion or pneumothorax."])
        >>> (v.accuracy, round(v.relevance, 3), round(v.completeness, 3))
        (1.0, 0.889, 0.833)
    """

    name = "clinical"

    def signature(self) -> str:
        """Identifies the scorer and its rule table (changes when the rules change).

        Examples:
            >>> OfflineClinicalJudge().signature().startswith("clinical:v2:rules=")
            True
        """
        return f"clinical:v2:rules={RULES.sha256[:12]}"

    def score_batch(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> list[SemanticVerdict]:
        """One verdict per ``(candidate, reference)`` pair, in order.

        Raises:
            TypeError: an argument is not a sequence of str.
            ValueError: the two sequences differ in length.
        """
        scores = self._scores(candidates, references)
        return self._verdicts(scores if isinstance(scores, list)
                              else list(map(tuple, scores.tolist())))

    def score_columns(self, candidates: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """The numbers of :meth:`score_batch`'s verdicts without a verdict per pair: a float64
        array of shape ``(n, 3)``, a row ``(accuracy, relevance, completeness)`` per pair.
        The reward's ``score_batch`` takes these from a scorer that offers them (a GRPO
        batch's 512 verdicts cost as much as a sixth of the judge).

        Raises:
            TypeError: an argument is not a sequence of str.
            ValueError: the two sequences differ in length.

        Examples:
            >>> judge = OfflineClinicalJudge()
            >>> judge.score_columns(["Mild cardiomegaly."], ["Cardiomegaly."]).tolist()
            [[1.0, 1.0, 1.0]]
            >>> judge.score_columns([], []).shape
            (0, 3)
        """
        scores = self._scores(candidates, references)
        if isinstance(scores, list):  # the interpreter's path (numpy not needed until here)
            import numpy as np

            return np.array(scores, np.float64).reshape(len(scores), 3)
        return scores

    def _scores(self, candidates: Sequence[str], references: Sequence[str]
                ) -> list[tuple[float, float, float]] | np.ndarray:
        """Each pair's ``(accuracy, relevance, completeness)``: an ``(n, 3)`` array from the
        kernel, or a list of tuples from the interpreter."""
        candidates = _check_texts("candidates", candidates)
        references = _check_texts("references", references)
        if len(candidates) != len(references):
            raise ValueError(
                f"candidates and references must have the same length, got "
                f"{len(candidates)} and {len(references)}"
            )
        # every distinct text described once, the new sentences of all analysed in one pass:
        # each text numbered at its first sight, in one pass over each list (a GRPO batch's
        # 512 fresh completions are hashed once)
        index: dict[str, int] = {}
        number = index.setdefault
        cand = [number(text, len(index)) for text in candidates]
        ref = [number(text, len(index)) for text in references]
        distinct = list(index)
        worth_the_kernel = len(candidates) >= _KERNEL_FROM
        if worth_the_kernel and _compiled_judge().kernel_ready():
            try:
                return _compiled_judge().judge_array(distinct, cand, ref)
            except KeyError:  # (never with the shipped rules: a name the kernel lacks)
                pass
        started = time.thread_time()
        described = [(canonical_states(states), filler)
                     for states, filler in describe_many(distinct)]
        prepared: dict[int, _Reference] = {}  # reference -> what scoring against it needs
        scores = []
        for c, r in zip(cand, ref, strict=True):
            reference = prepared.get(r)
            if reference is None:
                reference = prepared[r] = _Reference(*described[r])
            scores.append(_judge(*described[c], reference))
        if worth_the_kernel:  # (what the kernel could have saved: encoded's two budgets)
            _compiled_judge().add_interpreted(time.thread_time() - started)
        return scores

    def _verdicts(self, scores: list[tuple[float, float, float]]) -> list[SemanticVerdict]:
        """A verdict per ``(accuracy, relevance, completeness)``. Pairs often score alike
        (three quarters of a fresh GRPO batch repeat an earlier pair's scores): a verdict is
        immutable, so equal scores share one."""
        made = dict.fromkeys(scores)
        scored, name = SemanticVerdict.scored, self.name
        for key in made:
            made[key] = scored(*key, name)
        return list(map(made.__getitem__, scores))

    async def ascore_batch(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> list[SemanticVerdict]:
        """Same as :meth:`score_batch` (the work is CPU-bound and fast; nothing to await)."""
        return self.score_batch(candidates, references)
