"""Tokenizers: small named objects that turn a string into a list of tokens.

Every tokenizer has a ``name`` and a ``signature()`` (what goes into a reproducibility
signature), is a pure function of its input, and memoises recent strings in caches bounded
by bytes (``CACHE_BYTES`` each). ``encode_batch`` turns many texts into interned ids at
once: ``default``, ``rouge``, ``whitespace`` and ``13a`` do it with kernels over the text's
bytes (``himed_rewards.kernels.tokenize``), falling back to their Python rule where the
kernel's precondition fails (non-ASCII text, except for ``rouge``). Only ``13a`` memoises a
batch (a hit skips its string replacements); the others are cheaper than a look-up.

* ``13a`` reproduces sacrebleu 2.x's ``Tokenizer13a`` (mteval-v13a) exactly.
* ``rouge`` reproduces rouge-score 0.1.2's ``tokenize.tokenize`` exactly (lowercase, runs of
  ``[a-z0-9]``, optional nltk Porter stemming of tokens longer than 3 characters).
* ``default`` is the reward tokenizer (rule below).
* ``whitespace`` is ``str.split()``; ``space`` is ``str.split(" ")`` (pycocoevalcap's ROUGE-L,
  which keeps the empty tokens that doubled spaces create).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from himed_rewards.kernels.tokenize import (
    ALNUM,
    DIGIT,
    JOINER,
    LOWER_ALNUM,
    PAD_13A,
    SPACE,
    alnum_spans,
    default_spans,
    rewrite_13a,
    split_spans,
)
from himed_rewards.text.cache import ByteLRU
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
    "CACHE_BYTES",
    "concat_ids",
]

CACHE_BYTES = 32 * 2**20  # per cache; each tokenizer has two (tokens, ids)
_ID_CACHES: weakref.WeakSet[ByteLRU] = weakref.WeakSet()  # every tokenizer's id cache


def _forget_ids() -> None:
    for cache in list(_ID_CACHES):
        cache.cache_clear()


VOCAB.on_recycle(_forget_ids)  # cached id arrays would name forgotten tokens


def concat_ids(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate id arrays into CSR form: (int32 ids, int64 offsets).

    Examples:
        >>> ids, offsets = concat_ids([np.array([1, 2], dtype=np.int32), np.array([3], dtype=np.int32)])
        >>> ids.tolist(), offsets.tolist()
        ([1, 2, 3], [0, 2, 3])
    """
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    if arrays:
        np.cumsum(list(map(len, arrays)), out=offsets[1:])
    if offsets[-1]:
        return np.concatenate(arrays).astype(np.int32, copy=False), offsets
    return np.zeros(0, dtype=np.int32), offsets


