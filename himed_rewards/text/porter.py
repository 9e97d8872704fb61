"""nltk 3.10's ``PorterStemmer().stem`` (``NLTK_EXTENSIONS`` mode, its default) without nltk.

METEOR (``text.wordnet``) and ROUGE with stemming (``text.tokenizers``) stem with nltk's
Porter stemmer. Importing nltk costs about 0.6 s (its ``__init__`` pulls in ``scipy.stats``),
more than the rest of a warm first reward call, so the package stems on its own: the
irregular forms below, nltk's rule for words of at most two letters, and the steps of
``kernels.porter`` run in the interpreter for a few words (``interpreted_stem``) or compiled
for many (``text.wordnet.porter_stems``). Tests compare every WordNet lemma, random words and
non-ASCII words with nltk.
"""

from __future__ import annotations

from himed_rewards.kernels.porter import interpreted_stem

__all__ = ["IRREGULAR_FORMS", "porter_stem"]

# nltk's PorterStemmer.pool in NLTK_EXTENSIONS mode (nltk 3.10, Apache-2.0): irregular form ->
# stem, checked before any rule. A test checks it equals nltk's.
IRREGULAR_FORMS: dict[str, str] = {
    "sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
    "news": "news", "innings": "inning", "inning": "inning", "outings": "outing",
    "outing": "outing", "cannings": "canning", "canning": "canning", "howe": "howe",
    "proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}  # fmt: skip


def porter_stem(word: str) -> str:
    """``nltk.stem.porter.PorterStemmer().stem(word)``, the same string for any ``word``.

    Examples:
        >>> porter_stem("Opacities"), porter_stem("dying"), porter_stem("is")
        ('opac', 'die', 'is')
    """
    if not isinstance(word, str):
        raise TypeError(f"word must be a str, got {type(word).__name__}")
    stem = word.lower()
    irregular = IRREGULAR_FORMS.get(stem)
    if irregular is not None:
        return irregular
    if len(word) <= 2:  # nltk's extension: one- and two-letter words are not stemmed
        return stem
    return interpreted_stem(stem)
