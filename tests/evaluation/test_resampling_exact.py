"""Resampled corpus scores from per-sample statistics equal rescoring the resampled corpus."""

from __future__ import annotations

import numpy as np
import pytest

from himed_rewards.evaluation import (
    bootstrap_weights,
    chexpert_counts,
    compute_statistics,
    confidence_interval,
    micro_f1,
)
from himed_rewards.metrics import corpus_bleu, rouge_l_batch


@pytest.mark.parametrize("convention", ["default", "coco"])
def test_corpus_bleu_point_equals_corpus_bleu_on_590_pairs(iu_eval, convention):
    _, hyps, refs = iu_eval
    bleu_conv = "coco" if convention == "coco" else "sacrebleu"
    expected = corpus_bleu(hyps, refs, convention=bleu_conv).cumulative
    stats = compute_statistics(hyps[:590], refs, convention="default").metrics
    if convention == "coco":  # the jar is not needed for BLEU: build only what BLEU uses
        from himed_rewards.evaluation.statistics import _bleu_finalizer
        from himed_rewards.metrics import bleu_stats

        s = bleu_stats(hyps, refs, tokenize="whitespace")
        cols = np.concatenate([s.matches, s.totals, s.hyp_lens[:, None], s.ref_lens[:, None]], 1)
        got = [float(_bleu_finalizer("coco", k)(cols.sum(0, keepdims=True))[0]) for k in
               range(1, 5)]
    else:
        got = [stats[f"bleu{k}"].value() for k in range(1, 5)]
    assert got == list(expected)  # bit-identical, not approximately


def test_resampled_scores_equal_rescoring_the_resample(iu_eval):
    _, hyps, refs = iu_eval
    hyps, refs = hyps[:80], refs[:80]
    metrics = compute_statistics(hyps, refs).metrics
    rng = np.random.default_rng(7)
    for _ in range(3):
        idx = rng.choice(len(hyps), size=len(hyps), replace=True)
        weights = np.bincount(idx, minlength=len(hyps))[None, :]
        rh, rr = [hyps[i] for i in idx], [refs[i] for i in idx]
        bleu = corpus_bleu(rh, rr).cumulative
        for k in range(4):
            assert metrics[f"bleu{k + 1}"].resampled(weights)[0] == pytest.approx(bleu[k],
                                                                                   abs=1e-12)
        rouge = rouge_l_batch(rh, rr).fmeasure.mean()
        assert metrics["rougeL"].resampled(weights)[0] == pytest.approx(rouge, abs=1e-12)
        f1 = micro_f1(chexpert_counts(rh, rr).sum(0)[None])[0]
        assert metrics["f1_micro"].resampled(weights)[0] == pytest.approx(f1, abs=1e-12)


def test_bootstrap_weights_are_sacrebleus_resamples():
    rng = np.random.default_rng(12345)
    idx = rng.choice(50, size=(20, 50), replace=True)
    weights = bootstrap_weights(50, 20, seed=12345)
    assert weights.tolist() == [np.bincount(row, minlength=50).tolist() for row in idx]


def test_interval_brackets_the_point_and_narrows_with_more_samples(iu_eval):
    _, hyps, refs = iu_eval
    small = compute_statistics(hyps[:60], refs[:60]).metrics["bleu4"]
    large = compute_statistics(hyps, refs).metrics["bleu4"]
    lo_s, hi_s = confidence_interval(small, bootstrap_weights(60, 300))
    lo_l, hi_l = confidence_interval(large, bootstrap_weights(590, 300))
    assert lo_s <= small.value() <= hi_s and lo_l <= large.value() <= hi_l
    assert hi_l - lo_l < hi_s - lo_s


@pytest.mark.parametrize(("bad", "error"), [(0, ValueError), (-3, ValueError),
                                            (2.5, TypeError), (True, TypeError)])
def test_bootstrap_weights_reject_bad_counts(bad, error):
    with pytest.raises(error, match="n_resamples"):
        bootstrap_weights(10, bad)


def test_interval_level_must_be_a_probability(iu_eval):
    _, hyps, refs = iu_eval
    metric = compute_statistics(hyps[:5], refs[:5]).metrics["rougeL"]
    with pytest.raises(ValueError, match="level"):
        confidence_interval(metric, bootstrap_weights(5, 10), level=95)
