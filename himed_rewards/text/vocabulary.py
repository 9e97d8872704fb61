"""The process-wide vocabulary: token strings <-> dense int32 ids.

The state lives in a few numpy arrays (see ``himed_rewards.kernels.intern``): each distinct
token costs its UTF-8 bytes plus about 40 bytes of bookkeeping, with no Python object per
token, and compiled tokenizers intern whole batches of text in one kernel call
(:meth:`Vocabulary.intern_spans`).

Memory stays bounded over a multi-day run by *recycling*: when the vocabulary holds more than
``max_tokens`` tokens at the start of a reward call (:meth:`Vocabulary.session`) and no other
call is in flight, it forgets every token past its pinned prefix (the tokens that long-lived
tables, such as the keyword trie, hold ids of; see :meth:`Vocabulary.pin`) and tells the
holders of id-indexed caches to drop them (:meth:`Vocabulary.on_recycle`). Ids are stable
between recycles, and never change inside a call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np

from himed_rewards.kernels.intern import intern_spans, rebuild_table

__all__ = ["Vocabulary", "VOCAB", "utf8_spans", "MAX_TOKENS"]

MAX_TOKENS = 500_000  # distinct tokens before a recycle (see bench_memory.py for the cost)

T = TypeVar("T")

_EMPTY = np.zeros(0, dtype=np.int32)
_EMPTY.setflags(write=False)


def utf8_spans(tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``tokens`` as one uint8 buffer plus int64 start and end offsets per token.

    Lone surrogates (possible in a Python ``str``) are kept (``surrogatepass``), so distinct
    strings always have distinct bytes.

    Examples:
        >>> buf, start, end = utf8_spans(["no", "", "é"])
        >>> bytes(buf), start.tolist(), end.tolist()
        (b'no\\xc3\\xa9', [0, 2, 2], [2, 2, 4])
    """
    encoded = [t.encode("utf-8", "surrogatepass") for t in tokens]
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    end = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
    start = end - np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    return buf, start, end


