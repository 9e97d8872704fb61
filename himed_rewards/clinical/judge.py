"""The offline clinical judge: label agreement as accuracy, relevance and completeness.

Both reports are labelled by :func:`~himed_rewards.clinical.label_report`. A finding the
reference does not mention counts as absent (radiology convention: unreported means
not seen). Agreement between a candidate state ``c`` and a reference state ``r`` is

=============  ========  =========  ================
c \\ r          positive  uncertain  negative/absent
=============  ========  =========  ================
positive       1         0.5        0
uncertain      0.5       1          0.5
negative       0         0.5        1
=============  ========  =========  ================

(a hedge is half right whichever way the truth goes). ``no_finding`` takes part as a
statement: a report's no-finding state is positive when it says the study is normal,
negative when it asserts a pathology, uncertain when it only hedges one.

* **accuracy** = mean agreement over the candidate's statements (every finding it
  labels): a statement scores 0 when it contradicts the reference or asserts a positive
  the reference does not have (a hallucination). No statements: 1.0 if the reference makes
  none either, else 0.0 (an empty report must not earn credit for saying nothing wrong).
* **relevance** = Dice overlap ``2|C ∩ R| / (|C| + |R|)`` of the sets of findings each
  report addresses, whatever their polarity: does the candidate talk about what the
  reference talks about? Both silent: 1.0; exactly one silent: 0.0.
* **completeness** = mean agreement, over the reference's positive and uncertain findings,
  of what the candidate says about each (0 when it is silent). A normal reference (its
  ``no_finding`` is positive) has one thing to recall, ``no_finding``; a reference with
  nothing to recall (silent, or abnormal only outside the 21 findings) gives 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from himed_rewards.clinical.labeler import PATHOLOGIES, label_report
from himed_rewards.clinical.rules import RULES
from himed_rewards.judge.verdict import SemanticVerdict

__all__ = ["OfflineClinicalJudge", "judge_labels"]

_AGREEMENT = {
    ("positive", "positive"): 1.0, ("positive", "uncertain"): 0.5,
    ("positive", "negative"): 0.0, ("uncertain", "positive"): 0.5,
    ("uncertain", "uncertain"): 1.0, ("uncertain", "negative"): 0.5,
    ("negative", "positive"): 0.0, ("negative", "uncertain"): 0.5,
    ("negative", "negative"): 1.0,
}  # fmt: skip


def _no_finding_state(labels: Mapping[str, str]) -> str | None:
    explicit = labels.get("no_finding")  # label_report only ever says "positive" here
    if explicit is not None:
        return explicit
    states = {p for f, p in labels.items() if f in PATHOLOGIES}
    if "positive" in states:
        return "negative"
    return "uncertain" if "uncertain" in states else None


def _state(labels: Mapping[str, str], finding: str) -> str | None:
    """A report's state for one finding; None when it says nothing about it."""
    if finding == "no_finding":
        return _no_finding_state(labels)
    return labels.get(finding)


def judge_labels(
    candidate: Mapping[str, str], reference: Mapping[str, str]
) -> tuple[float, float, float]:
    """``(accuracy, relevance, completeness)`` of two label dicts, each in [0, 1].

    Examples:
        >>> ref = {"cardiomegaly": "positive", "pleural_effusion": "negative"}
        >>> judge_labels({"cardiomegaly": "positive", "pneumothorax": "negative"}, ref)
        (1.0, 0.5, 1.0)
        >>> judge_labels({"no_finding": "positive"}, ref)
        (0.0, 0.0, 0.0)
        >>> judge_labels({}, {})
        (1.0, 1.0, 1.0)
    """
    if candidate:
        credits = [
            _AGREEMENT[(c, _state(reference, f) or "negative")] for f, c in candidate.items()
        ]
        accuracy = sum(credits) / len(credits)
    else:
        accuracy = 0.0 if reference else 1.0
    if candidate or reference:
        overlap = len(candidate.keys() & reference.keys())
        relevance = 2.0 * overlap / (len(candidate) + len(reference))
    else:
        relevance = 1.0
    targets = [f for f, r in reference.items() if r != "negative" and f != "no_finding"]
    if not targets and reference.get("no_finding") == "positive":
        targets = ["no_finding"]
    if targets:
        recalled = []
        for f in targets:
            c = _state(candidate, f)
            recalled.append(0.0 if c is None else _AGREEMENT[(c, _state(reference, f))])
        completeness = sum(recalled) / len(recalled)
    else:
        completeness = 1.0
    return accuracy, relevance, completeness


def _check_texts(name: str, texts: object) -> Sequence[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a sequence of str, got {type(texts).__name__}")
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{k}] must be a str, got {type(text).__name__}")
    return texts


class OfflineClinicalJudge:
    """Deterministic, offline :class:`~himed_rewards.judge.verdict.SemanticScorer`.

    Labels candidate and reference with :func:`~himed_rewards.clinical.label_report` and
    scores them with :func:`judge_labels`. Each distinct text is labelled once per batch
    (a GRPO group shares one reference). Never raises for str input.

    Examples:
        >>> judge = OfflineClinicalJudge()
        >>> [v] = judge.score_batch(["Mild cardiomegaly. No effusion."],
        ...                         ["Cardiomegaly. No pleural effusion or pneumothorax."])
        >>> (v.accuracy, round(v.relevance, 3), v.completeness, v.source)
        (1.0, 0.8, 1.0, 'clinical')
    """

    name = "clinical"

    def signature(self) -> str:
        """Identifies the scorer and its rule table (changes when the rules change).

        Examples:
            >>> OfflineClinicalJudge().signature().startswith("clinical:v1:rules=")
            True
        """
        return f"clinical:v1:rules={RULES.sha256[:12]}"

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
        memo: dict[str, dict[str, str]] = {}
        verdicts = []
        for cand, ref in zip(candidates, references, strict=True):
            if cand not in memo:
                memo[cand] = label_report(cand)
            if ref not in memo:
                memo[ref] = label_report(ref)
            acc, rel, comp = judge_labels(memo[cand], memo[ref])
            verdicts.append(SemanticVerdict(acc, rel, comp, source=self.name))
        return verdicts

    async def ascore_batch(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> list[SemanticVerdict]:
        """Same as :meth:`score_batch` (the work is CPU-bound and fast; nothing to await)."""
        return self.score_batch(candidates, references)
