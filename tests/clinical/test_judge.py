"""OfflineClinicalJudge, judge_states and judge_labels: formulas, attributes, edge cases."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.clinical import FINDINGS, OfflineClinicalJudge, judge_labels
from himed_rewards.clinical import judge as judge_module
from himed_rewards.clinical.attributes import FindingState, describe_report
from himed_rewards.judge.verdict import SemanticScorer, SemanticVerdict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the path switch
from judge_paths import judge_path  # noqa: E402

POLARITY = st.sampled_from(["positive", "negative", "uncertain"])
LABELS = st.dictionaries(st.sampled_from(FINDINGS), POLARITY, max_size=8)


def total(candidate: str, reference: str) -> float:
    [verdict] = OfflineClinicalJudge().score_batch([candidate], [reference])
    return verdict.total


def test_identical_labels_score_one() -> None:
    labels = {"cardiomegaly": "positive", "pleural_effusion": "negative"}
    assert judge_labels(labels, labels) == (1.0, 1.0, 1.0)


def test_negation_flip_is_inaccurate_off_topic_and_incomplete() -> None:
    acc, rel, comp = judge_labels({"pneumothorax": "negative"}, {"pneumothorax": "positive"})
    assert acc < 0.2 and rel == 0.0 and comp == 0.0  # relevance respects polarity


def test_hallucinated_positive_costs_accuracy_and_relevance() -> None:
    ref = {"cardiomegaly": "positive"}
    acc, rel, comp = judge_labels({"cardiomegaly": "positive", "pneumonia": "positive"}, ref)
    assert acc == pytest.approx(1.5 / 3.5)  # pneumonia weighs 2, smoothing 0.5
    assert rel == pytest.approx(2 / 3)  # pneumonia also asserts a lung opacity
    assert comp == 1.0


def test_accuracy_grades_errors_instead_of_tying_at_zero() -> None:
    ref = {"cardiomegaly": "positive"}
    one = judge_labels({"pneumothorax": "positive"}, ref)[0]
    four = judge_labels({f: "positive" for f in ("pneumothorax", "pleural_effusion", "edema",
                                                 "pneumonia")}, ref)[0]  # fmt: skip
    assert 0.0 < four < one < 0.5


def test_pertinent_negative_is_never_worse_than_silence() -> None:
    ref = "Left upper lobe opacity."
    assert total("Left upper lobe opacity. No pleural effusion. No pneumothorax.", ref) == \
        total("Left upper lobe opacity.", ref)


@settings(max_examples=200, deadline=None)
@given(LABELS, LABELS, st.sampled_from(FINDINGS[1:]))
def test_adding_a_correct_negation_never_lowers_any_axis(cand, ref, finding) -> None:
    states = judge_module.canonical_states({f: FindingState(p) for f, p in ref.items()})
    same = judge_module._SAME_AS.get(finding, finding)  # "pneumonia" is judged as consolidation
    implied = judge_module._state(states, same)  # "nodule" implies a lung opacity
    if (implied is not None and implied.polarity != "negative") or finding in cand \
            or same in judge_module.canonical_states({f: FindingState(p) for f, p in cand.items()}):
        return
    before = judge_labels(cand, ref)
    after = judge_labels({**cand, finding: "negative"}, ref)
    if not cand:  # an empty report has no statements at all: anything beats it
        return
    assert all(a >= b - 1e-12 for a, b in zip(after, before, strict=True))


def test_omission_costs_completeness() -> None:
    ref = {"cardiomegaly": "positive", "pleural_effusion": "positive"}
    assert judge_labels({"cardiomegaly": "positive"}, ref)[2] == pytest.approx(1 / 2.5)


def test_hedges_get_half_credit() -> None:
    acc, rel, comp = judge_labels({"pneumonia": "uncertain"}, {"pneumonia": "positive"})
    assert (acc, rel, comp) == (pytest.approx(1.5 / 2.5), 1.0, 0.5)


def test_normal_reference_rewards_saying_normal() -> None:
    ref = {"no_finding": "positive", "pneumothorax": "negative"}
    assert judge_labels({"no_finding": "positive"}, ref) == (1.0, 1.0, 1.0)
    acc, _, comp = judge_labels({"pneumonia": "positive"}, ref)
    assert (acc, comp) == (pytest.approx(0.2), 0.0)


def test_empty_reports_have_defined_values() -> None:
    assert judge_labels({}, {}) == (1.0, 1.0, 1.0)
    assert judge_labels({}, {"pneumonia": "positive"}) == (0.0, 0.0, 0.0)
    assert judge_labels({"pneumonia": "positive"}, {}) == (pytest.approx(0.2), 0.0, 1.0)


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


@pytest.mark.parametrize(
    ("reference", "better", "worse"),
    [
        # laterality
        ("Small left pleural effusion.", "Small left pleural effusion.",
         "Small right pleural effusion."),
        ("Bilateral hilar lymphadenopathy.", "Right hilar lymphadenopathy.",
         "Normal hilar contours."),
        # zone
        ("Right upper lobe consolidation.", "Right upper lobe consolidation.",
         "Right lower lobe consolidation."),
        # severity, graded
        ("Large pleural effusion.", "Moderate pleural effusion.", "Small pleural effusion."),
        ("Severe cardiomegaly.", "Markedly enlarged cardiac silhouette.", "Mild cardiomegaly."),
        # measurement, graded
        ("12 mm right lower lobe nodule.", "14 mm right lower lobe nodule.",
         "20 mm right lower lobe nodule."),
        ("2 cm right apical pneumothorax.", "1.5 cm right apical pneumothorax.",
         "5 cm right apical pneumothorax."),
        # interval change
        ("Increased left basilar opacity.", "Worsening left basilar opacity.",
         "Improved left basilar opacity."),
        ("New right pleural effusion.", "New right pleural effusion.",
         "Stable right pleural effusion."),
        # device position
        ("Malpositioned ETT, tip in the right main bronchus.",
         "Endotracheal tube is malpositioned.", "ETT in satisfactory position."),
        ("ETT in satisfactory position.", "ETT tip 5 cm above the carina.",
         "ETT tip in the right mainstem bronchus."),
        # uncertainty
        ("Right lower lobe pneumonia.", "Possible right lower lobe pneumonia.",
         "No pneumonia."),
    ],
)
def test_each_attribute_mismatch_costs(reference: str, better: str, worse: str) -> None:
    assert total(better, reference) > total(worse, reference)


def test_an_attribute_only_the_candidate_states_costs_nothing() -> None:
    ref = "Pleural effusion. Consolidation."
    assert total("Left pleural effusion. Right lower lobe consolidation.", ref) == 3.0


def test_filler_and_repetition_cost_relevance() -> None:
    ref = "Mild cardiomegaly. No pleural effusion."
    honest = "Mild cardiomegaly. No pleural effusion."
    [clean, padded, repeated] = OfflineClinicalJudge().score_batch(
        [honest, honest + " Thank you for this referral. Please call with questions.",
         honest + " " + honest],
        [ref] * 3,
    )
    assert clean.relevance == 1.0
    assert padded.relevance < clean.relevance and repeated.relevance < clean.relevance
    assert padded.accuracy == clean.accuracy  # filler says nothing wrong


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
    # cardiomegaly contradicted and "normal" contradicted. Its negations are neutral in
    # accuracy, but they address the reference's two negations (the effusion explicitly, the
    # pneumothorax through "normal"): weight 0.25 each in relevance, 0.1 in completeness.
    # Asserted sets: {no_finding} against {cardiomegaly, enlarged_cardiomediastinum}.
    assert flipped.relevance == pytest.approx(2 * (0.25 * 2) / (1 + 2 + 0.25 * 4))
    assert flipped.completeness == pytest.approx(0.1 * 2 / 1.2)
    assert flipped.accuracy == pytest.approx(0.5 / 2.5)
    # the cardiomegaly recalled, neither negation: only their small weight is missed
    assert partial.accuracy == 1.0 and partial.completeness == pytest.approx(1.0 / 1.2)
    assert partial.relevance == pytest.approx(2 * 2 / (2 + 2 + 0.25 * 2))
    assert (empty.accuracy, empty.relevance, empty.completeness) == (0.0, 0.0, 0.0)


def test_descriptions_are_memoised_per_distinct_text(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = judge_module.describe_many

    def counting(texts: list[str]):
        calls.extend(texts)
        return real(texts)

    monkeypatch.setattr(judge_module, "describe_many", counting)
    group = ["No effusion.", "Small effusion.", "No effusion.", "Small effusion."]
    with judge_path(kernel=False):  # (the kernel's path: test_judge_kernel.py)
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
    with pytest.raises(TypeError, match="text must be a str"):
        describe_report(None)  # type: ignore[arg-type]


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


WORDS = st.sampled_from([
    "left", "right", "bilateral", "no", "mild", "large", "severe", "3.2", "0", "9" * 400,
    "cm", "mm", "effusion", "pneumothorax", "ett", "malpositioned", "satisfactory", "new",
    "stable", "improved", "greater", "than", "nodule", "mass", ",", ".", "possible",
    "normal", "clear", "lymph", "node", "enlarged", "thank", "you", "1.2.3", "hila",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=40), st.lists(WORDS, max_size=40))
def test_random_reports_always_give_valid_verdicts(cand: list[str], ref: list[str]) -> None:
    [verdict] = OfflineClinicalJudge().score_batch([" ".join(cand)], [" ".join(ref)])
    assert verdict.ok and 0.0 <= verdict.total <= 3.0  # SemanticVerdict checks finiteness


def test_interchangeable_terms_score_the_same() -> None:
    assert total("Left lower pneumonia.", "Left lower consolidation.") == 3.0
    assert total("Early pulmonary edema.", "Pulmonary vascular congestion.") == 3.0
    # but a negated pneumonia contradicts a consolidation
    assert total("No pneumonia.", "Left lower consolidation.") < 1.0


def test_apical_lucency_is_a_possible_pneumothorax_and_bone_lucency_is_not() -> None:
    ref = "Right apical pneumothorax."
    clear, lucency, named = (total(c, ref) for c in (
        "Lungs are clear.", "Lucency at the right apex.", "Small pneumothorax at the right apex."))
    assert named > lucency > clear
    states = judge_module.canonical_states(
        describe_report("Lucency in the right humeral head."))
    assert "pneumothorax" not in states


def test_paraphrased_effusion_and_collapse() -> None:
    ref = "Moderate bilateral pleural effusions with basilar atelectasis. Mild cardiomegaly."
    paraphrase = ("The heart is mildly enlarged. There are moderate-sized fluid collections in "
                  "both pleural spaces with associated lung base collapse.")
    assert total(paraphrase, ref) == pytest.approx(total(ref, ref))
    assert "atelectasis" not in describe_report("Vertebral body collapse at T8.")


def test_a_swapped_site_is_seen_beside_a_bilateral_mention() -> None:
    ref = ("Increased opacity in the right upper lobe. Opacity in the left midlung. "
           "Scattered bilateral opacities.")
    swapped = ref.replace("right upper", "left upper")
    reordered = " ".join(reversed(ref.split(". "))).replace("..", ".")
    assert total(swapped, ref) < total(reordered, ref)


def test_each_side_takes_the_zones_that_follow_it() -> None:
    state = describe_report("Consolidation in the right upper lobe and both lower lobes.")
    assert state["consolidation"].sites == frozenset(
        {("right", "upper"), ("left", "lower"), ("right", "lower")})


def test_two_predominant_sides_are_mixed() -> None:
    state = describe_report("Bibasilar, left greater than right atelectasis. "
                            "Mild bibasilar, right greater than left atelectasis.")
    assert state["atelectasis"].dominant == "mixed"


def test_an_unsupported_interval_change_costs() -> None:
    ref = "Small left pleural effusion."
    assert total("Stable small left pleural effusion.", ref) < total(ref, ref)
    # a change both state and agree on costs nothing
    assert total("Stable small left pleural effusion.", "Unchanged small left effusion.") == 3.0


def test_reference_negations_count_a_little_and_normal_covers_them() -> None:
    ref = "Cardiomegaly. No pleural effusion or pneumothorax."
    silent, negating = total("Cardiomegaly.", ref), total(
        "Cardiomegaly. No pleural effusion or pneumothorax.", ref)
    assert negating == 3.0 and 2.5 < silent < negating
    normal_ref = "Lungs are clear. No effusion or pneumothorax."
    assert total("No acute cardiopulmonary abnormality.", normal_ref) == 3.0


# Reports with and without attributes, normal, empty and filler: a GRPO group shares its
# reference, and the judge prepares that reference once and fills tables of terms as it
# meets candidates (issue 13); the scores must not depend on what it met before.
GROUP_TEXTS = [
    "Large left pleural effusion. No pneumothorax.",
    "Small right pleural effusion, new since prior. No pneumothorax.",
    "No pleural effusion or pneumothorax.",
    "Mild cardiomegaly. Lungs are clear.",
    "Possible left lower lobe pneumonia. Mild pulmonary vascular congestion.",
    "Malpositioned ETT, tip in the right main bronchus.",
    "Lucency at the right apex.",
    "",
    "Thank you for the referral.",
    "No acute cardiopulmonary abnormality.",
    "Bibasilar atelectasis, left greater than right. Stable 3.2 cm right upper lobe mass.",
    "Right upper lobe and left mid lung opacities. Calcified granuloma.",
    "Possible pneumothorax. Atelectasis.",
]


def test_a_group_scored_together_matches_each_pair_alone() -> None:
    from himed_rewards.clinical.attributes import filler_sentences

    judge = OfflineClinicalJudge()
    for reference in GROUP_TEXTS:
        together = judge.score_batch(GROUP_TEXTS, [reference] * len(GROUP_TEXTS))
        for candidate, verdict in zip(GROUP_TEXTS, together, strict=True):
            [alone] = judge.score_batch([candidate], [reference])
            assert verdict == alone  # exact floats
            assert (verdict.accuracy, verdict.relevance, verdict.completeness) == \
                judge_module.judge_states(describe_report(candidate), describe_report(reference),
                                          candidate_filler=filler_sentences(candidate),
                                          reference_filler=filler_sentences(reference))


def test_shared_term_tables_hold_finding_names_only() -> None:
    judge = OfflineClinicalJudge()
    judge.score_batch(GROUP_TEXTS * len(GROUP_TEXTS),
                      [r for r in GROUP_TEXTS for _ in GROUP_TEXTS])  # fmt: skip
    names = set(FINDINGS)
    positive, uncertain = judge_module._SILENT_TERMS
    assert "atelectasis" in positive and "pneumothorax" in uncertain  # filled above
    for table in (positive, uncertain):
        assert all(f in names or f.startswith("x:") for f in table)
