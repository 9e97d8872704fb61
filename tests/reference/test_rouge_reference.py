"""ROUGE equals rouge-score 0.1.2 and pycocoevalcap's Rouge on real and generated text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
from pycocoevalcap.rouge.rouge import Rouge  # noqa: E402

from himed_rewards.metrics import (  # noqa: E402
    rouge_l,
    rouge_l_batch,
    rouge_n,
    rouge_n_batch,
)


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_equals_rouge_score_on_590_real_pairs(iu_pairs, use_stemmer):
    hyps, refs = iu_pairs
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer)
    expected = [scorer.score(r, h) for h, r in zip(hyps, refs, strict=True)]
    got_l = rouge_l_batch(hyps, refs, use_stemmer=use_stemmer)
    for key, got in (("rougeL", got_l), ("rouge1", rouge_n_batch(hyps, refs, n=1, use_stemmer=use_stemmer)),
                     ("rouge2", rouge_n_batch(hyps, refs, n=2, use_stemmer=use_stemmer))):
        for field in ("precision", "recall", "fmeasure"):
            theirs = np.array([getattr(e[key], field) for e in expected])
            assert np.abs(getattr(got, field) - theirs).max() <= 1e-9, (key, field)


def test_rouge_multi_reference_equals_score_multi(iu_pairs):
    hyps, refs = iu_pairs
    scorer = rouge_scorer.RougeScorer(["rougeL", "rouge2"])
    for i in range(0, 590, 13):
        targets = [refs[i], refs[(i + 1) % 590], hyps[(i + 2) % 590]]
        expected = scorer.score_multi(targets, hyps[i])
        assert abs(rouge_l(hyps[i], targets) - expected["rougeL"].fmeasure) <= 1e-9
        assert abs(rouge_n(hyps[i], targets, n=2) - expected["rouge2"].fmeasure) <= 1e-9


def test_rouge_coco_equals_pycocoevalcap(iu_pairs):
    hyps, refs = iu_pairs
    _, expected = Rouge().compute_score({i: [r] for i, r in enumerate(refs)},
                                        {i: [h] for i, h in enumerate(hyps)})
    got = rouge_l_batch(hyps, refs, convention="coco").fmeasure
    assert np.abs(got - np.array(expected)).max() <= 1e-12


def test_rouge_coco_multiple_references(iu_pairs):
    hyps, refs = iu_pairs
    multi = [[refs[i], refs[(i + 3) % 590]] for i in range(100)]
    _, expected = Rouge().compute_score({i: m for i, m in enumerate(multi)},
                                        {i: [hyps[i]] for i in range(100)})
    got = rouge_l_batch(hyps[:100], multi, convention="coco").fmeasure
    assert np.abs(got - np.array(expected)).max() <= 1e-12


TEXT = st.one_of(
    st.lists(st.sampled_from(["the", "lungs", "clear", "no", "effusion", "running", "runs",
                              "3.5", "é", "--", "heart", "hearts"]), max_size=80).map(" ".join),
    st.text(max_size=80),
)


@settings(max_examples=300, deadline=None)
@given(hyp=TEXT, ref=TEXT, use_stemmer=st.booleans())
def test_rouge_edge_cases_equal_rouge_score(hyp, ref, use_stemmer):
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer)
    expected = scorer.score(ref, hyp)
    assert abs(rouge_l(hyp, ref, use_stemmer=use_stemmer) - expected["rougeL"].fmeasure) <= 1e-9
    assert abs(rouge_n(hyp, ref, n=1, use_stemmer=use_stemmer) - expected["rouge1"].fmeasure) <= 1e-9
    assert abs(rouge_n(hyp, ref, n=2, use_stemmer=use_stemmer) - expected["rouge2"].fmeasure) <= 1e-9


def test_long_sequences_use_both_lcs_paths():
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)]
    long_ref = " ".join(rng.choice(words, 5000))
    short = " ".join(rng.choice(words, 300))
    for hyp, ref in ((short, long_ref), (long_ref, short), (long_ref[:9000], long_ref)):
        assert abs(rouge_l(hyp, ref) - scorer.score(ref, hyp)["rougeL"].fmeasure) <= 1e-9
