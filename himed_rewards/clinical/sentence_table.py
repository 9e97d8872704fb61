"""The judge's sentences, numbered by their bytes (the owner of ``kernels/sentence_table.py``).

Append-only, like :class:`~himed_rewards.text.vocabulary.Vocabulary`, whose ``intern_spans``
and ``len`` the record store called, but made for sentences rather than words (why:
``kernels/sentence_table.py``); ``token`` reads one back (tests, debugging). Not thread-safe on its own: the
store's lock (``clinical/encoded.py``) serialises its callers.
"""

from __future__ import annotations

import numpy as np

from himed_rewards.kernels.sentence_table import intern_sentences, rehash_sentences

__all__ = ["SentenceTable"]


class SentenceTable:
    """Byte strings (UTF-8 sentences) to dense ids, 0, 1, 2, ... in order of first sight.

    Examples:
        >>> table = SentenceTable()
        >>> buf = np.frombuffer(b"no effusion.lungs are clear.no effusion.", np.uint8)
        >>> table.intern_spans(buf, np.array([0, 12, 28]), np.array([11, 27, 39])).tolist()
        [0, 1, 0]
        >>> len(table), table.token(1)
        (2, 'lungs are clear')
    """

    def __init__(self) -> None:
        self._n = 0
        self._used = 0
        self._arena = np.zeros(1 << 14, np.uint8)
        self._rows = np.zeros((1 << 9, 2), np.int64)  # id -> (start in the arena, length)
        self._table = np.full((1 << 10, 2), -1, np.int64)  # slot -> (hash, id); id -1: free

    def __len__(self) -> int:
        return self._n

    def _reserve(self, n_new: int, n_bytes: int) -> None:
        """Room for ``n_new`` more sentences holding ``n_bytes`` bytes."""
        need = self._n + n_new
        if need > self._rows.shape[0]:
            rows = np.zeros((max(need, 2 * self._rows.shape[0]), 2), np.int64)
            rows[: self._n] = self._rows[: self._n]
            self._rows = rows
        if self._used + n_bytes > self._arena.shape[0]:
            arena = np.zeros(max(self._used + n_bytes, 2 * self._arena.shape[0]), np.uint8)
            arena[: self._used] = self._arena[: self._used]
            self._arena = arena
        if 2 * need > self._table.shape[0]:  # at most half full
            size = self._table.shape[0]
            while size < 2 * need:
                size *= 2
            table = np.full((size, 2), -1, np.int64)
            rehash_sentences(table, self._table)
            self._table = table

    def intern_spans(self, buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """The ids of ``buf[start[k]:end[k]]`` (uint8 / int64 / int64 arrays), adding new ones."""
        out = np.empty(start.shape[0], np.int64)
        if start.shape[0]:
            self._reserve(start.shape[0], int((end - start).sum()))
            self._n, self._used, _ = intern_sentences(buf, start, end, out, self._arena,
                                                      self._rows, self._table, self._n,
                                                      self._used)
        return out

    def token(self, sentence_id: int) -> str:
        """The text of an id."""
        if not 0 <= sentence_id < self._n:
            raise IndexError(f"sentence_id must be in [0, {self._n}), got {sentence_id}")
        start, length = self._rows[sentence_id].tolist()
        return self._arena[start : start + length].tobytes().decode("utf-8", "surrogatepass")
