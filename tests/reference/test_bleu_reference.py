"""BLEU equals sacrebleu 2.6 and pycocoevalcap 1.2 on real reports and generated edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sacrebleu = pytest.importorskip("sacrebleu")
from pycocoevalcap.bleu.bleu import Bleu  # noqa: E402

from himed_rewards.metrics import corpus_bleu, sentence_bleu, sentence_bleu_batch  # noqa: E402

SMOOTHING = [("none", None), ("floor", None), ("floor", 0.3), ("add-k", None), ("add-k", 2),
             ("exp", None)]


@pytest.mark.parametrize(("smooth", "value"), SMOOTHING)
@pytest.mark.parametrize("effective_order", [True, False])
def test_sentence_bleu_equals_sacrebleu_on_590_real_pairs(iu_pairs, smooth, value,
                                                         effective_order):
    hyps, refs = iu_pairs
    ours = sentence_bleu_batch(hyps, refs, smooth=smooth, smooth_value=value,
                               effective_order=effective_order)
    theirs = np.array([
        sacrebleu.sentence_bleu(h, [r], smooth_method=smooth, smooth_value=value,
                                use_effective_order=effective_order).score / 100
        for h, r in zip(hyps, refs, strict=True)
    ])
    assert np.abs(ours - theirs).max() <= 1e-9


def test_single_call_equals_batch_and_sacrebleu_defaults(iu_pairs):
    hyps, refs = iu_pairs
    batch = sentence_bleu_batch(hyps[:60], refs[:60])
    for h, r, b in zip(hyps[:60], refs[:60], batch, strict=True):
        expected = sacrebleu.sentence_bleu(h, [r]).score / 100
        assert abs(sentence_bleu(h, [r]) - expected) <= 1e-9
        assert sentence_bleu(h, r) == b


def test_lowercase_and_multiple_references(iu_pairs):
    hyps, refs = iu_pairs
    for i in range(0, 580, 29):
        multi = [refs[i], refs[i + 1], hyps[i + 2]]
        expected = sacrebleu.sentence_bleu(hyps[i], multi, lowercase=True).score / 100
        assert abs(sentence_bleu(hyps[i], multi, lowercase=True) - expected) <= 1e-9


@pytest.mark.parametrize("max_order", [1, 2, 3, 4, 6])
def test_corpus_bleu_equals_sacrebleu(iu_pairs, max_order):
    hyps, refs = iu_pairs
    bleu = sacrebleu.metrics.BLEU(max_ngram_order=max_order)
    expected = bleu.corpus_score(hyps, [refs]).score / 100
    assert abs(corpus_bleu(hyps, refs, max_order=max_order).score - expected) <= 1e-9


def test_corpus_bleu_coco_equals_pycocoevalcap(iu_pairs):
    hyps, refs = iu_pairs
    gts = {i: [r] for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    expected, _ = Bleu(4).compute_score(gts, res, verbose=0)
    ours = corpus_bleu(hyps, refs, convention="coco").cumulative
    assert np.abs(np.array(ours) - np.array(expected)).max() <= 1e-12


def test_corpus_bleu_coco_multiple_references(iu_pairs):
    hyps, refs = iu_pairs
    multi = [[refs[i], refs[(i + 7) % 590]] for i in range(200)]
    expected, _ = Bleu(4).compute_score({i: m for i, m in enumerate(multi)},
                                        {i: [hyps[i]] for i in range(200)}, verbose=0)
    ours = corpus_bleu(hyps[:200], multi, convention="coco").cumulative
    assert np.abs(np.array(ours) - np.array(expected)).max() <= 1e-12


WORDS = st.sampled_from(["the", "lungs", "are", "clear", ".", ",", "no", "effusion", "3.5",
                         "T7-T8", "cm", "é", "肺", "(", ")", "-", "heart", "normal", "&amp;"])
TEXT = st.one_of(
    st.lists(WORDS, max_size=40).map(" ".join),
    st.text(max_size=60),
    st.lists(st.sampled_from(["no", "no", "effusion"]), max_size=30).map(" ".join),
)


@settings(max_examples=300, deadline=None)
@given(hyp=TEXT, refs=st.lists(TEXT, min_size=1, max_size=3),
       smooth=st.sampled_from(["none", "floor", "add-k", "exp"]))
def test_sentence_bleu_edge_cases_equal_sacrebleu(hyp, refs, smooth):
    expected = sacrebleu.sentence_bleu(hyp, refs, smooth_method=smooth).score / 100
    ours = sentence_bleu(hyp, refs, smooth=smooth)
    assert abs(ours - expected) <= 1e-9
    assert 0.0 <= ours <= 1.0


def test_long_and_identical_inputs():
    long = " ".join(f"w{i % 97}" for i in range(10_000))
    assert sentence_bleu(long, [long]) == pytest.approx(1.0, abs=1e-12)
    expected = sacrebleu.sentence_bleu(long[:20_000], [long]).score / 100
    assert abs(sentence_bleu(long[:20_000], [long]) - expected) <= 1e-9
    assert sentence_bleu("", ["a b"]) == 0.0
