"""OfflineClinicalJudge and judge_labels: formulas, edge cases, protocol, input checks."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.clinical import FINDINGS, OfflineClinicalJudge, judge_labels
from himed_rewards.clinical import judge as judge_module
from himed_rewards.judge.verdict import SemanticScorer, SemanticVerdict

POLARITY = st.sampled_from(["positive", "negative", "uncertain"])
LABELS = st.dictionaries(st.sampled_from(FINDINGS), POLARITY, max_size=8)


def test_identical_labels_score_one() -> None:
    labels = {"cardiomegaly": "positive", "pleural_effusion": "negative"}
    assert judge_labels(labels, labels) == (1.0, 1.0, 1.0)


def test_negation_flip_is_inaccurate_and_incomplete() -> None:
    ref = {"pneumothorax": "positive"}
    acc, rel, comp = judge_labels({"pneumothorax": "negative"}, ref)
    assert (acc, rel, comp) == (0.0, 1.0, 0.0)  # same topic, opposite claim


def test_hallucinated_positive_costs_accuracy_only() -> None:
    ref = {"cardiomegaly": "positive"}
    acc, rel, comp = judge_labels({"cardiomegaly": "positive", "pneumonia": "positive"}, ref)
    assert acc == 0.5  # one of two statements is a hallucination
    assert rel == pytest.approx(2 / 3)
    assert comp == 1.0


def test_negative_statement_on_unmentioned_finding_is_accurate() -> None:
    # Unreported means absent: "no pneumothorax" agrees with a reference that is silent on it.
    acc, _, _ = judge_labels({"pneumothorax": "negative"}, {"cardiomegaly": "positive"})
    assert acc == 1.0


def test_omission_costs_completeness() -> None:
    ref = {"cardiomegaly": "positive", "pleural_effusion": "positive"}
    assert judge_labels({"cardiomegaly": "positive"}, ref)[2] == 0.5


def test_hedges_get_half_credit() -> None:
    ref = {"pneumonia": "positive"}
    assert judge_labels({"pneumonia": "uncertain"}, ref) == (0.5, 1.0, 0.5)
    assert judge_labels({"pneumonia": "uncertain"}, {})[0] == 0.5


def test_normal_reference_rewards_saying_normal() -> None:
    ref = {"no_finding": "positive", "pneumothorax": "negative"}
    assert judge_labels({"no_finding": "positive"}, ref) == (1.0, pytest.approx(2 / 3), 1.0)
    acc, _, comp = judge_labels({"pneumonia": "positive"}, ref)
    assert (acc, comp) == (0.0, 0.0)


def test_empty_reports_have_defined_values() -> None:
    assert judge_labels({}, {}) == (1.0, 1.0, 1.0)
    assert judge_labels({}, {"pneumonia": "positive"}) == (0.0, 0.0, 0.0)
    assert judge_labels({"pneumonia": "positive"}, {}) == (0.0, 0.0, 1.0)


@settings(max_examples=300, deadline=None)
@given(LABELS, LABELS)
def test_axes_always_in_unit_interval(cand: dict[str, str], ref: dict[str, str]) -> None:
    for value in judge_labels(cand, ref):
        assert 0.0 <= value <= 1.0


@settings(max_examples=100, deadline=None)
@given(LABELS)
def test_self_agreement_is_perfect_accuracy_and_relevance(labels: dict[str, str]) -> None:
    acc, rel, _ = judge_labels(labels, labels)
    assert (acc, rel) == (1.0, 1.0)


def test_judge_implements_the_semantic_scorer_protocol() -> None:
    judge = OfflineClinicalJudge()
    assert isinstance(judge, SemanticScorer)
    assert judge.name == "clinical"
    assert judge.signature() == OfflineClinicalJudge().signature()


def test_score_batch_on_text() -> None:
    judge = OfflineClinicalJudge()
    ref = "Mild cardiomegaly. No pleural effusion or pneumothorax."
    verdicts = judge.score_batch(
        [ref, "No pleural effusion. Heart size is normal.", "Heart is mildly enlarged.", ""],
        [ref] * 4,
    )
    assert all(isinstance(v, SemanticVerdict) and v.ok and v.source == "clinical" for v in verdicts)
    same, flipped, partial, empty = verdicts
    assert same.total == 3.0
    # cardiomegaly contradicted, effusion agreed, "normal" contradicted: 1 of 3 right.
    assert flipped.completeness == 0.0 and flipped.accuracy == pytest.approx(1 / 3)
    assert partial.accuracy == 1.0 and partial.completeness == 1.0
    assert (empty.accuracy, empty.relevance, empty.completeness) == (0.0, 0.0, 0.0)


def test_labels_are_memoised_per_distinct_text(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = judge_module.label_report

    def counting(text: str) -> dict[str, str]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(judge_module, "label_report", counting)
    group = ["No effusion.", "Small effusion.", "No effusion.", "Small effusion."]
    OfflineClinicalJudge().score_batch(group, ["Small effusion."] * 4)
    assert sorted(calls) == ["No effusion.", "Small effusion."]


def test_ascore_batch_matches_score_batch() -> None:
    judge = OfflineClinicalJudge()
    cands, refs = ["No effusion.", "Cardiomegaly."], ["Small effusion.", "Cardiomegaly."]
    assert asyncio.run(judge.ascore_batch(cands, refs)) == judge.score_batch(cands, refs)


def test_bad_input() -> None:
    judge = OfflineClinicalJudge()
    with pytest.raises(TypeError, match=r"candidates\[1\] must be a str"):
        judge.score_batch(["a", None], ["a", "b"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="references must be a sequence of str"):
        judge.score_batch(["a"], "a")
    with pytest.raises(ValueError, match="same length"):
        judge.score_batch(["a", "b"], ["a"])
    assert judge.score_batch([], []) == []


def test_real_pairs_give_valid_verdicts(iu_pairs: tuple[list[str], list[str]]) -> None:
    hyps, refs = iu_pairs
    verdicts = OfflineClinicalJudge().score_batch(hyps, refs)
    assert len(verdicts) == len(hyps)
    assert all(v.ok for v in verdicts)
    self_scores = OfflineClinicalJudge().score_batch(refs, refs)
    assert all(v.accuracy == 1.0 and v.relevance == 1.0 for v in self_scores)
    # A model's outputs agree with their references less than the references themselves.
    mean = sum(v.total for v in verdicts) / len(verdicts)
    assert mean < sum(v.total for v in self_scores) / len(self_scores)
