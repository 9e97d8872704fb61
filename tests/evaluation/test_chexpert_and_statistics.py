"""CheXpert-14 clinical F1 choices, metric sets per convention, None handling, RaTEScore."""

from __future__ import annotations

import numpy as np
import pytest

from himed_rewards import RewardConfig
from himed_rewards.clinical import label_report
from himed_rewards.evaluation import (
    CHEXPERT14,
    RATESCORE_MODELS,
    RatescoreUnavailable,
    chexpert_counts,
    chexpert_present,
    compute_statistics,
    load_ratescore,
    macro_f1,
    micro_f1,
)


def _on(text: str) -> set[str]:
    return {n for n, v in zip(CHEXPERT14, chexpert_present(text), strict=True) if v}


def test_uncertain_counts_as_absent_and_blocks_no_finding():
    text = "Possible right lower lobe pneumonia."
    assert label_report(text).get("pneumonia") == "uncertain"
    assert _on(text) == set()  # not pneumonia, and not "no finding" either


def test_mass_and_nodule_fold_into_lung_lesion():
    assert "lung_lesion" in _on("There is a 1 cm nodule in the right upper lobe.")
    assert "no_finding" in _on("The heart is normal in size. The lungs are clear.")


def test_micro_and_macro_f1_on_hand_counts():
    # class 0: TP 2 FP 1 FN 1 -> F1 2/3; class 1: TP 0 FP 1 FN 0 -> F1 0; others absent
    counts = np.zeros((1, 14, 3), dtype=np.int64)
    counts[0, 0] = [2, 1, 1]
    counts[0, 1] = [0, 1, 0]
    assert micro_f1(counts)[0] == pytest.approx(4 / 7)
    assert macro_f1(counts)[0] == pytest.approx((2 / 3 + 0) / 2)  # absent classes left out
    assert np.isnan(micro_f1(np.zeros((1, 14, 3))))[0]


def test_counts_are_per_sample_and_validate_lengths():
    c = chexpert_counts(["Cardiomegaly.", "Normal chest."], ["Normal chest.", "Normal chest."])
    assert c.shape == (2, 14, 3)
    assert c[0].sum(0).tolist() == [0, 1, 1]  # cardiomegaly FP, no_finding FN
    assert c[1].sum(0).tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="same length"):
        chexpert_counts(["a"], [])
    with pytest.raises(TypeError, match="report must be str"):
        chexpert_present(None)  # type: ignore[arg-type]


def test_semantic_axes_absent_when_the_semantic_level_is_off(iu_eval):
    _, hyps, refs = iu_eval
    on = compute_statistics(hyps[:10], refs[:10]).metrics
    off = compute_statistics(hyps[:10], refs[:10],
                             reward_config=RewardConfig(semantic=None)).metrics
    assert {"sem_accuracy", "sem_relevance", "sem_completeness"} <= set(on)
    assert not {"sem_accuracy", "sem_relevance", "sem_completeness"} & set(off)
    assert off["himed"].value() == pytest.approx(off["himed_low_level"].value())


def test_bad_convention_and_misaligned_inputs_are_rejected():
    with pytest.raises(ValueError, match="convention must be one of default, coco"):
        compute_statistics(["a"], ["a"], convention="sacrebleu")
    with pytest.raises(ValueError, match="non-empty and aligned"):
        compute_statistics(["a", "b"], ["a"])


def test_ratescore_backend_is_optional_and_names_its_models(iu_eval):
    _, hyps, refs = iu_eval
    with pytest.raises(RatescoreUnavailable) as info:
        load_ratescore(ner_model="/nonexistent/ner-model")
    for model in RATESCORE_MODELS:
        assert model in str(info.value)
    # any callable with the same contract is wired through as the RATE column
    fake = compute_statistics(hyps[:4], refs[:4], ratescore=lambda c, r: [0.5] * len(c))
    assert fake.metrics["ratescore"].value() == 0.5
    with pytest.raises(ValueError, match="ratescore returned 1 scores for 4 pairs"):
        compute_statistics(hyps[:4], refs[:4], ratescore=lambda c, r: [0.5])
