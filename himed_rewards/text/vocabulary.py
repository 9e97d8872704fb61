"""The process-wide vocabulary: token strings <-> dense int32 ids.

The vocabulary only grows (ids must stay valid inside cached arrays); a training run that
sees a million distinct tokens holds about a hundred megabytes here, which we accept.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

__all__ = ["Vocabulary", "VOCAB"]

_EMPTY = np.zeros(0, dtype=np.int32)
_EMPTY.setflags(write=False)


class Vocabulary:
    """A thread-safe, append-only map from token strings to dense int32 ids.

    Examples:
        >>> v = Vocabulary()
        >>> v.ids(["no", "effusion", "no"]).tolist()
        [0, 1, 0]
        >>> v.token(1), len(v)
        ('effusion', 2)
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._tokens: list[str] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tokens)

    def id(self, token: str) -> int:
        """The id of ``token``, assigning the next free one on first sight."""
        found = self._ids.get(token)
        if found is not None:
            return found
        with self._lock:  # two threads must not give one token two ids
            found = self._ids.get(token)
            if found is None:
                found = len(self._tokens)
                self._tokens.append(token)
                self._ids[token] = found
            return found

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """A read-only int32 array of the ids of ``tokens``."""
        if not tokens:
            return _EMPTY
        get = self._ids.get
        out = [get(t) for t in tokens]
        if None in out:
            out = [self.id(t) for t in tokens]
        array = np.array(out, dtype=np.int32)
        array.setflags(write=False)
        return array

    def token(self, token_id: int) -> str:
        """The string of an id."""
        return self._tokens[token_id]

    def tokens(self, ids: Sequence[int]) -> list[str]:
        """The strings of many ids."""
        tokens = self._tokens
        return [tokens[int(i)] for i in ids]


VOCAB = Vocabulary()
