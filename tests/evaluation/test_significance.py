"""Paired tests equal sacrebleu 2.6's paired-bs / paired-ar on BLEU, and behave on edge cases."""

from __future__ import annotations

import pytest

from himed_rewards.evaluation import (
    bootstrap_weights,
    compute_statistics,
    paired_p_value,
    randomization_masks,
)

from .conftest import MAJORITY_REPORT


def _mixture(iu_eval, n=120, every=12):
    """The real model, with every ``every``-th output replaced by the majority report."""
    _, hyps, refs = iu_eval
    mixed = [MAJORITY_REPORT if i % every == 0 else h for i, h in enumerate(hyps[:n])]
    return hyps[:n], mixed, refs[:n]


@pytest.mark.parametrize(("test", "kind"), [("paired-bs", "bs"), ("paired-ar", "ar")])
def test_p_value_equals_sacrebleu_on_bleu(iu_eval, test, kind, monkeypatch):
    sacrebleu = pytest.importorskip("sacrebleu")
    from sacrebleu.significance import PairedTest

    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    base, system, refs = _mixture(iu_eval)
    paired = PairedTest([("base", base), ("sys", system)], {"BLEU": sacrebleu.BLEU()}, [refs],
                        test_type=kind, n_samples=400)
    _, results = paired()
    expected = results["BLEU"][1].p_value
    a = compute_statistics(base, refs).metrics["bleu4"]
    b = compute_statistics(system, refs).metrics["bleu4"]
    weights = (bootstrap_weights(len(refs), 400, 12345) if kind == "bs"
               else randomization_masks(len(refs), 400, 12345))
    assert 0.0 < expected < 1.0  # a non-trivial case
    assert paired_p_value(a, b, test, weights) == pytest.approx(expected, abs=1e-12)


def test_identical_systems_are_never_significant(iu_eval):
    _, hyps, refs = iu_eval
    m = compute_statistics(hyps[:50], refs[:50]).metrics
    for test, w in (("paired-bs", bootstrap_weights(50, 100)),
                    ("paired-ar", randomization_masks(50, 100))):
        for name in ("bleu4", "rougeL", "f1_micro"):
            assert paired_p_value(m[name], m[name], test, w) == 1.0


def test_clearly_different_systems_are_significant(iu_eval):
    _, hyps, refs = iu_eval
    model = compute_statistics(hyps[:200], refs[:200]).metrics
    constant = compute_statistics([MAJORITY_REPORT] * 200, refs[:200]).metrics
    p = paired_p_value(constant["bleu4"], model["bleu4"], "paired-bs", bootstrap_weights(200, 500))
    assert p < 0.01


def test_bad_test_name_and_mismatched_metrics_are_rejected(iu_eval):
    _, hyps, refs = iu_eval
    m = compute_statistics(hyps[:5], refs[:5]).metrics
    w = bootstrap_weights(5, 10)
    with pytest.raises(ValueError, match="paired-bs, paired-ar"):
        paired_p_value(m["bleu4"], m["bleu4"], "t-test", w)
    with pytest.raises(ValueError, match="cannot compare"):
        paired_p_value(m["bleu4"], m["rougeL"], "paired-bs", w)