class Tokenizer:
    """Base class: subclasses implement ``_tokenize``; calls are memoised per instance."""

    name: str = "base"

    def __init__(self) -> None:
        # Caches per instance: instances are few (one per name and option).
        self._cached: Callable[[str], tuple[str, ...]] = ByteLRU(self._tokenize_tuple, CACHE_BYTES)
        self.ids: Callable[[str], np.ndarray] = ByteLRU(self._ids, CACHE_BYTES)
        _ID_CACHES.add(self.ids)

    def _tokenize_tuple(self, text: str) -> tuple[str, ...]:
        return tuple(self._tokenize(text))

    def _ids(self, text: str) -> np.ndarray:
        """Read-only interned ids of ``text`` (memoised; see ``text.interning.encode``)."""
        return VOCAB.ids(self._cached(text))

    def _tokenize(self, text: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Interned ids of many texts in CSR form: ``ids[offsets[i]:offsets[i + 1]]`` is text i.

        Examples:
            >>> ids, offsets = get_tokenizer("default").encode_batch(["No effusion.", "Clear"])
            >>> VOCAB.tokens(ids[offsets[0]:offsets[1]]), VOCAB.tokens(ids[offsets[1]:])
            (['no', 'effusion', '.'], ['clear'])
        """
        return concat_ids([self.ids(t) for t in texts])

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


class _CompiledTokenizer(Tokenizer):
    """A tokenizer with a compiled path: ``_prepare`` gives the kernel's input bytes for a
    text (or None where only the Python rule is exact) and ``_spans`` runs the kernel."""

    def _prepare(self, text: str) -> bytes | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _spans(self, buf, text_offsets, start, end, counts) -> int:  # pragma: no cover
        raise NotImplementedError

    # Whether the kernel's input for ASCII text is just the lowercased text: then a batch that
    # is ASCII throughout is lowercased and encoded in one call (lowercasing ASCII is per
    # character, so the joined text lowers exactly as its parts do).
    _ascii_is_lower = False
    # Whether a batch goes text by text through the memo (``ids``): worth it where Python
    # rules run before the kernel (13a), so repeated text skips them.
    _batch_memoised = False

    def _compiled(self, raws: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        return self._compiled_joined(b"".join(raws), list(map(len, raws)))

    def _compiled_joined(self, raw: bytes, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
        text_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=text_offsets[1:])
        buf = np.frombuffer(raw, dtype=np.uint8)
        start = np.empty(buf.shape[0], dtype=np.int64)  # at most one token per byte
        end = np.empty(buf.shape[0], dtype=np.int64)
        counts = np.empty(len(lengths), dtype=np.int64)
        n = self._spans(buf, text_offsets, start, end, counts)
        ids = VOCAB.intern_spans(buf, start[:n], end[:n])
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return ids, offsets

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if not all(map(str.__instancecheck__, texts)):
            i, bad = next((i, t) for i, t in enumerate(texts) if not isinstance(t, str))
            raise TypeError(f"texts[{i}] must be str, got {type(bad).__name__}")
        if self._batch_memoised:
            return self._memoised_batch(texts)
        return self._encode_new(texts)

    def _encode_new(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._ascii_is_lower:
            joined = "".join(texts)
            if joined.isascii():
                return self._compiled_joined(joined.lower().encode("ascii"), list(map(len, texts)))
        raws = [self._prepare(t) for t in texts]
        if None not in raws:
            return self._compiled(raws)  # type: ignore[arg-type]
        arrays = [VOCAB.ids(self._cached(t)) if r is None else None
                  for t, r in zip(texts, raws, strict=True)]
        fast = [i for i, r in enumerate(raws) if r is not None]
        ids, offsets = self._compiled([raws[i] for i in fast])  # type: ignore[misc]
        for k, i in enumerate(fast):
            arrays[i] = ids[offsets[k] : offsets[k + 1]]
        return concat_ids(arrays)  # type: ignore[arg-type]

    def _memoised_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cached texts from the memo, the others in one compiled call, then memoised."""
        memo: ByteLRU = self.ids  # type: ignore[assignment]
        arrays = [memo.get(t) for t in texts]
        missing = list({t: None for t, a in zip(texts, arrays, strict=True) if a is None})
        if missing:
            ids, offsets = self._encode_new(missing)
            fresh = {}
            for k, text in enumerate(missing):
                row = ids[offsets[k] : offsets[k + 1]].copy()
                row.setflags(write=False)
                memo.put(text, row)
                fresh[text] = row
            arrays = [fresh[t] if a is None else a for t, a in zip(texts, arrays, strict=True)]
        return concat_ids(arrays)  # type: ignore[arg-type]

    def _ids(self, text: str) -> np.ndarray:
        raw = self._prepare(text)
        if raw is None:
            return VOCAB.ids(self._cached(text))
        ids = self._compiled([raw])[0]
        ids.setflags(write=False)
        return ids


class Tokenizer13a(_CompiledTokenizer):
    """sacrebleu's ``13a`` tokenizer (the mteval-v13a rules), byte for byte.

    Examples:
        >>> Tokenizer13a()("No effusion, pneumothorax.It is 3.5 cm (T7-T8).")
        ['No', 'effusion', ',', 'pneumothorax', '.', 'It', 'is', '3.5', 'cm', '(', 'T7', '-', 'T8', ')', '.']
    """

    name = "13a"
    # The four rules of sacrebleu.tokenizers.tokenizer_re.TokenizerRegexp, in order. The first,
    # r"([\{-\~\[-\` -\&\(-\+\:-\@\/])" -> r" \1 ", pads single characters, so it is a
    # str.translate table; the others take callables, because Python expands a template such
    # as r"\1 \2 " in Python code for every match (most of the tokenizer's time).
    _PAD = str.maketrans({c: f" {c} " for c in "{|}~[\\]^_` !\"#$%&()*+:;<=>?@/"})
    _RULES = (
        (re.compile(r"([^0-9])([\.,])"), lambda m: f"{m.group(1)} {m.group(2)} "),
        (re.compile(r"([\.,])([^0-9])"), lambda m: f" {m.group(1)} {m.group(2)}"),
        (re.compile(r"([0-9])(-)"), lambda m: f"{m.group(1)} - "),
    )

    def _tokenize(self, text: str) -> list[str]:
        return self._line(text).split()

    _batch_memoised = True

    def _prepare(self, text: str) -> bytes | None:
        # the string replacements in Python (C-speed str methods); the four rules, the split
        # and the interning compiled (``rewrite_13a``)
        line = self._replaced(text)
        return line.encode("ascii") if line.isascii() else None

    def _compiled_joined(self, raw: bytes, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
        text_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=text_offsets[1:])
        buf = np.frombuffer(raw, dtype=np.uint8)
        out = np.empty(24 * buf.shape[0] + 1, dtype=np.uint8)  # see rewrite_13a
        out_offsets = np.empty(len(lengths) + 1, dtype=np.int64)
        used = rewrite_13a(buf, text_offsets, out, out_offsets, DIGIT, PAD_13A)
        return super()._compiled_joined(out[:used].tobytes(), np.diff(out_offsets).tolist())

    def _spans(self, buf, text_offsets, start, end, counts) -> int:
        return split_spans(buf, text_offsets, start, end, counts, SPACE)

    def _replaced(self, text: str) -> str:
        """The string replacements before the rules, and the surrounding spaces."""
        line = text.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
        if "&" in line:
            line = line.replace("&quot;", '"').replace("&amp;", "&")
            line = line.replace("&lt;", "<").replace("&gt;", ">")
        return f" {line} "

    def _line(self, text: str) -> str:
        line = self._replaced(text).translate(self._PAD)
        for pattern, replacement in self._RULES:
            line = pattern.sub(replacement, line)
        return line


class RougeTokenizer(_CompiledTokenizer):
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

    def _prepare(self, text: str) -> bytes | None:
        # runs of [a-z0-9] in the lowercased text: every other UTF-8 byte is a separator
        return None if self.use_stemmer else text.lower().encode("utf-8", "surrogatepass")

    @property
    def _ascii_is_lower(self) -> bool:  # type: ignore[override]
        return not self.use_stemmer

    def _spans(self, buf, text_offsets, start, end, counts) -> int:
        return alnum_spans(buf, text_offsets, start, end, counts, LOWER_ALNUM)


class DefaultTokenizer(_CompiledTokenizer):
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

    _ascii_is_lower = True

    def _prepare(self, text: str) -> bytes | None:
        lowered = text.lower()
        return lowered.encode("ascii") if lowered.isascii() else None

    def _spans(self, buf, text_offsets, start, end, counts) -> int:
        return default_spans(buf, text_offsets, start, end, counts, ALNUM, SPACE, JOINER, DIGIT)


class WhitespaceTokenizer(_CompiledTokenizer):
    """``str.split()``: what sacrebleu's n-gram extraction and pycocoevalcap's BLEU use.

    Examples:
        >>> WhitespaceTokenizer()(" a\\tb  c ")
        ['a', 'b', 'c']
    """

    name = "whitespace"

    def _tokenize(self, text: str) -> list[str]:
        return text.split()

    _ascii_is_lower = False

    def _prepare(self, text: str) -> bytes | None:
        return text.encode("ascii") if text.isascii() else None

    def _spans(self, buf, text_offsets, start, end, counts) -> int:
        return split_spans(buf, text_offsets, start, end, counts, SPACE)


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


def _stem_uncached(word: str) -> str:
    return _porter().stem(word)


_porter_stem = ByteLRU(_stem_uncached, 8 * 2**20)


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
