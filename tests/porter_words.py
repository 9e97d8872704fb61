"""Words that exercise every Porter rule, for the tests of both stemmers (the kernel,
tests/kernels/test_porter_kernel.py, and its steps in the interpreter,
tests/text/test_porter_python.py), each checked against nltk."""

from __future__ import annotations

from hypothesis import strategies as st

# letters that steer the rules (vowels, y, the doubled and *o consonants), digits and
# punctuation the tokenizer keeps in words
RULE_LETTERS = "aeiouybcdlmnrstzgwx1.-"
# every suffix a rule tests
SUFFIXES = ["", "ies", "ied", "eed", "ed", "ing", "ational", "tional", "alli", "logi", "fulli",
            "ion", "sion", "tion", "ll", "e", "y", "ement", "ment", "ness", "bli", "sses", "ss",
            "s", "at", "bl", "iz", "yy", "ly", "ical", "iviti", "biliti", "ousli", "izer", "ator"]


def rule_words(letters: str = RULE_LETTERS) -> st.SearchStrategy[str]:
    """A stem of up to 8 of ``letters`` followed by two of the rules' suffixes."""
    return st.builds(lambda stem, a, b: stem + a + b, st.text(alphabet=letters, max_size=8),
                     st.sampled_from(SUFFIXES), st.sampled_from(SUFFIXES))
