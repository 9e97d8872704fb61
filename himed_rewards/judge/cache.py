"""A persistent verdict cache in SQLite (stdlib ``sqlite3``, WAL journal).

GRPO samples several completions per prompt and often repeats one, and a restarted run
re-grades the same pairs: both should cost no LLM call. The key is a SHA-256 of
``(judge signature, reference, candidate)``; the signature holds the model and the prompt
version (and every other setting that changes a number), so a new prompt never reads an
old verdict. Only successful verdicts are stored: a failure is retried next time.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence

__all__ = ["VerdictCache", "cache_key"]

Axes = tuple[float, float, float]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    accuracy REAL NOT NULL,
    relevance REAL NOT NULL,
    completeness REAL NOT NULL,
    raw TEXT,
    created REAL NOT NULL
)
"""


def cache_key(signature: str, reference: str, candidate: str) -> str:
    """A stable hex key for one graded pair under one judge configuration.

    Length-prefixing each part keeps ``("ab", "c")`` and ``("a", "bc")`` apart.

    Examples:
        >>> cache_key("sig", "ref", "cand") == cache_key("sig", "ref", "cand")
        True
        >>> cache_key("sig", "ab", "c") == cache_key("sig", "a", "bc")
        False
    """
    h = hashlib.sha256()
    for part in (signature, reference, candidate):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


class VerdictCache:
    """Key -> ``(accuracy, relevance, completeness)``; thread-safe, one connection.

    ``path=None`` keeps the cache in memory for this process only.

    Examples:
        >>> cache = VerdictCache(None)
        >>> cache.put_many([("k1", (1.0, 0.5, 0.0), '{"raw": 1}')])
        >>> cache.get_many(["k1", "k2"])
        {'k1': (1.0, 0.5, 0.0)}
        >>> len(cache)
        1
        >>> cache.close()
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"cache path must be a str, a path or None, got {path!r}")
        self.path = None if path is None else os.fspath(path)
        if self.path is not None:
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
        # The judge's event loop lives in its own thread; a lock serialises access.
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path or ":memory:", check_same_thread=False, isolation_level=None, timeout=30.0
        )
        if self.path is not None:
            # WAL: readers never block the writer, and several processes (e.g. data-parallel
            # trainers) can share one file.
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)

    def get_many(self, keys: Sequence[str]) -> dict[str, Axes]:
        """The stored axes for the keys that are present."""
        found: dict[str, Axes] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            # 500 keys per query stays under SQLite's bound-parameter limit everywhere.
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, accuracy, relevance, completeness FROM verdicts "
                    f"WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for key, acc, rel, comp in rows:
                    found[key] = (acc, rel, comp)
        return found

    def put_many(self, items: Iterable[tuple[str, Axes, str | None]]) -> None:
        """Store ``(key, axes, raw_reply)`` triples; an existing key is overwritten."""
        now = time.time()
        rows = [(k, a[0], a[1], a[2], raw, now) for k, a, raw in items]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", rows
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def journal_mode(self) -> str:
        """SQLite's journal mode (``wal`` for a file, ``memory`` in memory)."""
        with self._lock:
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()
