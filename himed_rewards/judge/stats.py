"""Counters of one judge, for the server's /metrics and for training logs."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["JudgeStats"]


class JudgeStats:
    """Monotonic counters; ``snapshot()`` gives a JSON-ready copy.

    * ``requests``: HTTP requests sent (retries included);
    * ``retries``: requests that were retries of a failed attempt;
    * ``verdicts``: verdicts returned (one per sample, cache hits and failures included);
    * ``cache_hits``: samples answered from the cache without a request;
    * ``deduplicated``: samples that shared a request with an identical pair in the batch;
    * ``failures``: failed samples by reason code (see ``errors.REASONS``).

    Examples:
        >>> s = JudgeStats()
        >>> s.add(requests=2, verdicts=1)
        >>> s.fail("timeout")
        >>> s.snapshot()["failures"]
        {'timeout': 1}
    """

    _FIELDS = ("requests", "retries", "verdicts", "cache_hits", "deduplicated")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self._FIELDS, 0)
        self._failures: Counter[str] = Counter()

    def add(self, **increments: int) -> None:
        """Add to named counters."""
        with self._lock:
            for name, value in increments.items():
                if name not in self._counts:
                    raise ValueError(f"unknown counter {name!r}; allowed: {self._FIELDS}")
                self._counts[name] += value

    def fail(self, reason: str, count: int = 1) -> None:
        """Count failed samples under a reason code."""
        with self._lock:
            self._failures[reason] += count

    def __getattr__(self, name: str) -> int:
        counts = self.__dict__.get("_counts")
        if counts is not None and name in counts:
            return counts[name]
        raise AttributeError(name)

    @property
    def failures(self) -> dict[str, int]:
        with self._lock:
            return dict(self._failures)

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of every counter."""
        with self._lock:
            return {**self._counts, "failures": dict(self._failures)}

    def __repr__(self) -> str:
        return f"JudgeStats({self.snapshot()})"
