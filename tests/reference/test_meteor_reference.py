"""METEOR equals nltk 3.10's ``meteor_score`` (WordNet 3.0) on real reports and generated cases.

nltk reads WordNet from ``$NLTK_DATA`` (``eval "$(.ci/setup_wordnet.sh)"`` builds one from
Debian's ``wordnet-base``). Without it these tests skip locally; in CI (``$CI`` set) they fail.
"""

from __future__ import annotations

import importlib.util
import os
import random
from itertools import chain
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from himed_rewards.metrics.meteor import meteor, meteor_batch
from himed_rewards.text.tokenizers import get_tokenizer
from himed_rewards.text.wordnet import synonyms, wordnet_table

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-9


def _wordnet_or_skip():
    """nltk's WordNet 3.0 reader, pointed at the folder .ci/setup_wordnet.sh makes."""
    import nltk

    for folder in (os.environ.get("NLTK_DATA"), os.environ.get("HIMED_NLTK_DATA"),
                   "/tmp/himed_nltk_data"):  # fmt: skip
        lexnames = Path(folder or ".") / "corpora" / "wordnet" / "lexnames"
        if folder and lexnames.exists() and folder not in nltk.data.path:
            nltk.data.path.append(folder)
    from nltk.corpus import wordnet

    try:
        version = wordnet.get_version()
    except LookupError:
        version = None
    if version != "3.0":
        reason = f"nltk's WordNet 3.0 is missing (got {version}); run .ci/setup_wordnet.sh"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return wordnet


@pytest.fixture(scope="module")
def nltk_meteor():
    _wordnet_or_skip()
    from nltk.translate.meteor_score import meteor_score

    return meteor_score


@pytest.fixture(scope="module")
def nltk_synonyms():
    wordnet = _wordnet_or_skip()

    def relation(word: str) -> set[str]:  # the set nltk's _enum_wordnetsyn_match builds
        return set(chain.from_iterable(
            (lemma.name() for lemma in synset.lemmas() if lemma.name().find("_") < 0)
            for synset in wordnet.synsets(word)
        )).union({word})  # fmt: skip

    return relation


# Real English words with WordNet synonyms and inflections (irregular ones included), report
# words, case and unicode variants, numbers and punctuation.
_ENGLISH = """
big large great small little mice mouse went go gone going goes better good best well leaves
leaf left children child men man women feet foot teeth tooth ran run running seen saw see
clear clearly open normal heart lungs lung effusion pleural opacity opacities enlarged
enlargement stable unchanged acute chest size sized bigger largest happier happy quiet calm
dogs churches boxes wives knives studies studying studied are is was were be been being has
have had no not without with the a an of in on at abnormal right upper lower lobe base bases
cardiac silhouette mediastinal contours within limits pneumothorax consolidation focal airspace
disease degenerative changes spine thoracic x-ray axes data criteria geese oxen hardest worse
worst fewer lying dying flies sky center centre middle heed guide action party army command
commands military forever always obeys ensures guarantee mild moderate severe increased
decreased seen noted identified appears appear stable grossly evidence free fluid air
"""
WORDS = _ENGLISH.split() + ["3.5", "cm", "t7-t8", "Heart", "LUNGS", "Clear", "Went", "naïve",
                            "café", "über", "日本", "İ", "ß", "", "-", ".", ",", "new_york",
                            "u.s.", "MICE"]  # fmt: skip

words = st.one_of(st.sampled_from(WORDS), st.text(min_size=0, max_size=6))
token_lists = st.lists(words, max_size=25)


def test_equals_nltk_on_590_real_pairs_tokenized(iu_pairs, nltk_meteor):
    hyps, refs = iu_pairs
    ours = np.array(meteor_batch([h.split() for h in hyps], [[r.split()] for r in refs]))
    theirs = np.array([nltk_meteor([r.split()], h.split()) for h, r in zip(hyps, refs, strict=True)])
    assert np.abs(ours - theirs).max() <= TOLERANCE
    assert (ours > 0).sum() > 500  # the comparison is not between zeros


