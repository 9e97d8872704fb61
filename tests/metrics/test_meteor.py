"""METEOR's front door, the shipped WordNet table and the ``coco`` convention.

Equivalence with nltk lives in tests/reference/test_meteor_reference.py; these tests need no
WordNet download: they check the API contract and properties that hold for any input.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import shutil
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.metrics._layout import build_layout
from himed_rewards.metrics.meteor import meteor, meteor_batch, meteor_from_layout
from himed_rewards.text.tokenizers import get_tokenizer
from himed_rewards.text.vocabulary import VOCAB
from himed_rewards.text.wordnet import (
    METEOR_KEYS,
    MeteorKeys,
    meteor_stem,
    synonyms,
    wordnet_table,
)

meteor_module = importlib.import_module("himed_rewards.metrics.meteor")

WORDS = ["heart", "lungs", "lung", "clear", "normal", "size", "effusion", "pleural", "no", "is",
         "are", "the", "went", "go", "mice", "mouse", "better", "good", "leaves", "leaf", "big",
         "large", "stable", "unchanged"]  # fmt: skip
texts = st.lists(st.sampled_from(WORDS) | st.text(max_size=5), max_size=20)


def test_identical_texts_score_near_one_and_disjoint_texts_zero():
    text = "the heart size is normal and the lungs are clear"
    assert meteor(text, text) == pytest.approx(1 - 0.5 * (1 / 10) ** 3)
    assert meteor("pneumothorax", "effusion") == 0.0


def test_str_input_uses_the_default_tokenizer_and_lists_are_used_as_they_are():
    tokens = get_tokenizer("default")("Heart size is normal. Lungs are clear.")
    ref = get_tokenizer("default")("The lungs are clear; heart normal.")
    assert meteor("Heart size is normal. Lungs are clear.", "The lungs are clear; heart normal.") \
        == meteor(tokens, [ref])
    # a token list keeps its punctuation glued: "clear." is not "clear"
    assert meteor(["clear."], [["clear"]]) < meteor(["clear"], [["clear"]])


def test_lowercasing_as_nltk_preprocess_does():
    assert meteor(["LUNGS", "Clear"], [["lungs", "clear"]]) == meteor(["lungs", "clear"],
                                                                       [["lungs", "clear"]])


def test_stem_and_synonym_passes_match_words_exact_match_misses():
    assert meteor(["lungs"], [["lung"]]) == 0.5  # Porter stems agree
    assert meteor(["went"], [["go"]]) == 0.5  # morphy's exception list, then a synset
    assert meteor(["mice"], [["mouse"]]) == 0.0  # nltk compares synonyms with *stemmed* refs


def test_maximum_over_references():
    refs = ["pleural effusion", "the lungs are clear", "no pneumothorax"]
    single = [meteor("the lungs are clear", r) for r in refs]
    assert meteor("the lungs are clear", refs) == max(single)


def test_batch_equals_single_calls_and_accepts_every_reference_form():
    hyps = ["the lungs are clear", ["heart", "normal"], "", "no effusion"]
    refs = ["lungs clear", [["heart", "is", "normal"], ["normal"]], "anything", ["no", "effusion"]]
    batch = meteor_batch(hyps, refs)
    assert batch == [meteor(h, r) for h, r in zip(hyps, refs, strict=True)]
    assert batch[2] == 0.0
    assert meteor_batch([], []) == []


def test_layout_entry_point_equals_the_batch():
    hyps = ["the lungs are clear", "heart normal", "no effusion", "lungs clear"]
    refs = [("lungs are clear",), ("the heart is normal",), ("lungs are clear",),
            ("lungs are clear", "heart")]  # fmt: skip
    layout = build_layout(hyps, refs, get_tokenizer("default"))
    assert meteor_from_layout(layout).tolist() == meteor_batch(hyps, [list(r) for r in refs])
    empty = build_layout([], [], get_tokenizer("default"))
    assert meteor_from_layout(empty).shape == (0,)


@settings(max_examples=200, deadline=None)
@given(hyp=texts, refs=st.lists(texts, min_size=1, max_size=3),
       alpha=st.floats(0, 1), beta=st.floats(0, 10), gamma=st.floats(0, 1))
def test_scores_are_in_the_unit_interval_and_never_nan(hyp, refs, alpha, beta, gamma):
    score = meteor(hyp, refs, alpha=alpha, beta=beta, gamma=gamma)
    assert not math.isnan(score)
    assert 0.0 <= score <= 1.0


@settings(max_examples=100, deadline=None)
@given(hyp=texts)
def test_a_text_against_itself_has_every_word_matched_in_one_chunk(hyp):
    expected = 0.0 if not hyp else 1 - 0.5 * (1 / len(hyp)) ** 3
    assert meteor(hyp, [hyp]) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"hypothesis": 3, "references": "a"}, TypeError, "hypothesis"),
        ({"hypothesis": ["a", 1], "references": "a"}, TypeError, "hypothesis"),
        ({"hypothesis": "a", "references": 5}, TypeError, "references"),
        ({"hypothesis": "a", "references": []}, ValueError, "references"),
        ({"hypothesis": "a", "references": "a", "alpha": 1.5}, ValueError, "alpha"),
        ({"hypothesis": "a", "references": "a", "alpha": "x"}, TypeError, "alpha"),
        ({"hypothesis": "a", "references": "a", "beta": -1.0}, ValueError, "beta"),
        ({"hypothesis": "a", "references": "a", "beta": math.inf}, ValueError, "beta"),
        ({"hypothesis": "a", "references": "a", "gamma": math.nan}, ValueError, "gamma"),
        ({"hypothesis": "a", "references": "a", "convention": "java"}, ValueError, "convention"),
        ({"hypothesis": "a", "references": "a", "tokenize": "nope"}, ValueError, "tokenize"),
        ({"hypothesis": "a", "references": "a", "convention": "coco", "alpha": 0.5}, ValueError,
         "alpha"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        meteor(**kwargs)


def test_batch_arguments_are_checked():
    with pytest.raises(ValueError, match="same length"):
        meteor_batch(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="hypotheses"):
        meteor_batch("a", ["a"])


# --- the shipped table and the per-id keys ----------------------------------------------------


def test_table_reproduces_morphy_on_known_cases():
    table = wordnet_table()
    assert table.morphy_forms("churches", "n") == ["church"]
    assert table.morphy_forms("aardwolves", "n") == ["aardwolf"]
    assert table.morphy_forms("went", "v") == ["go"]
    assert table.morphy_forms("book", "a") == []
    assert "good" in synonyms("better") and "well" in synonyms("better")
    assert synonyms("qwertyuiop") == frozenset({"qwertyuiop"})


def test_stems_are_nltk_porter_on_lowercased_tokens():
    from nltk.stem.porter import PorterStemmer

    porter = PorterStemmer()
    for word in ("Opacities", "leaves", "dying", "sky", "generously", "İstanbul"):
        assert meteor_stem(word) == porter.stem(word.lower())


def test_keys_are_computed_once_per_id_and_grow_with_the_vocabulary():
    keys = MeteorKeys()
    first = VOCAB.ids(["Effusions", "effusion"])
    low, stem, start, end, syn = keys.arrays(first)
    assert stem[first[0]] == stem[first[1]] and low[first[0]] != low[first[1]]
    assert keys.texts(syn[start[first[1]]:end[first[1]]]) == sorted(
        keys.texts(syn[start[first[1]]:end[first[1]]]))  # sorted for the kernel's search
    fresh = VOCAB.ids([f"tok{i}_{id(keys)}" for i in range(3000)])  # beyond the capacity
    low2, stem2, *_ = keys.arrays(fresh)
    assert len(low2) >= len(VOCAB)
    assert stem2[first[0]] == stem[first[0]]  # earlier entries kept across growth
    assert keys.texts(low2[fresh[:2]]) == [VOCAB.token(int(fresh[0])), VOCAB.token(int(fresh[1]))]
    # the kernel's key-indexed scratch covers every key handed out, synonyms included, all -1
    low3, stem3, start3, end3, syn3 = keys.arrays(first, fresh)
    every = np.concatenate((low3[first], low3[fresh], stem3[fresh], syn3[: end3[fresh].max()]))
    head = keys.head()
    assert len(head) > every.max() and (head == -1).all()


def test_batch_scores_leave_the_shared_scratch_clean_for_the_next_call():
    hyps = ["the lungs are clear", "went home", "lungs lungs clear"]
    refs = ["lungs are clear and the heart is normal", "go home", "clear lung"]
    first = meteor_batch(hyps, refs)
    assert (METEOR_KEYS.head() == -1).all()
    assert meteor_batch(hyps, refs) == first
    assert first == [meteor(h, r) for h, r in zip(hyps, refs, strict=True)]


def test_concurrent_first_calls_agree():
    words = [f"concurrent{i}" for i in range(200)] + ["went", "go", "lungs", "lung"]
    hyps = [words[i::7] for i in range(7)]
    refs = [[words[::-1]] for _ in range(7)]
    results: list[list[float]] = []

    def run():
        results.append(meteor_batch(hyps, refs))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == results[0] for r in results) and len(results) == 4


# --- convention="coco": pycocoevalcap's METEOR 1.5 jar, wrapped -------------------------------


def test_coco_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(meteor_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(meteor_module, "_COCO", [])
    with pytest.raises(RuntimeError, match="Java"):
        meteor("a", "a", convention="coco")


_HAS_COCO = shutil.which("java") is not None and importlib.util.find_spec("pycocoevalcap")


@pytest.mark.slow
@pytest.mark.skipif(not _HAS_COCO, reason="needs Java and pycocoevalcap")
def test_coco_convention_is_pycocoevalcap_meteor_as_it_is(iu_pairs):
    from pycocoevalcap.meteor.meteor import Meteor

    hyps, refs = iu_pairs
    hyps, refs = [h.lower() for h in hyps[:40]], [r.lower() for r in refs[:40]]
    ours = meteor_batch(hyps, refs, convention="coco")
    _, theirs = Meteor().compute_score({i: [r] for i, r in enumerate(refs)},
                                       {i: [h] for i, h in enumerate(hyps)})  # fmt: skip
    assert ours == [float(s) for s in theirs]
    assert meteor(hyps[0].split(), [refs[0].split()], convention="coco") == ours[0]
    assert np.all((np.array(ours) >= 0) & (np.array(ours) <= 1))
