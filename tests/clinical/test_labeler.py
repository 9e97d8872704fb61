"""label_report: mentions, polarity, anatomy qualifiers, no_finding, input checks."""

from __future__ import annotations

import pytest

from himed_rewards.clinical import FINDINGS, label_report


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("Mild cardiomegaly.", "cardiomegaly"),
        ("The cardiac silhouette is enlarged.", "cardiomegaly"),
        ("Widened mediastinum.", "enlarged_cardiomediastinum"),
        ("Patchy opacity in the right base.", "lung_opacity"),
        ("A 2 cm mass in the left upper lobe.", "mass"),
        ("A 2 cm mass in the left upper lobe.", "lung_lesion"),
        ("Right upper lobe nodules.", "nodule"),
        ("Right lower lobe infiltrate.", "infiltration"),
        ("Interstitial pulmonary edema.", "edema"),
        ("Left lower lobe consolidation.", "consolidation"),
        ("Right middle lobe pneumonia.", "pneumonia"),
        ("Bibasilar atelectatic changes.", "atelectasis"),
        ("Small apical pneumothorax.", "pneumothorax"),
        ("Small bilateral pleural effusions.", "pleural_effusion"),
        ("Biapical pleural thickening.", "pleural_thickening"),
        ("Healed left rib fracture.", "fracture"),
        ("Left chest pacemaker in place.", "support_devices"),
        ("Emphysematous changes.", "emphysema"),
        ("Basilar pulmonary fibrosis.", "fibrosis"),
        ("Small hiatal hernia.", "hernia"),
    ],
)
def test_each_finding_is_found_positive(text: str, finding: str) -> None:
    assert label_report(text)[finding] == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "No pleural effusion.",
        "There is no evidence of pleural effusion.",
        "Without pleural effusion.",
        "Pleural effusion has resolved.",
        "No pneumothorax, consolidation, or pleural effusion.",
        "There are no XXXX of a pleural effusion.",
        "The lungs are clear of pleural effusion.",
        "Negative for pleural effusion.",
    ],
)
def test_negated_mentions_are_negative(text: str) -> None:
    assert label_report(text)["pleural_effusion"] == "negative"


@pytest.mark.parametrize(
    "text",
    [
        "Possible small pleural effusion.",
        "Pleural effusion cannot be excluded.",
        "Cannot exclude a small pleural effusion.",
        "Findings may represent pleural effusion.",
        "Question of a small pleural effusion.",
        "Probable small left pleural effusion.",
    ],
)
def test_hedged_mentions_are_uncertain(text: str) -> None:
    assert label_report(text)["pleural_effusion"] == "uncertain"


def test_scope_stops_at_sentence_end_and_terminators() -> None:
    labels = label_report("No pneumothorax. Small pleural effusion.")
    assert labels == {"pneumothorax": "negative", "pleural_effusion": "positive"}
    labels = label_report("No pneumothorax but there is a small pleural effusion.")
    assert labels["pleural_effusion"] == "positive"


@pytest.mark.parametrize(("text", "finding"), [
    ("Findings: no effusion.", "pleural_effusion"),  # the "no" after the colon negates
    ("Pneumothorax: no.", "pneumothorax"),  # ConText's ": no" looks back across the colon
    ("Effusion: none.", "pleural_effusion"),
    ("Impression: no pneumothorax.", "pneumothorax"),
    ("Mild cardiomegaly. Pneumothorax: no", "pneumothorax"),
])
def test_colon_negations(text: str, finding: str) -> None:
    # The colon is a sentence break and ": no" a ConText trigger that starts with it: it
    # negates the sentence it closes, and leaves the cue after it to the next sentence.
    assert label_report(text)[finding] == "negative"


def test_colon_negation_stays_with_its_sentence() -> None:
    # ": no" looks back only at the sentence it closes, and only when nothing follows it
    # ("Effusion: no pneumothorax" is a heading with its content, not a denied effusion).
    assert label_report("Small effusion. Pneumothorax: no.") == {
        "pneumothorax": "negative", "pleural_effusion": "positive"}
    assert label_report("Small effusion: no pneumothorax.") == {
        "pneumothorax": "negative", "pleural_effusion": "positive"}
    assert label_report("Findings: small effusion.")["pleural_effusion"] == "positive"


def test_list_item_with_its_own_severity_leaves_the_negated_list() -> None:
    labels = label_report("No pleural effusion, mild cardiomegaly.")
    assert labels == {"cardiomegaly": "positive", "pleural_effusion": "negative"}
    # ... but a size-thresholded template item stays negated.
    assert label_report("No pneumothorax, large pleural effusion.")["pleural_effusion"] == (
        "negative"
    )


def test_positive_mention_wins_over_negative_one() -> None:
    # CheXpert's merge: any positive mention makes the finding positive.
    labels = label_report("No new effusion. Stable small left pleural effusion.")
    assert labels["pleural_effusion"] == "positive"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Heart size is normal.", "negative"),
        ("Normal heart size.", "negative"),
        ("The heart is not enlarged.", "negative"),
        ("Heart size within normal limits.", "negative"),
        ("Heart size is mildly enlarged.", "positive"),
        ("Enlarged cardiac silhouette.", "positive"),
        ("Heart size is at the upper limits of normal.", "uncertain"),
        ("Borderline cardiomegaly.", "uncertain"),
    ],
)
def test_anatomical_mentions_need_a_qualifier(text: str, expected: str) -> None:
    assert label_report(text)["cardiomegaly"] == expected


