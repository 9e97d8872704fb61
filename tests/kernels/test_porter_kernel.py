"""The Porter kernel against nltk's PorterStemmer (NLTK_EXTENSIONS, what nltk's METEOR uses)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.text.wordnet import KERNEL_STEMS_FROM, porter_stems, wordnet_table

nltk_porter = pytest.importorskip("nltk.stem.porter")
PORTER = nltk_porter.PorterStemmer()

# letters that steer the rules (vowels, y, the doubled and *o consonants), digits and
# punctuation the tokenizer keeps in words, and every suffix a rule tests
LETTERS = "aeiouybcdlmnrstzgwx1.-"
SUFFIXES = ["", "ies", "ied", "eed", "ed", "ing", "ational", "tional", "alli", "logi", "fulli",
            "ion", "sion", "tion", "ll", "e", "y", "ement", "ment", "ness", "bli", "sses", "ss",
            "s", "at", "bl", "iz", "yy", "ly", "ical", "iviti", "biliti", "ousli", "izer", "ator"]


def test_every_wordnet_lemma_stems_as_nltk_does():
    words = [w for w in wordnet_table()._strings if w == w.lower()]
    assert len(words) > 100_000
    assert porter_stems(words) == [PORTER.stem(w) for w in words]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(lambda stem, a, b: stem + a + b,
                          st.text(alphabet=LETTERS, max_size=8),
                          st.sampled_from(SUFFIXES), st.sampled_from(SUFFIXES)),
                min_size=KERNEL_STEMS_FROM, max_size=80))  # the kernel's path
def test_random_words_stem_as_nltk_does(words):
    assert porter_stems(words) == [PORTER.stem(w) for w in words]


def test_irregular_forms_short_words_and_non_ascii_go_through_nltk():
    words = ["skies", "dying", "news", "a", "is", "", "résumés", "yyyyyyyy", "controlling"]
    assert porter_stems(words) == [PORTER.stem(w) for w in words]  # nltk's path: few words
    words *= KERNEL_STEMS_FROM  # the kernel's path, with the same words mixed in
    assert porter_stems(words) == [PORTER.stem(w) for w in words]
