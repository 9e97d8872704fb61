"""Score one big batch on several cores: :class:`ParallelScorer`.

Within one process only the low-level reward's kernel runs on several threads
(``rewards.threads``); the rest of the reward (parsing, tokenizing, the offline clinical
judge's Python) holds the GIL, so worker processes share a batch further. A
:class:`ParallelScorer` keeps ``workers - 1`` warm worker processes for one
:class:`~himed_rewards.RewardConfig`; each call splits the batch into up to ``workers`` contiguous
chunks, cut between GRPO groups (runs of equal references), scores the first chunk in the
calling process while the workers score the others, and returns the same
:class:`~himed_rewards.RewardBreakdown` list, in order and bit for bit, as
:func:`~himed_rewards.score_batch`.

* Workers are fresh interpreters (``python -m himed_rewards.rewards._worker``): never forks of
  a training process that holds CUDA contexts, and, unlike multiprocessing's ``spawn``, they
  do not re-import the caller's ``__main__`` (a training script and its torch stay out). Each
  loads the kernels (from the numba cache) and the judge's tables once, at start.
* Batches under ``min_pairs`` are scored in the calling process: below that size the
  round trip costs more than the second core saves (:data:`MIN_PAIRS` when the workers run
  the offline judge, :data:`MIN_PAIRS_LOW_LEVEL` when they compute the low-level reward
  alone, both measured in ``benchmarks/bench_parallel.py``); no chunk is smaller than
  ``min_pairs / 2``, so a mid-sized batch uses fewer processes than there are.
* The offline clinical judge runs in the workers with the rest. Any other semantic scorer
  (an :class:`~himed_rewards.judge.LLMJudge`: I/O bound, with its own concurrency and
  connections) runs once for the whole batch in the calling process, on a helper thread,
  while the processes compute the other levels; ``semantic_in_workers`` overrides this.
* A worker that dies or does not answer within ``timeout_s`` is killed and replaced, and its
  chunk goes to another worker; a chunk that fails ``retries + 1`` times raises
  :class:`WorkerError`. A call never waits longer than about ``(retries + 1) *
  (start_timeout_s + timeout_s)``.
* :meth:`ParallelScorer.close` (or leaving the ``with`` block, or interpreter exit) stops the
  workers; a worker whose parent dies sees its socket close and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import subprocess
import sys
import threading
import time
import weakref
from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from multiprocessing.connection import wait
from typing import NamedTuple

from himed_rewards.rewards import compose
from himed_rewards.rewards._processes import start_helper
from himed_rewards.rewards.breakdown import RewardBreakdown
from himed_rewards.rewards.config import RewardConfig
from himed_rewards.rewards.format_batch import parse_completions
from himed_rewards.rewards.schedule import check_step
from himed_rewards.rewards.threads import one_thread

__all__ = ["MIN_PAIRS", "MIN_PAIRS_LOW_LEVEL", "CallStats", "ParallelScorer", "WorkerError",
           "split_points"]

#: Default ``min_pairs`` when the workers run the offline clinical judge (or another scorer
#: sent to them): smaller batches are scored in the calling process. Measured with
#: ``benchmarks/bench_parallel.py`` on fresh GRPO batches (2 cores): two processes beat one
#: from about 64 pairs, and clearly (1.2x) from 128.
MIN_PAIRS = 128
#: Default ``min_pairs`` when the workers compute the low-level reward alone (semantic level
#: off, or a judge that runs in the calling process): at about 5 us a pair, a chunk's
#: shipping and fixed cost are paid back only from about 512 pairs (same benchmark).
MIN_PAIRS_LOW_LEVEL = 512

_STARTING, _IDLE, _BUSY, _DEAD = "starting", "idle", "busy", "dead"
_MAX_START_FAILURES = 3  # workers failing to start this often in a row: the setup is broken


class WorkerError(RuntimeError):
    """A chunk failed in every worker it was given to, or workers cannot start."""


class CallStats(NamedTuple):
    """Where a batch sent to the workers spent its time, in seconds: wall-clock time of the
    call, and CPU time of the calling thread and of each worker, which other jobs on the
    machine do not inflate. ``overhead_cpu_s`` (splitting, sending, receiving, joining) is
    the share that more workers do not shrink (Amdahl's serial share).

    Examples:
        >>> stats = CallStats(pairs=512, chunks=(256, 256), wall_s=0.014, own_s=0.010,
        ...                   idle_s=0.002, replaced=0, cpu_s=0.011, own_cpu_s=0.010,
        ...                   worker_cpu_s=(0.0105,))
        >>> round(stats.overhead_cpu_s, 6), round(stats.free_cores_s, 6)
        (0.001, 0.0115)
    """

    pairs: int
    chunks: tuple[int, ...]  #: pairs per chunk, the caller's own first
    wall_s: float  #: the whole call
    own_s: float  #: the calling process scoring its own chunk(s)
    idle_s: float  #: the calling process waiting for the workers' answers
    replaced: int  #: workers killed (dead or too slow) and replaced during the call
    cpu_s: float  #: CPU time of the calling thread over the whole call
    own_cpu_s: float  #: of which scoring its own chunk(s)
    worker_cpu_s: tuple[float, ...]  #: each answered chunk's CPU time in its worker

    @property
    def overhead_cpu_s(self) -> float:
        """The caller's CPU time beyond its own chunk: the serial work parallelism adds."""
        return self.cpu_s - self.own_cpu_s

    @property
    def free_cores_s(self) -> float:
        """The call's wall time when every process has a core to itself: the serial work
        plus the slowest chunk (from CPU times, so other jobs on the machine do not count)."""
        return self.overhead_cpu_s + max(self.own_cpu_s, *self.worker_cpu_s)


def split_points(references: Sequence[str], parts: int) -> list[int]:
    """Boundaries of at most ``parts`` contiguous, non-empty chunks of about equal size.

    A cut moves to the nearest start of a GRPO group (a run of equal references) when that
    keeps the chunk within a quarter of its ideal size, so a group's reference is laid out
    once; otherwise (a few huge groups) it falls inside a group.

    Examples:
        >>> split_points(["a"] * 4 + ["b"] * 4 + ["c"] * 4 + ["d"] * 4, 2)
        [0, 8, 16]
        >>> split_points(["a"] * 5 + ["b"] * 4 + ["c"] * 3, 2)
        [0, 5, 12]
        >>> split_points(["a"] * 10, 2), split_points(["a"], 4)
        ([0, 5, 10], [0, 1])
    """
    n = len(references)
    starts = [0, *(i for i in range(1, n) if references[i] != references[i - 1]), n]
    tolerance = max(1.0, n / parts / 4)
    bounds = [0]
    for k in range(1, parts):
        ideal = round(k * n / parts)
        j = bisect_left(starts, ideal)
        nearest = min(starts[max(j - 1, 0):j + 1], key=lambda s: (abs(s - ideal), s))
        cut = nearest if abs(nearest - ideal) <= tolerance else ideal
        if bounds[-1] < cut < n:
            bounds.append(cut)
    bounds.append(n)
    return bounds if n else [0]


class _Worker:
    """One worker process, its socket and what it is doing."""

    __slots__ = ("proc", "conn", "state", "task", "deadline")

    def __init__(self, config: RewardConfig, start_timeout_s: float) -> None:
        self.proc, self.conn = start_helper("himed_rewards.rewards._worker")
        self.state, self.task = _STARTING, None
        self.deadline = time.monotonic() + start_timeout_s
        with contextlib.suppress(OSError):  # died at once: the next wait sees the socket close
            # The caller's import path first, so that a scorer of the caller's own modules
            # unpickles in the worker as it pickled here.
            self.conn.send(("path", list(sys.path)))
            self.conn.send(("init", config))

    def kill(self) -> None:
        self.state = _DEAD
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.conn.close()

    def why_gone(self) -> str:
        code = self.proc.poll()
        return "closed its socket" if code is None else f"exited with code {code}"


def _shutdown(workers: list[_Worker], owner_pid: int, timeout_s: float = 5.0) -> None:
    """Stop every worker: ``stop`` to the idle ones, then close, wait, kill what is left."""
    if os.getpid() != owner_pid:
        return  # a forked copy of the owner: the sockets and the workers are not its own
    for worker in workers:
        if worker.state == _IDLE:
            with contextlib.suppress(OSError):
                worker.conn.send(("stop",))
        if not worker.conn.closed:
            worker.conn.close()  # a busy or starting worker sees end of file and exits
    deadline = time.monotonic() + timeout_s
    for worker in workers:
        try:
            worker.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()
        worker.state = _DEAD


class ParallelScorer:
    """:func:`~himed_rewards.score_batch` for one configuration on ``workers`` processes.

    Args:
        workers: processes that score a batch, the calling one included (``workers - 1``
            are started); None uses every core this process may run on.
        config: the reward configuration; None uses the defaults. It must pickle (it is
            sent to the workers once).
        min_pairs: batches with fewer pairs are scored in the calling process, and no chunk
            has fewer than ``min_pairs // 2`` pairs; None: :data:`MIN_PAIRS` when the workers
            run the semantic level, :data:`MIN_PAIRS_LOW_LEVEL` when they do not.
        timeout_s: seconds a worker may take for one chunk before it is killed and replaced.
        start_timeout_s: seconds a worker may take to start and warm up.
        retries: times a failed chunk is given to another worker before :class:`WorkerError`.
        semantic_in_workers: where the semantic scorer runs; None: the offline clinical judge
            in the workers, any other scorer once per batch in the calling process.

    Use it as a context manager (or call :meth:`close`); it also stops its workers at exit.

    Examples:
        >>> from himed_rewards import RewardConfig, score_batch
        >>> c = "<think>x</think><finding>Small left effusion.</finding><impression>Effusion.</impression>"
        >>> completions, references = [c] * 8, ["Left effusion."] * 4 + ["Clear lungs."] * 4
        >>> with ParallelScorer(workers=2, min_pairs=2) as scorer:
        ...     rewards = scorer.score_batch(completions, references, step=100)
        >>> rewards == score_batch(completions, references, step=100)
        True
    """

    def __init__(self, workers: int | None = None, config: RewardConfig | None = None, *,
                 min_pairs: int | None = None, timeout_s: float = 120.0,
                 start_timeout_s: float = 300.0, retries: int = 1,
                 semantic_in_workers: bool | None = None) -> None:
        if workers is None:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
                os.cpu_count() or 1)
        for name, value, low in (("workers", workers, 1), ("min_pairs", min_pairs, 1),
                                 ("retries", retries, 0)):
            if value is None and name == "min_pairs":
                continue  # chosen below, once the configuration is known
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        for name, value in (("timeout_s", timeout_s), ("start_timeout_s", start_timeout_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not value > 0 or value == float("inf"):
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        if workers > 1 and os.name != "posix":  # the workers' sockets are passed as descriptors
            raise ValueError(f"workers > 1 needs a POSIX system (Linux, macOS), not {os.name}")
        if semantic_in_workers is not None and not isinstance(semantic_in_workers, bool):
            raise TypeError("semantic_in_workers must be a bool or None, "
                            f"got {type(semantic_in_workers).__name__}")
        config = compose.default_config() if config is None else compose._check_config(config)
        semantic = config.semantic
        if semantic_in_workers is None:
            semantic_in_workers = semantic is None or semantic.name == "clinical"
        self.config = config
        if min_pairs is None:
            min_pairs = MIN_PAIRS if semantic is not None and semantic_in_workers \
                else MIN_PAIRS_LOW_LEVEL
        self.min_pairs, self.retries = min_pairs, retries
        self.timeout_s, self.start_timeout_s = float(timeout_s), float(start_timeout_s)
        self._judge_here = semantic is not None and not semantic_in_workers
        self._worker_config = (config.model_copy(update={"semantic": None}) if self._judge_here
                               else config)
        if workers > 1:
            try:
                pickle.dumps(self._worker_config)
            except Exception as error:
                raise TypeError("config must pickle to reach the worker processes (or pass "
                                f"semantic_in_workers=False): {error}") from error
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._calls = itertools.count()
        self._judge_pool: ThreadPoolExecutor | None = None
        self._start_failures = 0
        self._closed = False
        #: :class:`CallStats` of the last batch sent to the workers (None before the first).
        self.last_stats: CallStats | None = None
        self._pid = os.getpid()
        self._finalizer = weakref.finalize(self, _shutdown, self._workers, self._pid)
        try:
            for _ in range(workers - 1):
                self._workers.append(_Worker(self._worker_config, self.start_timeout_s))
            compose.warmup()  # the caller scores small batches and the first chunk itself
            compose.score_batch(["<finding>Small effusion.</finding>"], ["No effusion."],
                                config=self._worker_config)
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    # -- public -----------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        """Processes that score a batch, the calling one included."""
        return len(self._workers) + 1

    @property
    def pids(self) -> list[int]:
        """Process ids of the worker processes (the calling process not included)."""
        return [w.proc.pid for w in self._workers]

    def score_batch(self, completions: Sequence[str], references: Sequence[str], *,
                    step: int = 0) -> list[RewardBreakdown]:
        """Every level for each pair, equal to ``score_batch(..., config=self.config)``.

        Examples:
            >>> with ParallelScorer(workers=1) as scorer:
            ...     [b] = scorer.score_batch(["No effusion."], ["No pleural effusion."])
            >>> b.format
            -1.0
        """
        step, completions, references = self._check(completions, references, step)
        if self._serial(completions):
            return compose.score_batch(completions, references, step=step, config=self.config)
        if not self._judge_here:
            return self._locked_low_level(completions, references, step)
        scorer = self.config.semantic
        reports = parse_completions(completions).reports()  # the batch parser compose uses
        if self._judge_pool is None:
            self._judge_pool = ThreadPoolExecutor(1, thread_name_prefix="himed-judge")
        judged = self._judge_pool.submit(scorer.score_batch, reports, references)
        low = self._locked_low_level(completions, references, step)
        verdicts = compose._checked_verdicts(judged.result(), len(reports), scorer)
        return compose._with_verdicts(low, verdicts, self.config, step)

    async def ascore_batch(self, completions: Sequence[str], references: Sequence[str], *,
                           step: int = 0) -> list[RewardBreakdown]:
        """:meth:`score_batch` for event loops: the processes work on a helper thread while an
        async judge's requests run concurrently.

        Examples:
            >>> import asyncio
            >>> with ParallelScorer(workers=1) as scorer:
            ...     [b] = asyncio.run(scorer.ascore_batch(["No effusion."], ["No effusion."]))
            >>> b.format
            -1.0
        """
        step, completions, references = self._check(completions, references, step)
        if self._serial(completions):
            return await compose.ascore_batch(completions, references, step=step,
                                              config=self.config)
        low_level = asyncio.to_thread(self._locked_low_level, completions, references, step)
        if not self._judge_here:
            return await low_level
        scorer = self.config.semantic
        reports = parse_completions(completions).reports()  # the batch parser compose uses
        ascore = getattr(scorer, "ascore_batch", None)
        judged = (ascore(reports, references) if ascore
                  else asyncio.to_thread(scorer.score_batch, reports, references))
        low, raw = await asyncio.gather(low_level, judged)
        verdicts = compose._checked_verdicts(raw, len(reports), scorer)
        return compose._with_verdicts(low, verdicts, self.config, step)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the workers (idempotent); scoring afterwards raises RuntimeError."""
        self._closed = True
        with self._lock:
            if self._finalizer.detach() is not None:
                _shutdown(self._workers, self._pid, timeout_s)
        if self._judge_pool is not None:
            self._judge_pool.shutdown(wait=False)

    def __enter__(self) -> ParallelScorer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self):
        raise TypeError("a ParallelScorer owns processes and cannot be pickled: create one in "
                        "the process that scores")

    def __repr__(self) -> str:
        return (f"ParallelScorer(workers={self.workers}, min_pairs={self.min_pairs}, "
                f"closed={self._closed})")

    # -- one call ---------------------------------------------------------------------------

    def _check(self, completions: object, references: object, step: object):
        step = check_step(step)
        completions, references = compose._check_inputs(completions, references)
        if self._closed:
            raise RuntimeError("this ParallelScorer is closed")
        return step, completions, references

    def _serial(self, completions: list[str]) -> bool:
        # A forked copy of the owner (a data loader, say) shares its sockets: it must not use
        # them, so it scores in its own process.
        return (len(completions) < self.min_pairs or not self._workers
                or os.getpid() != self._pid)

    def _locked_low_level(self, completions: list[str], references: list[str],
                          step: int) -> list[RewardBreakdown]:
        with self._lock:
            if self._closed:
                raise RuntimeError("this ParallelScorer is closed")
            return _Call(self, completions, references, step).run()

    def _wait_ready(self) -> None:
        """Block until every worker has started (raises WorkerError if one cannot)."""
        call = _Call(self, [], [], 0)
        while any(w.state == _STARTING for w in self._workers):
            call.wait_once()


class _Call:
    """One batch through the workers: dispatch, the caller's own chunk, collection, retries."""

    def __init__(self, owner: ParallelScorer, completions: list[str], references: list[str],
                 step: int) -> None:
        self.owner, self.step = owner, step
        self.completions, self.references = completions, references
        self.id = next(owner._calls)
        # No chunk under min_pairs / 2: each score_batch call has a fixed cost (about 1 ms,
        # docs/benchmarks.md) that a tiny chunk would not win back.
        parts = min(owner.workers, len(references) // max(owner.min_pairs // 2, 1))
        bounds = split_points(references, max(parts, 1)) if references else [0]
        self.chunks = list(itertools.pairwise(bounds))
        self.results: list[list[RewardBreakdown] | None] = [None] * len(self.chunks)
        self.errors: dict[int, BaseException] = {}
        self.attempts = [0] * len(self.chunks)
        self.pending: deque[int] = deque()
        self.idle_s, self.replaced = 0.0, 0
        self.worker_cpu: dict[int, float] = {}

    def run(self) -> list[RewardBreakdown]:
        owner = self.owner
        start, cpu_start = time.perf_counter(), time.thread_time()
        for worker in owner._workers:  # one that died between calls is replaced now
            if worker.state == _IDLE and worker.proc.poll() is not None:
                self.fail(worker, worker.why_gone())
        self.pending.extend(range(1, len(self.chunks)))
        self.assign()
        # The caller scores the first chunk, and any chunk no worker was ready for.
        mine = [0, *self.pending]
        self.pending.clear()
        own_start, own_cpu_start = time.perf_counter(), time.thread_time()
        for i in mine:
            a, b = self.chunks[i]
            with one_thread():  # the workers have the other cores (they use one thread each)
                self.results[i] = compose.score_batch(
                    self.completions[a:b], self.references[a:b], step=self.step,
                    config=owner._worker_config)
        own_s, own_cpu_s = time.perf_counter() - own_start, time.thread_time() - own_cpu_start
        while any(r is None for i, r in enumerate(self.results) if i not in self.errors):
            self.assign()
            self.wait_once()
        if self.errors:
            raise self.errors[min(self.errors)]
        out = [b for chunk in self.results for b in chunk]  # type: ignore[union-attr]
        owner.last_stats = CallStats(
            len(out), tuple(b - a for a, b in self.chunks), time.perf_counter() - start, own_s,
            self.idle_s, self.replaced, time.thread_time() - cpu_start, own_cpu_s,
            tuple(self.worker_cpu.values()) or (0.0,))
        return out

    def assign(self) -> None:
        for worker in self.owner._workers:
            if not self.pending:
                return
            if worker.state != _IDLE:
                continue
            i = self.pending.popleft()
            a, b = self.chunks[i]
            worker.state, worker.task = _BUSY, (self.id, i)
            worker.deadline = time.monotonic() + self.owner.timeout_s
            try:
                worker.conn.send(("score", self.id, self.completions[a:b],
                                  self.references[a:b], self.step))
            except OSError:
                self.fail(worker, worker.why_gone(), blame=False)
            except BaseException:  # interrupted mid-message: its stream is unusable
                self.fail(worker, "interrupted", blame=False)
                raise

    def wait_once(self) -> None:
        """Wait for the next answer or deadline among starting and busy workers."""
        live = [w for w in self.owner._workers if w.state in (_STARTING, _BUSY)]
        if not live:
            return
        timeout = max(0.0, min(w.deadline for w in live) - time.monotonic())
        idle_start = time.perf_counter()
        ready = wait([w.conn for w in live], timeout)
        self.idle_s += time.perf_counter() - idle_start
        for worker in live:
            if worker.conn in ready:
                self.receive(worker)
        now = time.monotonic()
        for worker in live:
            if worker.state in (_STARTING, _BUSY) and worker.deadline <= now:
                limit = (self.owner.timeout_s if worker.state == _BUSY
                         else self.owner.start_timeout_s)
                self.fail(worker, f"gave no answer within {limit:g} s")

    def receive(self, worker: _Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            self.fail(worker, worker.why_gone())
            return
        if message[0] == "ready":
            worker.state = _IDLE
            self.owner._start_failures = 0
            return
        task, worker.state, worker.task = worker.task, _IDLE, None
        if task is None or task[0] != self.id:
            return  # the answer to a call that was given up (it raised or was interrupted)
        if message[0] == "ok":
            columns = pickle.loads(message[2])  # RewardBreakdown fields, built back in C below
            self.results[task[1]] = list(map(tuple.__new__, repeat(RewardBreakdown),
                                             zip(*columns, strict=True)))
            self.worker_cpu[task[1]] = message[3]
        else:
            self.errors[task[1]] = message[2]

    def fail(self, worker: _Worker, why: str, *, blame: bool = True) -> None:
        """Kill ``worker``, start its replacement, and give its chunk to another worker."""
        owner = self.owner
        pid, task, starting = worker.proc.pid, worker.task, worker.state == _STARTING
        worker.kill()
        self.replaced += 1
        owner._start_failures = owner._start_failures + 1 if starting else 0
        if owner._start_failures >= _MAX_START_FAILURES:
            raise WorkerError(f"{_MAX_START_FAILURES} worker processes in a row failed to "
                              f"start; the last (pid {pid}) {why} (its stderr says why)")
        index = owner._workers.index(worker)
        owner._workers[index] = _Worker(owner._worker_config, owner.start_timeout_s)
        if task is None or task[0] != self.id:
            return
        i = task[1]
        if blame:
            self.attempts[i] += 1
        if self.attempts[i] > owner.retries:
            a, b = self.chunks[i]
            raise WorkerError(f"pairs {a}..{b - 1} failed in {self.attempts[i]} worker "
                              f"processes; the last (pid {pid}) {why}")
        self.pending.append(i)
