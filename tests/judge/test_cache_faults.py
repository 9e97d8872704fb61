"""A broken verdict cache degrades to no cache with a warning; it never takes the reward down.

Each failure is real: a garbage or truncated file, a read-only file system, a full disk (a
tiny tmpfs when this process may mount one, else SQLite's own page limit, which raises the
same SQLITE_FULL), a write lock held by a second process, and use after ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from himed_rewards.judge import LLMJudge
from himed_rewards.judge.cache import VerdictCache

PAIRS = (["No effusion.", "Clear lungs.", "Small effusion."], ["Effusion.", "Clear.", "Clear."])
REPO = Path(__file__).resolve().parents[2]


def _judge(url: str, path: Path, **kwargs) -> LLMJudge:
    return LLMJudge(url, "m", timeout=5.0, max_retries=0, cache_path=path, **kwargs)


def _all_ok(verdicts) -> bool:
    return len(verdicts) == len(PAIRS[0]) and all(v.ok for v in verdicts)


def _filled_cache(path: Path, rows: int = 2000) -> None:
    cache = VerdictCache(path)
    cache.put_many((f"key-{i}", (0.5, 0.5, 0.5), "x" * 200) for i in range(rows))
    cache.close()
    conn = sqlite3.connect(path)  # fold the WAL into the main file, as after a clean exit
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    """Mount a tmpfs of ``size`` at ``path``, or skip when this process may not."""
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_garbage_file_warns_and_the_judge_scores_without_cache(llm_server, tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(RuntimeWarning, match="cannot open the verdict cache"):
        judge = _judge(llm_server.url, path)
    with judge:
        assert _all_ok(judge.score_batch(*PAIRS))
        assert judge._cache.disabled and len(judge._cache) == 0


def test_truncated_file_warns_and_never_escapes(llm_server, tmp_path):
    path = tmp_path / "cache.sqlite"
    _filled_cache(path)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _judge(llm_server.url, path) as judge:
            assert _all_ok(judge.score_batch(*PAIRS))
            assert judge._cache.get_many([f"key-{i}" for i in range(2000)]) == {}
    assert any("verdict cache" in str(w.message) for w in caught)


def test_worker_that_unpickles_a_judge_over_a_corrupt_cache_still_scores(llm_server, tmp_path):
    path = tmp_path / "cache.sqlite"
    judge = _judge(llm_server.url, path)
    blob = pickle.dumps(judge)
    judge.close()
    path.write_bytes(b"\x00garbage" * 512)  # corrupted between pickling and the worker
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    worker = textwrap.dedent(
        """
        import pickle, sys, warnings
        warnings.simplefilter("always")
        judge = pickle.loads(sys.stdin.buffer.read())
        verdicts = judge.score_batch(["No effusion."], ["Effusion."])
        print("OK" if verdicts[0].ok else "FAILED", judge._cache.disabled is not None)
        judge.close()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", worker], input=blob, capture_output=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["OK", "True"]
    assert b"RuntimeWarning" in done.stderr


def test_read_only_cache_file_warns_and_scores(llm_server, tmp_path):
    with _tmpfs(tmp_path / "ro", "4m") as mount:
        path = mount / "cache.sqlite"
        _filled_cache(path, rows=10)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        with pytest.raises(OSError):
            (mount / "probe").write_text("x")  # really read-only, even for root
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _judge(llm_server.url, path) as judge:
                assert _all_ok(judge.score_batch(*PAIRS))
        assert any("verdict cache" in str(w.message) for w in caught)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions"
)
def test_read_only_permissions_warn_and_score(llm_server, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "cache.sqlite"
    _filled_cache(path, rows=10)
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _judge(llm_server.url, path) as judge:
                assert _all_ok(judge.score_batch(*PAIRS))
        assert any("verdict cache" in str(w.message) for w in caught)
    finally:
        folder.chmod(0o755)


def test_disk_full_on_a_tiny_tmpfs(llm_server, tmp_path):
    with _tmpfs(tmp_path / "full", "96k") as mount:
        path = mount / "cache.sqlite"
        llm_server.default = llm_server.ok(llm_server.verdict_json(evidence_size=3000))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _judge(llm_server.url, path) as judge:
                for batch in range(12):  # ~3 KB per verdict: the file system fills up
                    refs = [f"reference {batch}-{i}" for i in range(8)]
                    verdicts = judge.score_batch(["No effusion."] * 8, refs)
                    assert all(v.ok for v in verdicts)
                assert judge._cache.disabled and "full" in judge._cache.disabled
        assert any("continuing without a verdict cache" in str(w.message) for w in caught)


def test_disk_full_through_sqlite_page_limit(llm_server, tmp_path):
    # SQLite's max_page_count makes the real SQLITE_FULL error wherever tmpfs is unavailable.
    path = tmp_path / "cache.sqlite"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _judge(llm_server.url, path) as judge:
            conn = judge._cache._conn
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
            llm_server.default = llm_server.ok(llm_server.verdict_json(evidence_size=5000))
            assert _all_ok(judge.score_batch(*PAIRS))
            assert "full" in judge._cache.disabled
            assert _all_ok(judge.score_batch(*PAIRS))  # and on, without a cache
    assert sum("continuing without" in str(w.message) for w in caught) == 1


def test_lock_held_by_another_process_costs_seconds_not_the_batch(llm_server, tmp_path):
    path = tmp_path / "cache.sqlite"
    VerdictCache(path).close()  # create it (WAL) first
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "c.execute(\"INSERT INTO verdicts VALUES ('held', 0, 0, 0, NULL, 0)\")\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _judge(llm_server.url, path) as judge:
                start = time.monotonic()
                verdicts = judge.score_batch(*PAIRS)
                elapsed = time.monotonic() - start
                assert _all_ok(verdicts)
                assert elapsed < 10.0  # busy_timeout (2 s), not SQLite's old 30 s
                assert judge._cache.disabled is None  # a lock is transient: cache stays on
        assert any("locked by another process" in str(w.message) for w in caught)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_use_after_close_reopens_the_cache(llm_server, tmp_path):
    path = tmp_path / "cache.sqlite"
    judge = _judge(llm_server.url, path)
    assert _all_ok(judge.score_batch(*PAIRS))
    judge.close()
    assert _all_ok(judge.score_batch(*PAIRS))  # used again after close()
    assert judge.stats.snapshot()["cache_hits"] == 3
    judge.close()
    cache = VerdictCache(path)
    cache.close()
    assert cache.get_many(["anything"]) == {}
    cache.put_many([("k", (1.0, 1.0, 1.0), None)])  # a no-op, not an error
    assert len(cache) == 0


def test_busy_timeout_is_validated():
    with pytest.raises(ValueError, match="busy_timeout"):
        VerdictCache(None, busy_timeout=-1)
