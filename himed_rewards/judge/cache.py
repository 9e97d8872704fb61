"""A persistent verdict cache in SQLite (stdlib ``sqlite3``, WAL journal).

GRPO samples several completions per prompt and often repeats one, and a restarted run
re-grades the same pairs: both should cost no LLM call. The key is a SHA-256 of
``(judge signature, reference, candidate)``; the signature holds the model and the prompt
version (and every other setting that changes a number), so a new prompt never reads an
old verdict. Only successful verdicts are stored: a failure is retried next time.

A cache is an optimisation, never a dependency: every SQLite or file-system failure (a
corrupt, truncated or read-only file, a full disk, a database locked by another process
for longer than ``busy_timeout``, use after ``close()``) is reported once with a
``RuntimeWarning`` and the operation behaves as a miss (``get_many``) or a no-op
(``put_many``). A lock is transient, so only that operation is skipped; any other failure
switches the cache off for the rest of the process (``cache.disabled`` says why).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Sequence

__all__ = ["VerdictCache", "cache_key", "DEFAULT_BUSY_TIMEOUT"]

#: Seconds a cache operation waits for a lock held by another process before it is skipped.
#: Short on purpose: a miss costs one judge request, a long wait stalls the whole batch.
DEFAULT_BUSY_TIMEOUT = 2.0

# What a broken cache can raise: sqlite3.Error covers corrupt files, SQLITE_FULL, locks and a
# closed connection; OSError covers the directory or file itself.
_CACHE_ERRORS = (sqlite3.Error, OSError)

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

    ``path=None`` keeps the cache in memory for this process only. A cache that cannot be
    opened or used degrades to no cache with a ``RuntimeWarning`` (see the module docstring);
    it never raises for a file-system or SQLite failure.

    Examples:
        >>> cache = VerdictCache(None)
        >>> cache.put_many([("k1", (1.0, 0.5, 0.0), '{"raw": 1}')])
        >>> cache.get_many(["k1", "k2"])
        {'k1': (1.0, 0.5, 0.0)}
        >>> len(cache)
        1
        >>> cache.close()
        >>> cache.get_many(["k1"])  # a closed cache is no cache
        {}
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"cache path must be a str, a path or None, got {path!r}")
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, (int, float)) or not (
            0 <= busy_timeout < float("inf")
        ):
            raise ValueError(f"busy_timeout must be a finite number >= 0, got {busy_timeout!r}")
        self.path = None if path is None else os.fspath(path)
        self.busy_timeout = float(busy_timeout)
        #: Why the cache is off (``None`` while it works); set once, never cleared.
        self.disabled: str | None = None
        self._warned: set[str] = set()
        # The judge's event loop lives in its own thread; a lock serialises access.
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            self._conn = self._open()
        except _CACHE_ERRORS as exc:
            self._disable(f"cannot open the verdict cache {self.path!r}", exc)

    def _open(self) -> sqlite3.Connection:
        if self.path is not None:
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
        conn = sqlite3.connect(
            self.path or ":memory:",
            check_same_thread=False,
            isolation_level=None,
            timeout=self.busy_timeout,
        )
        try:
            if self.path is not None:
                # WAL: readers never block the writer, and several processes (e.g.
                # data-parallel trainers) can share one file.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            # Read one row now, so a corrupt or truncated file fails here, not mid-training.
            conn.execute("SELECT key FROM verdicts LIMIT 1").fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self._warned:  # once per kind: a broken cache must not flood the log
            self._warned.add(kind)
            warnings.warn(message, RuntimeWarning, stacklevel=4)

    def _disable(self, what: str, exc: BaseException) -> None:
        """Switch the cache off for good (caller holds the lock, or is the constructor)."""
        if self.disabled is None:
            self.disabled = f"{what}: {type(exc).__name__}: {exc}"
            self._warn("disabled", f"{self.disabled}; continuing without a verdict cache")
        if self._conn is not None:
            with contextlib.suppress(*_CACHE_ERRORS):  # closing a broken connection
                self._conn.close()
            self._conn = None

    def _failed(self, operation: str, exc: BaseException) -> None:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
            # Another process holds the lock past busy_timeout: skip this operation only.
            self._warn(
                "locked",
                f"verdict cache {self.path!r} is locked by another process; "
                f"{operation} skipped after {self.busy_timeout} s (further skips not reported)",
            )
            return
        self._disable(f"verdict cache {self.path!r} failed in {operation}", exc)

    def get_many(self, keys: Sequence[str]) -> dict[str, Axes]:
        """The stored axes for the keys that are present (none if the cache is off)."""
        found: dict[str, Axes] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            if self._conn is None:
                return found
            try:
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
            except _CACHE_ERRORS as exc:
                self._failed("get_many", exc)
                return {}
        return found

    def put_many(self, items: Iterable[tuple[str, Axes, str | None]]) -> None:
        """Store ``(key, axes, raw_reply)`` triples; an existing key is overwritten.

        A failure (disk full, lock, ...) stores nothing and is reported as a warning."""
        now = time.time()
        rows = [(k, a[0], a[1], a[2], raw, now) for k, a, raw in items]
        if not rows:
            return
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except _CACHE_ERRORS as exc:
                self._failed("put_many", exc)
                return
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", rows
                )
                self._conn.execute("COMMIT")
            except _CACHE_ERRORS as exc:
                # SQLite may already have rolled back (SQLITE_FULL does).
                with contextlib.suppress(*_CACHE_ERRORS):
                    self._conn.execute("ROLLBACK")
                self._failed("put_many", exc)

    def journal_mode(self) -> str:
        """SQLite's journal mode (``wal`` for a file, ``memory`` in memory, ``off`` when the
        cache is off)."""
        with self._lock:
            if self._conn is None:
                return "off"
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    def __len__(self) -> int:
        with self._lock:
            if self._conn is None:
                return 0
            try:
                return int(self._conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
            except _CACHE_ERRORS as exc:
                self._failed("len", exc)
                return 0

    @property
    def closed(self) -> bool:
        """True once ``close()`` ran or the cache switched itself off."""
        return self._conn is None

    def close(self) -> None:
        """Close the connection (idempotent); afterwards the cache behaves as empty."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(*_CACHE_ERRORS):
                    self._conn.close()
                self._conn = None
