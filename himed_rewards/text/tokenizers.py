"""Tokenizers: small named objects that turn a string into a list of tokens.

Every tokenizer has a ``name`` and a ``signature()`` (what goes into a reproducibility
signature), is a pure function of its input, and memoises recent strings, because a GRPO
step scores many completions against few references and completions repeat.

* ``13a`` reproduces sacrebleu 2.x's ``Tokenizer13a`` (mteval-v13a) exactly.
* ``rouge`` reproduces rouge-score 0.1.2's ``tokenize.tokenize`` exactly (lowercase, runs of
  ``[a-z0-9]``, optional nltk Porter stemming of tokens longer than 3 characters).
* ``default`` is the reward tokenizer (rule below).
* ``whitespace`` is ``str.split()``; ``space`` is ``str.split(" ")`` (pycocoevalcap's ROUGE-L,
  which keeps the empty tokens that doubled spaces create).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from himed_rewards.text.vocabulary import VOCAB

__all__ = [
    "Tokenizer",
    "Tokenizer13a",
    "RougeTokenizer",
    "DefaultTokenizer",
    "WhitespaceTokenizer",
    "SpaceTokenizer",
    "get_tokenizer",
    "TOKENIZERS",
]

_CACHE_SIZE = 2**16


class Tokenizer:
    """Base class: subclasses implement ``_tokenize``; calls are memoised per instance."""

    name: str = "base"

    def __init__(self) -> None:
        # A bound lru_cache per instance: instances are few (one per name and option).
        self._cached: Callable[[str], tuple[str, ...]] = lru_cache(maxsize=_CACHE_SIZE)(
            self._tokenize_tuple
        )
        self.ids: Callable[[str], np.ndarray] = lru_cache(maxsize=_CACHE_SIZE)(self._ids)

    def _tokenize_tuple(self, text: str) -> tuple[str, ...]:
        return tuple(self._tokenize(text))

    def _ids(self, text: str) -> np.ndarray:
        """Read-only interned ids of ``text`` (memoised; see ``text.interning.encode``)."""
        return VOCAB.ids(self._cached(text))

    def _tokenize(self, text: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, text: str) -> list[str]:
        """Tokenize ``text``.

        Examples:
            >>> get_tokenizer("whitespace")("a  b c")
            ['a', 'b', 'c']
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        return list(self._cached(text))

    def signature(self) -> str:
        """The string that identifies this tokenizer (and its options) in a signature."""
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.signature()!r})"

    def __reduce__(self):  # picklable although it holds an lru_cache
        return (get_tokenizer, (self.signature(),))


