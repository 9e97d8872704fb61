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
at 0. An attribute only the candidate states costs nothing here.

* **accuracy** = weighted precision of the candidate's claims, smoothed:
  ``(sum w*agreement + 0.5) / (sum w + 0.5)`` over its assertions (positive, uncertain,
  normal) and its negations that contradict the reference. A correct negation neither
  helps nor hurts (a pertinent negative is never worse than silence), and each further
  error lowers the score (errors are graded, not all tied at 0). A candidate with no
  statements gets 1.0 if the reference has none either, else 0.0.
* **relevance** = Dice overlap of the findings each report *asserts* (negations excluded,
  so a negation-flipped copy is off topic), each set closed under CheXpert's hierarchy
  (pneumonia implies lung opacity), times ``1 / (1 + 0.25 * extra filler sentences)``:
  sentences without clinical content or repeating an earlier one, beyond the reference's
  own count. Both silent: 1.0; exactly one silent: 0.0.
* **completeness** = weighted mean agreement over the reference's positive and uncertain
  findings of what the candidate says about each (0 when silent), less 0.1 per attribute
  the reference states and the candidate omits (0.5 for a device malposition). A normal
  reference also has ``no_finding`` to recall; nothing to recall gives 1.0.

Weights (clinical significance, hand-set): pneumothorax, pneumomediastinum and
pneumoperitoneum 3; pneumonia, consolidation, edema, mass and aortic aneurysm 2; pleural
effusion, fracture and enlarged cardiomediastinum 1.5; minor judge-only concepts
(granuloma, degenerative spine, calcification, ...) 0.5; others 1; a malpositioned device
4; a severe (3) finding 1.5 times its weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from himed_rewards.clinical.attributes import BARE_STATES, FindingState, describe_many
from himed_rewards.clinical.labeler import PATHOLOGIES
from himed_rewards.clinical.rules import RULES
from himed_rewards.judge.verdict import SemanticVerdict

__all__ = ["OfflineClinicalJudge", "judge_labels", "judge_states"]

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
# CheXpert's hierarchy: a child finding implies its parent ("pneumonia" is a lung opacity).
_CHILDREN = {
    "lung_opacity": ("edema", "consolidation", "pneumonia", "lung_lesion", "atelectasis",
                     "infiltration", "mass", "nodule"),
    "lung_lesion": ("mass", "nodule"),
    "enlarged_cardiomediastinum": ("cardiomegaly",),
}  # fmt: skip
_ASSERTED = ("positive", "uncertain")
_EMPTY = FindingState("negative")
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
    if c.position and r.position and c.position != r.position:
        penalty += 1.0
    return penalty


def _site_overlap(c: FindingState, r: FindingState) -> float:
    """Jaccard overlap of the lateral sites; zones count only where both always give one."""
    mine, theirs = c.sites or {(s, "") for s in c.sides}, r.sites or {(s, "") for s in r.sides}
    if any(z == "" for _, z in mine) or any(z == "" for _, z in theirs):
        mine, theirs = {(s, "") for s, _ in mine}, {(s, "") for s, _ in theirs}
    return len(mine & theirs) / len(mine | theirs)


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


def _asserted_set(states: Mapping[str, FindingState]) -> set[str]:
    asserted = {f for f, s in states.items() if s.polarity in _ASSERTED}
    for parent, children in _CHILDREN.items():
        if asserted.intersection(children):
            asserted.add(parent)
    return asserted


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
    return _judge(candidate, reference, candidate_filler, reference_filler,
                  _asserted_set(candidate), _asserted_set(reference))


