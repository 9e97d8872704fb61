"""Bad input to the metrics gets a TypeError/ValueError naming the argument; never NaN."""

from __future__ import annotations

import math

import pytest

from himed_rewards.metrics import (
    corpus_bleu,
    rouge_l,
    rouge_l_batch,
    rouge_n,
    sentence_bleu,
    sentence_bleu_batch,
)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: sentence_bleu(None, ["a"]), TypeError, "hypothesis must be a str or a sequence of str tokens, got NoneType"),
    (lambda: sentence_bleu("a", None), TypeError, "references must be a str or a sequence"),
    (lambda: sentence_bleu("a", []), ValueError, "references must hold at least one reference"),
    (lambda: sentence_bleu(3, ["a"]), TypeError, "hypothesis must be a str"),
    (lambda: sentence_bleu("a", [3]), TypeError, r"references\[0\] must be a str"),
    (lambda: sentence_bleu(["a", 1], ["a"]), TypeError, "hypothesis must be a str or a sequence of str tokens, got a sequence holding int"),
    (lambda: sentence_bleu("a", ["a"], smooth="nope"), ValueError, "smooth must be one of 'none', 'floor', 'add-k', 'exp', got 'nope'"),
    (lambda: sentence_bleu("a", ["a"], tokenize="nope"), ValueError, "tokenize must be one of '13a', 'rouge'"),
    (lambda: sentence_bleu("a", ["a"], max_order=0), ValueError, "max_order must be >= 1"),
    (lambda: sentence_bleu("a", ["a"], max_order=2.5), TypeError, "max_order must be an int"),
    (lambda: sentence_bleu("a", ["a"], smooth="floor", smooth_value=float("nan")), ValueError, "smooth_value must be a finite number"),
    (lambda: sentence_bleu("a", ["a"], mean="harmonic"), ValueError, "mean must be one of 'geometric', 'arithmetic'"),
    (lambda: sentence_bleu_batch(["a", "b"], ["a"]), ValueError, "hypotheses and references must have the same length, got 2 and 1"),
    (lambda: sentence_bleu_batch("a", ["a"]), TypeError, "hypotheses must be a sequence"),
    (lambda: corpus_bleu(["a"], ["a"], convention="nist"), ValueError, "convention must be one of 'sacrebleu', 'coco'"),
    (lambda: rouge_l("a", ["a"], convention="x"), ValueError, "convention must be one of 'rouge-score', 'coco'"),
    (lambda: rouge_l_batch(["a"], [None]), TypeError, r"references\[0\] must be a str or a sequence"),
    (lambda: rouge_n("a", "a", n=0), ValueError, "n must be >= 1"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("hyp", ["", " ", "...", "\x00", "a"])
@pytest.mark.parametrize("ref", ["", "a", "!!"])
def test_degenerate_inputs_are_finite(hyp, ref):
    for value in (sentence_bleu(hyp, [ref]), rouge_l(hyp, ref), rouge_n(hyp, ref, n=2),
                  sentence_bleu(hyp, [ref], smooth="add-k"), rouge_l(hyp, ref, convention="coco")):
        assert math.isfinite(value) and 0.0 <= value <= 1.0