class Tokenizer13a(Tokenizer):
    """sacrebleu's ``13a`` tokenizer (the mteval-v13a rules), byte for byte.

    Examples:
        >>> Tokenizer13a()("No effusion, pneumothorax.It is 3.5 cm (T7-T8).")
        ['No', 'effusion', ',', 'pneumothorax', '.', 'It', 'is', '3.5', 'cm', '(', 'T7', '-', 'T8', ')', '.']
    """

    name = "13a"
    # The four rules of sacrebleu.tokenizers.tokenizer_re.TokenizerRegexp, in order.
    _RULES = (
        (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
        (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
        (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
        (re.compile(r"([0-9])(-)"), r"\1 \2 "),
    )

    def _tokenize(self, text: str) -> list[str]:
        line = text.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
        if "&" in line:
            line = line.replace("&quot;", '"').replace("&amp;", "&")
            line = line.replace("&lt;", "<").replace("&gt;", ">")
        line = f" {line} "
        for pattern, replacement in self._RULES:
            line = pattern.sub(replacement, line)
        return line.split()


class RougeTokenizer(Tokenizer):
    """rouge-score's tokenizer: lowercase, split on non-``[a-z0-9]``, optional Porter stem.

    Examples:
        >>> RougeTokenizer()("No focal Consolidation; T7-T8.")
        ['no', 'focal', 'consolidation', 't7', 't8']
        >>> RougeTokenizer(use_stemmer=True)("opacities are seen")
        ['opac', 'are', 'seen']
    """

    name = "rouge"
    _NON_ALNUM = re.compile(r"[^a-z0-9]+")
    _VALID = re.compile(r"^[a-z0-9]+$")

    def __init__(self, use_stemmer: bool = False) -> None:
        self.use_stemmer = bool(use_stemmer)
        self._stem = _porter_stem if self.use_stemmer else None
        super().__init__()

    def _tokenize(self, text: str) -> list[str]:
        tokens = re.split(r"\s+", self._NON_ALNUM.sub(" ", text.lower()))
        if self._stem is not None:
            stem = self._stem
            tokens = [stem(t) if len(t) > 3 else t for t in tokens]
        valid = self._VALID.match
        return [t for t in tokens if valid(t)]

    def signature(self) -> str:
        return "rouge+stem" if self.use_stemmer else "rouge"


class DefaultTokenizer(Tokenizer):
    """The reward tokenizer.

    The rule, exactly: the text is lowercased with ``str.lower``; a token is then either

    1. a *word*: a maximal run of letters and digits (Unicode ``[^\\W_]``), where runs joined
       by a single ``.``, ``,``, ``-``, ``/`` or ``:`` stay one token **if the joined
       whole contains a digit** (``3.5``, ``t7-t8``, ``1/2``, ``10:30``, ``4-5mm``), and are
       split otherwise (``well-defined`` -> ``well``, ``-``, ``defined``); or
    2. any other non-space character on its own (punctuation split off, as in 13a).

    Examples:
        >>> DefaultTokenizer()("Stable 3.5 cm nodule at T7-T8; well-defined.")
        ['stable', '3.5', 'cm', 'nodule', 'at', 't7-t8', ';', 'well', '-', 'defined', '.']
    """

    name = "default"
    _TOKEN = re.compile(r"[^\W_]+(?:[.,\-/:][^\W_]+)*|\S")
    _PART = re.compile(r"[^\W_]+|[^\w\s]|_")
    _DIGIT = re.compile(r"\d")

    def _tokenize(self, text: str) -> list[str]:
        out: list[str] = []
        digit = self._DIGIT.search
        for token in self._TOKEN.findall(text.lower()):
            if len(token) > 1 and not token.isalnum() and not digit(token):
                out.extend(self._PART.findall(token))
            else:
                out.append(token)
        return out


class WhitespaceTokenizer(Tokenizer):
    """``str.split()``: what sacrebleu's n-gram extraction and pycocoevalcap's BLEU use.

    Examples:
        >>> WhitespaceTokenizer()(" a\\tb  c ")
        ['a', 'b', 'c']
    """

    name = "whitespace"

    def _tokenize(self, text: str) -> list[str]:
        return text.split()


class SpaceTokenizer(Tokenizer):
    """``str.split(" ")``: pycocoevalcap's ROUGE-L, empty tokens included.

    Examples:
        >>> SpaceTokenizer()("a  b")
        ['a', '', 'b']
    """

    name = "space"

    def _tokenize(self, text: str) -> list[str]:
        return text.split(" ")


@lru_cache(maxsize=1)
def _porter():
    from nltk.stem.porter import PorterStemmer  # nltk's default (NLTK_EXTENSIONS) mode

    return PorterStemmer()


@lru_cache(maxsize=2**18)
def _porter_stem(word: str) -> str:
    return _porter().stem(word)


TOKENIZERS: dict[str, Callable[[], Tokenizer]] = {
    "13a": Tokenizer13a,
    "rouge": RougeTokenizer,
    "rouge+stem": lambda: RougeTokenizer(use_stemmer=True),
    "default": DefaultTokenizer,
    "whitespace": WhitespaceTokenizer,
    "space": SpaceTokenizer,
}
_INSTANCES: dict[str, Tokenizer] = {}


def get_tokenizer(tokenize: str | Tokenizer, *, argument: str = "tokenize") -> Tokenizer:
    """Return the shared tokenizer instance for a name (or the tokenizer itself).

    Examples:
        >>> get_tokenizer("13a").signature()
        '13a'
        >>> get_tokenizer("nope")
        Traceback (most recent call last):
        ...
        ValueError: tokenize must be one of '13a', 'rouge', 'rouge+stem', 'default', 'whitespace', 'space' or a Tokenizer instance, got 'nope'
    """
    if isinstance(tokenize, Tokenizer):
        return tokenize
    if isinstance(tokenize, str) and tokenize in TOKENIZERS:
        instance = _INSTANCES.get(tokenize)
        if instance is None:
            instance = _INSTANCES[tokenize] = TOKENIZERS[tokenize]()
        return instance
    allowed = ", ".join(repr(name) for name in TOKENIZERS)
    raise ValueError(f"{argument} must be one of {allowed} or a Tokenizer instance, got {tokenize!r}")
