"""The SQLite verdict cache: persistence across restarts, WAL, key separation."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from himed_rewards.judge.cache import VerdictCache, cache_key


def test_round_trip_and_persistence_across_reopen(tmp_path):
    path = tmp_path / "sub" / "verdicts.sqlite"
    cache = VerdictCache(path)
    assert cache.journal_mode() == "wal"
    cache.put_many([("k1", (1.0, 0.5, 0.25), "raw1"), ("k2", (0.0, 0.0, 0.0), None)])
    cache.close()

    reopened = VerdictCache(path)
    assert reopened.get_many(["k2", "k1", "missing", "k1"]) == {
        "k1": (1.0, 0.5, 0.25),
        "k2": (0.0, 0.0, 0.0),
    }
    assert len(reopened) == 2
    raw = sqlite3.connect(path).execute("SELECT raw FROM verdicts WHERE key='k1'").fetchone()
    assert raw == ("raw1",)
    reopened.close()


def test_overwrite_and_many_keys_beyond_one_query(tmp_path):
    cache = VerdictCache(tmp_path / "c.sqlite")
    items = [(f"k{i}", (i / 1200, 0.5, 1.0), None) for i in range(1200)]
    cache.put_many(items)
    cache.put_many([("k7", (1.0, 1.0, 1.0), None)])
    got = cache.get_many([k for k, _, _ in items])
    assert len(got) == 1200
    assert got["k7"] == (1.0, 1.0, 1.0)
    assert got["k600"] == (0.5, 0.5, 1.0)
    cache.close()


def test_key_depends_on_every_part():
    base = cache_key("sig", "ref", "cand")
    assert base != cache_key("sig2", "ref", "cand")
    assert base != cache_key("sig", "ref2", "cand")
    assert base != cache_key("sig", "ref", "cand2")
    assert base != cache_key("sig", "cand", "ref")  # order matters
    assert len(base) == 64


def test_thread_safe_writes(tmp_path):
    cache = VerdictCache(tmp_path / "t.sqlite")

    def write(t: int) -> None:
        for i in range(50):
            cache.put_many([(f"{t}-{i}", (0.1, 0.2, 0.3), None)])

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(cache) == 200
    cache.close()


def test_in_memory_cache_and_bad_path():
    cache = VerdictCache(None)
    assert cache.get_many(["x"]) == {}
    cache.put_many([])
    assert len(cache) == 0
    cache.close()
    with pytest.raises(TypeError, match="cache path"):
        VerdictCache(123)  # type: ignore[arg-type]
