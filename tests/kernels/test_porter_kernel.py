"""The Porter kernel against nltk's PorterStemmer (NLTK_EXTENSIONS, what nltk's METEOR uses)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.text.wordnet import KERNEL_STEMS_FROM, porter_stems, wordnet_table

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the shared word strategy
from porter_words import rule_words  # noqa: E402

nltk_porter = pytest.importorskip("nltk.stem.porter")
PORTER = nltk_porter.PorterStemmer()


def test_every_wordnet_lemma_stems_as_nltk_does():
    words = [w for w in wordnet_table()._strings if w == w.lower()]
    assert len(words) > 100_000
    assert porter_stems(words) == [PORTER.stem(w) for w in words]


@settings(max_examples=300, deadline=None)
@given(st.lists(rule_words(), min_size=KERNEL_STEMS_FROM, max_size=80))  # the kernel's path
def test_random_words_stem_as_nltk_does(words):
    assert porter_stems(words) == [PORTER.stem(w) for w in words]


def test_irregular_forms_short_words_and_non_ascii_go_through_nltk():
    words = ["skies", "dying", "news", "a", "is", "", "résumés", "yyyyyyyy", "controlling"]
    assert porter_stems(words) == [PORTER.stem(w) for w in words]  # nltk's path: few words
    words *= KERNEL_STEMS_FROM  # the kernel's path, with the same words mixed in
    assert porter_stems(words) == [PORTER.stem(w) for w in words]