def _judge(
    candidate: Mapping[str, FindingState],
    reference: Mapping[str, FindingState],
    candidate_filler: int,
    reference_filler: int,
    mine: set[str],
    theirs: set[str],
) -> tuple[float, float, float]:
    """:func:`judge_states` with each report's :func:`_asserted_set` given (a GRPO group
    shares one reference: computed once per text)."""
    if candidate:
        credit = total = 0.0
        for f, c in candidate.items():
            r = reference.get(f) if f != "no_finding" else None
            if r is None:
                r = _state(reference, f) or _EMPTY
            if c.polarity == "negative" and r.polarity == "negative":
                continue  # a correct negation: no gain, no loss
            # _weight and _agreement, with their no-attribute cases short-cut (same values)
            if c.position or c.severity or r.position or r.severity:
                w = _weight(f, c, r)
            else:
                w = _WEIGHTS.get(f, 1.0)
            if id(c) in _BARE or id(r) in _BARE:
                credit += w * _AGREEMENT[(c.polarity, r.polarity)]
            else:
                credit += w * _agreement(c, r)
            total += w
        accuracy = (credit + _PRIOR) / (total + _PRIOR)
    else:
        accuracy = 0.0 if reference else 1.0
    if mine or theirs:
        relevance = 2.0 * len(mine & theirs) / (len(mine) + len(theirs))
    else:
        relevance = 1.0 if bool(candidate) == bool(reference) else 0.0
    extra = max(0, candidate_filler - reference_filler)
    relevance /= 1.0 + _FILLER_COST * extra
    targets = [f for f, r in reference.items()
               if r.polarity in _ASSERTED and f != "no_finding"]  # fmt: skip
    if "no_finding" in reference:  # a normal study (perhaps with incidental findings)
        targets.append("no_finding")
    if targets:
        recalled = weights = 0.0
        for f in targets:
            r = reference[f]
            c = _state(candidate, f)
            w = _weight(f, r)
            weights += w
            if c is not None:
                recalled += w * max(0.0, _agreement(c, r) - _omission_penalty(c, r))
        completeness = recalled / weights
    else:
        completeness = 1.0
    return accuracy, relevance, completeness


def judge_labels(
    candidate: Mapping[str, str], reference: Mapping[str, str]
) -> tuple[float, float, float]:
    """:func:`judge_states` on plain label dicts (polarities only, no attributes).

    Examples:
        >>> ref = {"cardiomegaly": "positive", "pleural_effusion": "negative"}
        >>> judge_labels({"cardiomegaly": "positive", "pneumothorax": "negative"}, ref)
        (1.0, 1.0, 1.0)
        >>> [round(x, 3) for x in judge_labels({"no_finding": "positive"}, ref)]
        [0.333, 0.0, 0.0]
        >>> judge_labels({}, {})
        (1.0, 1.0, 1.0)
    """
    return judge_states({f: FindingState(p) for f, p in candidate.items()},
                        {f: FindingState(p) for f, p in reference.items()})  # fmt: skip


def _check_texts(name: str, texts: object) -> Sequence[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a sequence of str, got {type(texts).__name__}")
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{k}] must be a str, got {type(text).__name__}")
    return texts


class OfflineClinicalJudge:
    """Deterministic, offline :class:`~himed_rewards.judge.verdict.SemanticScorer`.

    Describes candidate and reference with
    :func:`~himed_rewards.clinical.attributes.describe_report` and scores them with
    :func:`judge_states`. Each distinct text is labelled once per batch
    (a GRPO group shares one reference), and each sentence's analysis is cached across
    batches (:mod:`himed_rewards.clinical.sentences`). Never raises for str input.

    Examples:
        >>> judge = OfflineClinicalJudge()
        >>> [v] = judge.score_batch(["Mild cardiomegaly. No effusion."],
        ...                         ["Cardiomegaly. No pleural effusion or pneumothorax."])
        >>> (v.accuracy, v.relevance, v.completeness, v.source)
        (1.0, 1.0, 1.0, 'clinical')
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
        candidates = _check_texts("candidates", candidates)
        references = _check_texts("references", references)
        if len(candidates) != len(references):
            raise ValueError(
                f"candidates and references must have the same length, got "
                f"{len(candidates)} and {len(references)}"
            )
        # every distinct text described once, the new sentences of all analysed in one pass
        distinct = list(dict.fromkeys(
            t for pair in zip(candidates, references, strict=True) for t in pair))
        described = describe_many(distinct)
        memo = {text: (states, filler, _asserted_set(states))
                for text, (states, filler) in zip(distinct, described, strict=True)}
        verdicts = []
        for cand, ref in zip(candidates, references, strict=True):
            (c_states, c_filler, c_set), (r_states, r_filler, r_set) = memo[cand], memo[ref]
            acc, rel, comp = _judge(c_states, r_states, c_filler, r_filler, c_set, r_set)
            verdicts.append(SemanticVerdict.scored(acc, rel, comp, self.name))
        return verdicts

    async def ascore_batch(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> list[SemanticVerdict]:
        """Same as :meth:`score_batch` (the work is CPU-bound and fast; nothing to await)."""
        return self.score_batch(candidates, references)