class Vocabulary:
    """A thread-safe, append-only map from token strings to dense int32 ids.

    Examples:
        >>> v = Vocabulary()
        >>> v.ids(["no", "effusion", "no"]).tolist()
        [0, 1, 0]
        >>> v.token(1), len(v)
        ('effusion', 2)
    """

    def __init__(self, max_tokens: int | None = None) -> None:
        self._lock = threading.Lock()
        self.max_tokens = max_tokens
        self.generation = 0
        self._pinned = 0
        self._active = 0
        self._listeners: list[Callable[[], None]] = []
        self._n = 0
        self._used = 0
        self._arena = np.zeros(1 << 12, dtype=np.uint8)
        self._start = np.zeros(1 << 9, dtype=np.int64)
        self._len = np.zeros(1 << 9, dtype=np.int32)
        self._hash = np.zeros(1 << 9, dtype=np.uint64)
        self._word = np.zeros(1 << 9, dtype=np.uint64)
        self._table = np.full(1 << 10, -1, dtype=np.int32)

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes held by the vocabulary's arrays (its whole memory, give or take a few objects)."""
        return sum(a.nbytes for a in (self._arena, self._start, self._len, self._hash, self._word,
                                      self._table))

    def _reserve(self, n_new: int, n_bytes: int) -> None:
        """Room for ``n_new`` more tokens holding ``n_bytes`` bytes (called under the lock)."""
        need = self._n + n_new
        if need > self._start.shape[0]:
            size = max(need, 2 * self._start.shape[0])
            for name in ("_start", "_len", "_hash", "_word"):
                old = getattr(self, name)
                new = np.zeros(size, dtype=old.dtype)
                new[: self._n] = old[: self._n]
                setattr(self, name, new)
        if self._used + n_bytes > self._arena.shape[0]:
            new = np.zeros(max(self._used + n_bytes, 2 * self._arena.shape[0]), dtype=np.uint8)
            new[: self._used] = self._arena[: self._used]
            self._arena = new  # readers holding the old arena still read valid old tokens
        if 2 * need > self._table.shape[0]:  # keep the table at most half full
            size = self._table.shape[0]
            while size < 2 * need:
                size *= 2
            table = np.full(size, -1, dtype=np.int32)
            rebuild_table(table, self._hash, self._n)
            self._table = table

    def intern_spans(self, buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """The ids of the byte strings ``buf[start[k]:end[k]]`` (uint8 / int64 / int64 arrays).

        The bytes must be UTF-8 (they decode back with :meth:`token`).

        Examples:
            >>> v = Vocabulary()
            >>> buf = np.frombuffer(b"no effusion no", dtype=np.uint8)
            >>> v.intern_spans(buf, np.array([0, 3, 12]), np.array([2, 11, 14])).tolist()
            [0, 1, 0]
        """
        if start.shape[0] == 0:
            return np.empty(0, dtype=np.int32)
        with self._lock:  # two threads must not give one token two ids
            return self.intern_held(buf, start, end)

    def intern_with(self, kernel: Callable[..., tuple[T, int, int]], args: tuple,
                    max_new: int, max_bytes: int) -> T:
        """Run a kernel that interns as it goes (``kernel(*args, arena, tok_start, tok_len,
        tok_hash, tok_word, table, n_tokens, used) -> (result, n_tokens, used)``, adding
        tokens as :func:`~himed_rewards.kernels.intern.intern_spans` does) under the lock,
        with room for ``max_new`` new tokens of ``max_bytes`` bytes in all; returns its
        ``result``. How a tokenizer interns its tokens as it finds them
        (``kernels.intern_default``).

        Examples:
            >>> from himed_rewards.kernels.intern_default import intern_default_segments
            >>> from himed_rewards.kernels.tokenize import DEFAULT_CLASSES
            >>> v = Vocabulary()
            >>> buf = np.frombuffer(b"no effusion, no", dtype=np.uint8)
            >>> ids, offsets = np.empty(15, np.int32), np.empty(2, np.int64)
            >>> text_offsets = np.array([0, 15])  # one text, the whole buffer
            >>> no_misses = np.empty((3, 0), np.int64)  # (not read-only: every token added)
            >>> n, _ = v.intern_with(intern_default_segments,
            ...                      (buf, text_offsets, 1, 1, ids, offsets, DEFAULT_CLASSES, False,
            ...                       no_misses), 15, 15)
            >>> v.tokens(ids[:n]), offsets.tolist()
            (['no', 'effusion', ',', 'no'], [0, 4])
        """
        with self._lock:
            return self.intern_held_with(kernel, args, max_new, max_bytes)

    def intern_held_with(self, kernel: Callable[..., tuple[T, int, int]], args: tuple,
                         max_new: int, max_bytes: int) -> T:
        """:meth:`intern_with` inside :meth:`frozen` (whose lock this caller holds)."""
        self._reserve(max_new, max_bytes)
        result, self._n, self._used = kernel(
            *args, self._arena, self._start, self._len, self._hash, self._word, self._table,
            self._n, self._used,
        )
        return result

    def frozen(self) -> _Frozen:
        """Hold the vocabulary still: ``with vocabulary.frozen() as tables:`` gives the arrays
        a read-only look-up kernel takes (``(arena, tok_start, tok_len, tok_hash, tok_word,
        table)``, as :meth:`intern_with` passes them), under the lock, so that several
        threads may read them at once while no other caller adds a token; then
        :meth:`intern_held` adds what they did not find (which may replace the arrays).

        Examples:
            >>> v = Vocabulary()
            >>> _ = v.ids(["no"])
            >>> buf = np.frombuffer(b"no effusion", dtype=np.uint8)
            >>> with v.frozen() as tables:
            ...     new = v.intern_held(buf, np.array([3]), np.array([11]))
            >>> new.tolist(), len(tables)
            ([1], 6)
        """
        return _Frozen(self)

    def intern_held(self, buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """:meth:`intern_spans` inside :meth:`frozen` (whose lock this caller holds)."""
        out = np.empty(start.shape[0], dtype=np.int32)
        if start.shape[0]:
            self._reserve(start.shape[0], int((end - start).sum()))
            self._n, self._used = intern_spans(
                buf, start, end, out, self._arena, self._start, self._len, self._hash,
                self._word, self._table, self._n, self._used,
            )
        return out

    def pin(self, ids: np.ndarray) -> None:
        """Keep ``ids`` (and every smaller id) valid through recycles: call it for ids that a
        long-lived table holds."""
        if len(ids):
            with self._lock:
                self._pinned = max(self._pinned, int(np.max(ids)) + 1)

    def on_recycle(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (under the vocabulary's lock) after every recycle."""
        with self._lock:
            self._listeners.append(callback)

    def session(self) -> Vocabulary:
        """A reward call: ids stay valid inside; a recycle may happen on entry (see above).

        Examples:
            >>> v = Vocabulary(max_tokens=2)
            >>> _ = v.ids(["a", "b", "c"])
            >>> with v.session():
            ...     len(v), v.generation
            (0, 1)
        """
        # (the vocabulary is its own session's context manager: no object made per call, and
        # no contextlib generator, a few times more Python to run on every reward call)
        return self

    def __enter__(self) -> None:
        with self._lock:
            if self._active == 0 and self.max_tokens is not None and self._n > self.max_tokens:
                self._recycle()
            self._active += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1

    def _recycle(self) -> None:
        """Forget the tokens past the pinned prefix (called under the lock, no call active)."""
        keep = self._pinned
        self._used = int(self._start[keep - 1] + self._len[keep - 1]) if keep else 0
        self._n = keep
        table = np.full(self._table.shape[0], -1, dtype=np.int32)
        rebuild_table(table, self._hash, keep)
        self._table = table
        self.generation += 1
        for callback in self._listeners:
            callback()

    def id(self, token: str) -> int:
        """The id of ``token``, assigning the next free one on first sight."""
        return int(self.ids([token])[0])

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """A read-only int32 array of the ids of ``tokens``."""
        if not tokens:
            return _EMPTY
        array = self.intern_spans(*utf8_spans(tokens))
        array.setflags(write=False)
        return array

    def token(self, token_id: int) -> str:
        """The string of an id."""
        token_id = int(token_id)
        if not 0 <= token_id < self._n:
            raise IndexError(f"token_id must be in [0, {self._n}), got {token_id}")
        start = int(self._start[token_id])
        raw = self._arena[start : start + int(self._len[token_id])]
        return raw.tobytes().decode("utf-8", "surrogatepass")

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """The strings of many ids."""
        return [self.token(i) for i in ids]


class _Frozen:
    """:meth:`Vocabulary.frozen`'s context (a class: no contextlib generator per call)."""

    __slots__ = ("_vocabulary",)

    def __init__(self, vocabulary: Vocabulary) -> None:
        self._vocabulary = vocabulary

    def __enter__(self) -> tuple[np.ndarray, ...]:
        v = self._vocabulary
        v._lock.acquire()
        return v._arena, v._start, v._len, v._hash, v._word, v._table

    def __exit__(self, *exc: object) -> None:
        self._vocabulary._lock.release()


VOCAB = Vocabulary(max_tokens=MAX_TOKENS)
