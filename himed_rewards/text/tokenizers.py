"""Tokenizers: small named objects that turn a string into a list of tokens.

Every tokenizer has a ``name`` and a ``signature()`` (what goes into a reproducibility
signature), is a pure function of its input, and memoises recent strings in caches bounded
by bytes (``CACHE_BYTES`` each; base classes in :mod:`himed_rewards.text.base`). ``encode_batch`` turns many texts into interned ids at
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
from collections.abc import Callable

import numpy as np

from himed_rewards.kernels.intern_default import (
    NO_MISSES,
    intern_default_segments,
    most_new_tokens,
)
from himed_rewards.kernels.tokenize import (
    DEFAULT_CLASSES,
    DIGIT,
    LOWER_ALNUM,
    NOT_SPACE,
    PAD_13A,
    member_runs,
    rewrite_13a,
)
from himed_rewards.text.base import (
    CACHE_BYTES,
    CompiledTokenizer,
    Tokenizer,
    concat_ids,
)
from himed_rewards.text.cache import ByteLRU
from himed_rewards.text.porter import porter_stem
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


class Tokenizer13a(CompiledTokenizer):
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
        return member_runs(buf, text_offsets, start, end, counts, NOT_SPACE)

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


class RougeTokenizer(CompiledTokenizer):
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
        return member_runs(buf, text_offsets, start, end, counts, LOWER_ALNUM)


class DefaultTokenizer(CompiledTokenizer):
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

    def encode_spans(self, buf: np.ndarray, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interned ids of rows of byte segments, in CSR form: row r of ``spans`` (an int
        array of shape ``(rows, 2 * k)``) holds the (start, end) of its k segments of ``buf``
        (uint8), which must be ASCII and already lowercased (the reward reads report bodies
        in place, inside whole completions: a row is a completion's finding and impression,
        ``rewards.format_batch``); a segment of (-1, -1) is empty.

        Raises:
            ValueError: ``spans`` is not of that shape, or a segment is neither (-1, -1) nor
                inside ``buf``.

        Examples:
            >>> buf = np.frombuffer(b"<b>no effusion.</b><i>clear</i>", dtype=np.uint8)
            >>> ids, offsets = DefaultTokenizer().encode_spans(buf, np.array([[3, 15, 22, 27]]))
            >>> VOCAB.tokens(ids), offsets.tolist()
            (['no', 'effusion', '.', 'clear'], [0, 4])
        """
        buf = np.ascontiguousarray(buf, dtype=np.uint8)
        spans = np.ascontiguousarray(spans, dtype=np.int64)
        if spans.ndim != 2 or spans.shape[1] % 2:
            raise ValueError(f"spans must have shape (rows, 2 * k), got {spans.shape}")
        start, end = spans[:, 0::2], spans[:, 1::2]
        empty = (start == -1) & (end == -1)
        if not (empty | ((start >= 0) & (start <= end) & (end <= buf.shape[0]))).all():
            raise ValueError(f"spans must hold (-1, -1) or segments inside buf "
                             f"(0 <= start <= end <= {buf.shape[0]})")
        return self._intern(buf, spans.reshape(-1), 2, spans.shape[1] // 2, spans.shape[0],
                            int((end - start).sum()))

    def _encode_texts(self, buf: np.ndarray, text_offsets: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        return self._intern(buf, text_offsets, 1, 1, text_offsets.shape[0] - 1, buf.shape[0])

    @staticmethod
    def _intern(buf: np.ndarray, bounds: np.ndarray, stride: int, per_row: int, rows: int,
                size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, offsets)`` of ``intern_default_segments``: ``rows`` rows of ``per_row``
        segments, segment t being ``buf[bounds[t * stride]:bounds[t * stride + 1]]``, checked
        by the caller, ``size`` their bytes in all (the room for ids: not checked here)."""
        ids = np.empty(size, dtype=np.int32)  # at most one token per byte
        offsets = np.empty(rows + 1, dtype=np.int64)
        n, _ = VOCAB.intern_with(intern_default_segments,
                                 (buf, bounds, stride, per_row, ids, offsets, DEFAULT_CLASSES,
                                  False, NO_MISSES), most_new_tokens(size), size)
        return ids[:n], offsets


class WhitespaceTokenizer(CompiledTokenizer):
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
        return member_runs(buf, text_offsets, start, end, counts, NOT_SPACE)


class SpaceTokenizer(Tokenizer):
    """``str.split(" ")``: pycocoevalcap's ROUGE-L, empty tokens included.

    Examples:
        >>> SpaceTokenizer()("a  b")
        ['a', '', 'b']
    """

    name = "space"

    def _tokenize(self, text: str) -> list[str]:
        return text.split(" ")


# rouge-score stems with nltk's PorterStemmer (default NLTK_EXTENSIONS mode): text.porter
_porter_stem = ByteLRU(porter_stem, 8 * 2**20)


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
