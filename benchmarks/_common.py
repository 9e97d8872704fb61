"""Shared benchmark helpers: the 590 real pairs and a best-of-N timer."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import load_iu_pairs  # noqa: E402


def pairs() -> tuple[list[str], list[str]]:
    _, hyps, refs = load_iu_pairs()
    return hyps, refs


def per_pair_us(func, n_pairs: int, repeats: int = 5) -> float:
    """Best of ``repeats`` runs of ``func()``, in microseconds per pair."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best / n_pairs * 1e6


def cold_cost(statement: str, cache_dir: str | None) -> float:
    """Seconds for a fresh interpreter to import and run ``statement`` once."""
    import os
    import subprocess

    env = dict(os.environ)
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def cold_costs(statement: str) -> tuple[float, float]:
    """``cold_cost`` with a fresh, empty numba cache, then again with that cache warm."""
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        return cold_cost(statement, cache), cold_cost(statement, cache)
