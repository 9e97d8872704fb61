"""A least-recently-used memo bounded by bytes, not entries.

Texts vary from a word to megabytes, so an entry bound says nothing about memory: 65,536
cached reports held anywhere from 200 MB to 2.2 GB. This cache charges each entry an estimate
of the bytes its key and value hold and evicts the oldest entries past ``max_bytes``.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

__all__ = ["ByteLRU", "nbytes_of"]

K = TypeVar("K")
V = TypeVar("V")

_ENTRY_OVERHEAD = 120  # an OrderedDict entry and its linked-list node, about


def nbytes_of(value: object) -> int:
    """An estimate of the bytes ``value`` holds: a str, bytes, numpy array, or a tuple, list or
    set of str (counted one level deep, in C: this runs for every cached text).

    Examples:
        >>> nbytes_of(np.zeros(10, dtype=np.int32)) >= 40
        True
        >>> nbytes_of(("ab", "c")) > nbytes_of("ab")
        True
    """
    if isinstance(value, np.ndarray):
        return value.nbytes + 112
    if isinstance(value, (tuple, list, frozenset, set)):
        return sys.getsizeof(value) + sum(map(sys.getsizeof, value))
    return sys.getsizeof(value)


class ByteLRU(Generic[K, V]):
    """Memoise ``func(key)`` for the most recent keys whose estimated size fits ``max_bytes``.

    An entry larger than the whole budget is computed but not kept.

    Examples:
        >>> calls = []
        >>> square = ByteLRU(lambda x: calls.append(x) or x * x, max_bytes=1_000)
        >>> square(3), square(3), calls
        (9, 9, [3])
        >>> square.nbytes <= 1_000
        True
    """

    def __init__(self, func: Callable[[K], V], max_bytes: int) -> None:
        self._func = func
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def __call__(self, key: K) -> V:
        found = self.get(key)
        if found is not None:
            return found
        value = self._func(key)
        self.put(key, value)
        return value

    def get(self, key: K) -> V | None:
        """The cached value of ``key`` (now the most recent), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V) -> None:
        """Cache ``value`` for ``key``, evicting the oldest entries past the budget."""
        entries = self._entries
        size = nbytes_of(key) + nbytes_of(value) + _ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        with self._lock:
            if key not in entries:
                entries[key] = (value, size)
                self.nbytes += size
                while self.nbytes > self.max_bytes:
                    _, (_, old) = entries.popitem(last=False)
                    self.nbytes -= old

    def __len__(self) -> int:
        return len(self._entries)

    def cache_clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self.nbytes = 0
