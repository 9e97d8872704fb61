"""Shared benchmark helpers: the 590 real pairs, a best-of-N timer, and the reward server
(``himed-rewards serve`` of this checkout) as a loopback subprocess."""

from __future__ import annotations

import gc
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


def timed(func, *args, clock=time.process_time) -> float:
    """Seconds of ``clock`` for ``func(*args)``; by default CPU seconds of this process:
    other jobs on a shared machine slow the wall clock of both sides unevenly, but not the CPU
    time each side needs. A garbage collection first, so that one side's garbage is not
    collected on the other's time."""
    gc.collect()
    start = clock()
    func(*args)
    return clock() - start


def per_pair_us(func, n_pairs: int, repeats: int = 5) -> float:
    """Best of ``repeats`` runs of ``func()``, in CPU microseconds per pair (CPU time of this
    process: other jobs on a shared machine move the wall clock, not this)."""
    import gc

    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        func()
        best = min(best, time.process_time() - start)
    return best / n_pairs * 1e6


def cold_cost(statement: str, cache_dir: str | None) -> float:
    """CPU seconds (user + system) a fresh interpreter spends to start, import and run
    ``statement`` once: on a shared machine the wall clock adds other jobs' time.

    The precompile helper is off and the first call compiles (``HIMED_REWARDS_INTERPRET=0``),
    so that an empty cache's figure is the whole compile work done in one process
    (``bench_cold.py`` measures the helper's share and the interpreter tier, which spares a
    first call that work, separately)."""
    import resource

    env = dict(os.environ)
    env["HIMED_REWARDS_COMPILE_HELPERS"] = "0"
    env["HIMED_REWARDS_INTERPRET"] = "0"
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", statement], env=env, capture_output=True, text=True,
                   check=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cold_costs(statement: str) -> tuple[float, float]:
    """``cold_cost`` with a fresh, empty numba cache, then again with that cache warm."""
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        return cold_cost(statement, cache), cold_cost(statement, cache)


def sentence_pool() -> list[str]:
    """Every sentence of the 1,180 real reports (predictions and references), in order."""
    import re

    hyps, refs = pairs()
    split = re.compile(r"(?<=\.)\s+")
    return [s for text in hyps + refs for s in split.split(text.strip()) if s]


class FreshText:
    """Reports never produced before in this process: real sentences recombined at random.

    Each report is 3-7 sentences drawn from the real pool, with now and then a measurement
    ("measuring 2.7 cm") or a misspelt word, the kinds of novelty a policy's samples bring;
    every report is checked against all earlier ones, so none repeats and no cache hits.
    The vocabulary reaches a steady state, as in training: most words recur, a few are new.
    A completion's reasoning is 60 characters of a report, or with ``reasoning_words``, that
    many words of fresh reports (a policy that reasons at length before its report).
    """

    def __init__(self, seed: int = 0, new_word_per_sentence: bool = False,
                 reasoning_words: int = 0) -> None:
        import random

        self._reasoning_words = reasoning_words
        self._rng = random.Random(seed)
        self._pool = sentence_pool()
        self._seen: set[str] = set()
        # Worst case for a cache: every sentence also gets a word never seen before
        # ("zqab", "zqac", ...: letters only, so it is one word token) at a random place.
        self._new_words = 0 if new_word_per_sentence else None

    def _new_word(self, sentence: str) -> str:
        self._new_words += 1
        k, tag = self._new_words, ""
        while k:
            k, digit = divmod(k, 26)
            tag += chr(97 + digit)
        words = sentence.split()
        words.insert(self._rng.randrange(len(words) + 1), "zq" + tag)
        return " ".join(words)

    def _mutate(self, sentence: str) -> str:
        if self._new_words is not None:
            sentence = self._new_word(sentence)
        rng = self._rng
        roll = rng.random()
        if roll < 0.15:
            return sentence.rstrip(".") + f" measuring {rng.randint(1, 9)}.{rng.randint(0, 9)} cm."
        if roll < 0.25:
            words = sentence.split()
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 3:  # swap two inner letters: a typo the vocabulary has not seen
                j = rng.randrange(1, len(w) - 2)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
            return " ".join(words)
        return sentence

    def report(self) -> str:
        rng = self._rng
        while True:
            k = rng.randint(3, 7)
            text = " ".join(self._mutate(rng.choice(self._pool)) for _ in range(k))
            if text not in self._seen:
                self._seen.add(text)
                return text

    def _reasoning(self) -> str:
        if not self._reasoning_words:
            return self.report()[:60]
        words: list[str] = []
        while len(words) < self._reasoning_words:
            words += self.report().split()
        return " ".join(words[:self._reasoning_words])

    def completion(self) -> str:
        return f"<think>{self._reasoning()}</think><finding>{self.report()}</finding>" \
               "<impression>No acute cardiopulmonary process.</impression>"

    def grpo_batch(self, n_refs: int = 32, group: int = 16) -> tuple[list[str], list[str]]:
        """``n_refs`` fresh references, each with ``group`` fresh completions (GRPO's shape)."""
        refs = [self.report() for _ in range(n_refs)]
        return [self.completion() for _ in range(n_refs * group)], [r for r in refs for _ in range(group)]

    def distinct_batch(self, n: int = 512) -> tuple[list[str], list[str]]:
        """``n`` pairs, every completion and every reference fresh."""
        return [self.completion() for _ in range(n)], [self.report() for _ in range(n)]


def finding_of(completion: str) -> str:
    """The ``<finding>`` text of a completion made by :class:`FreshText` (what anchors score)."""
    return completion.split("<finding>", 1)[1].split("</finding>", 1)[0]


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