def test_equals_nltk_on_590_real_pairs_default_tokenizer(iu_pairs, nltk_meteor):
    hyps, refs = iu_pairs
    tokenize = get_tokenizer("default")
    ours = np.array(meteor_batch(hyps, refs))
    theirs = np.array([nltk_meteor([tokenize(r)], tokenize(h))
                       for h, r in zip(hyps, refs, strict=True)])  # fmt: skip
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_single_calls_equal_nltk_on_real_pairs(iu_pairs, nltk_meteor):
    hyps, refs = iu_pairs
    for h, r in zip(hyps[:120], refs[:120], strict=True):
        assert abs(meteor(h.split(), [r.split()]) - nltk_meteor([r.split()], h.split())) <= TOLERANCE


def test_max_over_three_references_equals_nltk(iu_pairs, nltk_meteor):
    hyps, refs = iu_pairs
    n = len(refs)
    groups = [[refs[i].split(), refs[(i + 7) % n].split(), refs[(i + 211) % n].split()]
              for i in range(n)]  # fmt: skip
    ours = np.array(meteor_batch([h.split() for h in hyps], groups))
    theirs = np.array([nltk_meteor(g, h.split()) for h, g in zip(hyps, groups, strict=True)])
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parametrize(("alpha", "beta", "gamma"), [(0.5, 1.0, 0.2), (0.0, 0.0, 1.0),
                                                      (1.0, 7.5, 0.0), (0.85, 2.0, 0.6)])
def test_parameters_equal_nltk(iu_pairs, nltk_meteor, alpha, beta, gamma):
    hyps, refs = iu_pairs
    ours = meteor_batch([h.split() for h in hyps[:150]], [[r.split()] for r in refs[:150]],
                        alpha=alpha, beta=beta, gamma=gamma)  # fmt: skip
    for h, r, score in zip(hyps[:150], refs[:150], ours, strict=True):
        expected = nltk_meteor([r.split()], h.split(), alpha=alpha, beta=beta, gamma=gamma)
        assert abs(score - expected) <= TOLERANCE


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hyp=token_lists, refs=st.lists(token_lists, min_size=1, max_size=3))
def test_generated_token_lists_equal_nltk(nltk_meteor, hyp, refs):
    assert abs(meteor(hyp, refs) - nltk_meteor(refs, hyp)) <= TOLERANCE


@settings(max_examples=100, deadline=None)
@given(hyp=token_lists)
def test_identical_and_repeated_pairs_equal_nltk(nltk_meteor, hyp):
    repeated = hyp + hyp[::-1] + hyp
    for h, r in ((hyp, hyp), (repeated, hyp), (hyp, repeated)):
        assert abs(meteor(h, [r]) - nltk_meteor([r], h)) <= TOLERANCE


@settings(max_examples=150, deadline=None)
@given(hyp=st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join),
       ref=st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join))
def test_generated_strings_equal_nltk_on_default_tokens(nltk_meteor, hyp, ref):
    tokenize = get_tokenizer("default")
    assert abs(meteor(hyp, ref) - nltk_meteor([tokenize(ref)], tokenize(hyp))) <= TOLERANCE


def test_long_inputs_equal_nltk(nltk_meteor):
    rng = random.Random(7)
    hyp = [rng.choice(WORDS) for _ in range(10_000)]
    ref = [rng.choice(WORDS) for _ in range(9_000)]
    assert abs(meteor(hyp, [ref]) - nltk_meteor([ref], hyp)) <= TOLERANCE


def test_synonym_table_equals_nltk_on_exceptions_lemmas_and_inflections(nltk_synonyms):
    table = wordnet_table()
    exceptions = sorted({form for by_form in table._exceptions for form in by_form})
    lemmas = sorted(table._lemma_row)
    rng = random.Random(3)
    sample = rng.sample(lemmas, 3000)
    inflected = [w + suffix for w in sample[:1000]
                 for suffix in ("s", "es", "ed", "ing", "er", "est", "ies", "men", "ves")]
    for word in chain(exceptions, sample, inflected, WORDS):
        assert set(synonyms(word)) == nltk_synonyms(word), word


@settings(max_examples=300, deadline=None)
@given(word=words)
def test_synonym_table_equals_nltk_on_generated_words(nltk_synonyms, word):
    assert set(synonyms(word)) == nltk_synonyms(word)


@pytest.mark.slow
def test_shipped_table_is_what_the_build_script_makes():
    _wordnet_or_skip()
    spec = importlib.util.spec_from_file_location("build_wordnet_table",
                                                  ROOT / "scripts" / "build_wordnet_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0