def test_bare_anatomy_is_no_statement() -> None:
    assert "cardiomegaly" not in label_report("Stable cardiomediastinal silhouette.")
    assert "cardiomegaly" not in label_report("Pacemaker leads overlie the heart.")


def test_unmentions_block_the_inner_phrase() -> None:
    assert "pleural_effusion" not in label_report("Small pericardial effusion.")
    assert "support_devices" not in label_report("Plate-like atelectasis at the left base.")
    assert "mass" not in label_report("Massive cardiomegaly.")
    assert "pneumonia" not in label_report("Calcified granuloma from old granulomatous infection.")


def test_calcified_nodule_is_a_nodule_but_no_lung_lesion() -> None:
    labels = label_report("Calcified nodules in the right upper lobe.")
    assert labels["nodule"] == "positive"
    assert "lung_lesion" not in labels


def test_no_finding_only_for_reports_without_pathology() -> None:
    assert label_report("The lungs are clear.") == {"no_finding": "positive"}
    normal = label_report("Heart size normal. No pneumothorax or effusion. Lungs clear.")
    assert normal["no_finding"] == "positive"
    abnormal = label_report("Heart size normal. Right lower lobe pneumonia.")
    assert "no_finding" not in abnormal
    hedged = label_report("Possible right lower lobe pneumonia.")
    assert "no_finding" not in hedged
    # Devices are no pathology (CheXpert), other abnormalities are.
    assert label_report("Pacemaker in place. Lungs clear.")["no_finding"] == "positive"
    assert "no_finding" not in label_report("Lungs clear. Thoracic spondylosis.")


def test_text_without_findings_gives_empty_dict() -> None:
    assert label_report("") == {}
    assert label_report("   ") == {}
    assert label_report("PA and lateral views of the chest were obtained.") == {}
    assert label_report("XXXX XXXX.") == {}


def test_output_uses_canonical_names_in_order_and_is_deterministic() -> None:
    text = "Cardiomegaly. Possible nodule. No effusion. Sternotomy wires. Hiatal hernia."
    labels = label_report(text)
    assert set(labels) <= set(FINDINGS)
    assert list(labels) == [f for f in FINDINGS if f in labels]
    assert set(labels.values()) <= {"positive", "negative", "uncertain"}
    assert label_report(text) == labels


def test_case_punctuation_and_plurals_do_not_matter() -> None:
    a = label_report("NO PLEURAL EFFUSIONS; MILD CARDIOMEGALY")
    b = label_report("no pleural effusion. mild cardiomegaly.")
    assert a == b == {"cardiomegaly": "positive", "pleural_effusion": "negative"}


def test_decimal_numbers_do_not_end_sentences() -> None:
    labels = label_report("No 1.5 cm pulmonary nodule.")
    assert labels["nodule"] == "negative"


@pytest.mark.parametrize("bad", [None, 3, b"no effusion", ["no effusion"]])
def test_non_str_raises_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        label_report(bad)  # type: ignore[arg-type]


def test_real_reports_label_without_error(iu_pairs: tuple[list[str], list[str]]) -> None:
    hyps, refs = iu_pairs
    labelled = [label_report(t) for t in hyps + refs]
    assert all(set(x) <= set(FINDINGS) for x in labelled)
    # Almost every real report says something about the 21 findings.
    assert sum(bool(x) for x in labelled) >= 0.95 * len(labelled)


# The four example reports and labels shipped with the CheXpert labeler
# (stanfordmlgroup/chexpert-labeler @44ddeb36 : sample_reports.csv / labeled_reports.csv,
# MIT License, Copyright (c) 2018 Stanford Machine Learning Group). 1 -> positive,
# 0 -> negative, -1 -> uncertain, blank -> not mentioned.
CHEXPERT_EXAMPLES = [
    (
        "Heart size normal and lungs are clear. No edema or pneumonia. No effusion",
        {"no_finding": "positive", "cardiomegaly": "negative", "edema": "negative",
         "pneumonia": "negative", "pleural_effusion": "negative"},
    ),
    (
        "1. Left pleural effusion with adjacent atelectasis. Right effusion is also present."
        "\n\n2. Cardiomegaly without overt edema.",
        {"cardiomegaly": "positive", "edema": "negative", "atelectasis": "positive",
         "pleural_effusion": "positive"},
    ),
    (
        "Minimal patchy airspace disease within the lingula, may reflect atelectasis or "
        "consolidation.",
        {"lung_opacity": "positive", "consolidation": "uncertain", "atelectasis": "uncertain"},
    ),
    (
        "1. Stable mild cardiomegaly. 2. Hyperexpanded but clear lungs.",
        {"cardiomegaly": "positive"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CHEXPERT_EXAMPLES)
def test_agrees_with_the_chexpert_labeler_examples(text: str, expected: dict[str, str]) -> None:
    assert label_report(text) == expected
