"""The tokenizer base classes: memoised calls, and batches encoded by compiled kernels.

:class:`Tokenizer` memoises recent strings in caches bounded by bytes (``CACHE_BYTES`` each);
:class:`CompiledTokenizer` adds ``encode_batch`` over a kernel of
``himed_rewards.kernels.tokenize``: many texts become interned ids in one call. The named
tokenizers are in :mod:`himed_rewards.text.tokenizers`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate

import numpy as np

from himed_rewards.text.cache import ByteLRU
from himed_rewards.text.vocabulary import VOCAB

__all__ = ["Tokenizer", "CompiledTokenizer", "concat_ids", "offsets_of", "CACHE_BYTES"]

CACHE_BYTES = 32 * 2**20  # per cache; each tokenizer has two (tokens, ids)
_ID_CACHES: weakref.WeakSet[ByteLRU] = weakref.WeakSet()  # every tokenizer's id cache


def _forget_ids() -> None:
    for cache in list(_ID_CACHES):
        cache.cache_clear()


VOCAB.on_recycle(_forget_ids)  # cached id arrays would name forgotten tokens


def offsets_of(lengths: Iterable[int], count: int) -> np.ndarray:
    """CSR offsets (int64, ``count + 1`` of them, from 0) of ``count`` Python-int lengths.

    One pass in C over the running sums; ``np.cumsum`` of a list first builds an array from
    it, a fixed cost that is most of the time on a small batch.

    Examples:
        >>> offsets_of([2, 0, 3], 3).tolist()
        [0, 2, 2, 5]
    """
    return np.fromiter(accumulate(lengths, initial=0), dtype=np.int64, count=count + 1)


def concat_ids(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate id arrays into CSR form: (int32 ids, int64 offsets).

    Examples:
        >>> ids, offsets = concat_ids([np.array([1, 2], dtype=np.int32), np.array([3], dtype=np.int32)])
        >>> ids.tolist(), offsets.tolist()
        ([1, 2, 3], [0, 2, 3])
    """
    offsets = offsets_of(map(len, arrays), len(arrays))
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
            >>> from himed_rewards.text.tokenizers import get_tokenizer
            >>> ids, offsets = get_tokenizer("default").encode_batch(["No effusion.", "Clear"])
            >>> VOCAB.tokens(ids[offsets[0]:offsets[1]]), VOCAB.tokens(ids[offsets[1]:])
            (['no', 'effusion', '.'], ['clear'])
        """
        return concat_ids([self.ids(t) for t in texts])

    def __call__(self, text: str) -> list[str]:
        """Tokenize ``text``.

        Examples:
            >>> from himed_rewards.text.tokenizers import get_tokenizer
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

    def __reduce__(self):  # picklable although it holds caches
        from himed_rewards.text.tokenizers import get_tokenizer

        return (get_tokenizer, (self.signature(),))


class CompiledTokenizer(Tokenizer):
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
        return self._encode_texts(np.frombuffer(raw, dtype=np.uint8),
                                  offsets_of(lengths, len(lengths)))

    def _encode_texts(self, buf: np.ndarray, text_offsets: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The interned ids of the texts ``buf[text_offsets[t]:text_offsets[t + 1]]`` in CSR
        form: ``_spans``, then one interning call (a tokenizer that interns as it finds its
        tokens overrides this)."""
        start = np.empty(buf.shape[0], dtype=np.int64)  # at most one token per byte
        end = np.empty(buf.shape[0], dtype=np.int64)
        counts = np.empty(text_offsets.shape[0] - 1, dtype=np.int64)
        n = self._spans(buf, text_offsets, start, end, counts)
        offsets = np.zeros(text_offsets.shape[0], dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return VOCAB.intern_spans(buf, start[:n], end[:n]), offsets

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
