"""Shared benchmark helpers: the 590 real pairs, a best-of-N timer, and the reward server
(``himed-rewards serve`` of this checkout) as a loopback subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def pairs() -> tuple[list[str], list[str]]:
    # imported here: tests/conftest.py needs pytest, which the server benchmarks do not
    from conftest import load_iu_pairs

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


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, options: Sequence[str] = (), timeout_s: float = 120) -> subprocess.Popen:
    """``himed-rewards serve --host 127.0.0.1 --port PORT --log-level warning OPTIONS`` of this
    checkout in a subprocess; returns once ``/health`` answers 200 (RuntimeError if the server
    exits first or is not healthy within ``timeout_s``)."""
    import httpx

    code = (
        "import sys, argparse\n"
        "from himed_rewards.cli import serve\n"
        "p = argparse.ArgumentParser(); serve.register(p.add_subparsers())\n"
        "sys.exit(serve.run(p.parse_args(sys.argv[1:])))\n"
    )
    argv = ["serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            *options]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], cwd=ROOT, env=env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not become healthy in {timeout_s:g} s")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM, then kill after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
