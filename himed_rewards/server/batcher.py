"""Micro-batching: concurrent requests are collected for a few ms and scored in one call.

Each request is a job on an asyncio queue. One worker task takes the first job, waits up to
``max_wait_s`` for more until ``max_pairs`` pairs are collected, then makes one
``score_batch`` call per distinct step (the public API takes one step per call) in a worker
thread, so the event loop keeps accepting requests while the kernels run. A config with a
semantic judge goes through ``ascore_batch`` (judges awaited concurrently) on an event loop of
that thread. If a combined call fails, each job is retried alone so one bad request cannot fail
its neighbours.

Admission control: at most ``max_queued_pairs`` pairs wait or are being scored at once; a
request that would pass that bound is refused at once with ``BatcherFullError`` (the server
answers 503 with ``Retry-After``), rather than queued behind work it would time out on. A job
whose request was abandoned (timed out, client gone) is dropped before it is scored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import himed_rewards as hr

__all__ = ["BatcherClosedError", "BatcherFullError", "MicroBatcher"]


class BatcherClosedError(RuntimeError):
    """The server is shutting down and takes no new work."""


class BatcherFullError(RuntimeError):
    """The queue holds ``max_queued_pairs`` pairs already: come back later."""


@dataclass
class _Job:
    completions: list[str]
    references: list[str]
    step: int
    future: asyncio.Future[list[Any]] = field(repr=False)


def score_with_api(
    completions: list[str], references: list[str], step: int, config: Any
) -> list[Any]:
    """One call of the public API; runs in a worker thread."""
    if getattr(config, "semantic", None) is not None:
        return asyncio.run(hr.ascore_batch(completions, references, step=step, config=config))
    return hr.score_batch(completions, references, step=step, config=config)


class MicroBatcher:
    """Collects concurrent scoring jobs into few kernel calls.

    ``on_batch(pairs, breakdowns)`` is called on the event loop after each successful call
    (the server counts pairs and judge failures there). ``in_flight()``, when given, is the
    number of HTTP requests being served: the batcher waits for more jobs only while it
    exceeds the jobs already collected, so a lone request is scored at once.
    """

    def __init__(
        self,
        config: Any = None,
        *,
        max_pairs: int = 1024,
        max_wait_s: float = 0.005,
        on_batch: Callable[[int, Sequence[Any]], None] | None = None,
        in_flight: Callable[[], int] | None = None,
        max_queued_pairs: int | None = None,
    ) -> None:
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
        if max_queued_pairs is None:
            max_queued_pairs = 4 * max_pairs
        if (
            isinstance(max_queued_pairs, bool)
            or not isinstance(max_queued_pairs, int)
            or max_queued_pairs < 1
        ):
            raise ValueError(f"max_queued_pairs must be an int >= 1, got {max_queued_pairs!r}")
        if not 0 <= max_wait_s <= 1:
            raise ValueError(f"max_wait_s must be in [0, 1] seconds, got {max_wait_s}")
        self.config = config
        self.max_pairs = max_pairs
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self.in_flight = in_flight
        self.max_queued_pairs = max_queued_pairs
        #: Pairs admitted and not answered yet (queued or being scored).
        self.queued_pairs = 0
        self._queue: asyncio.Queue[_Job | None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def start(self) -> None:
        """Start the worker on the running event loop (the app's lifespan does this)."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._closed = False
        self._worker = self._loop.create_task(self._run(), name="himed-batcher")

    async def submit(self, completions: list[str], references: list[str], step: int) -> list[Any]:
        """Queue one request's pairs and wait for its breakdowns."""
        if self._closed:
            raise BatcherClosedError("the reward server is shutting down")
        if (
            self._worker is None
            or self._worker.done()
            or self._loop is not asyncio.get_running_loop()
        ):
            # No lifespan ran (an ASGI transport without one) or it ran on another loop.
            self.start()
        assert self._queue is not None
        if not completions:
            return []
        n = len(completions)
        if self.queued_pairs and self.queued_pairs + n > self.max_queued_pairs:
            # An empty queue admits any one request (max_pairs bounds its size elsewhere).
            raise BatcherFullError(
                f"the reward server is at capacity ({self.queued_pairs} pairs queued, "
                f"limit {self.max_queued_pairs}); retry later"
            )
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.queued_pairs += n
        try:
            self._queue.put_nowait(_Job(completions, references, step, future))
            return await future  # a cancelled caller cancels the future: its job is dropped
        finally:
            self.queued_pairs -= n

    async def close(self, timeout: float = 30.0) -> None:
        """Stop taking jobs, finish the queued ones (bounded by ``timeout``), stop the worker."""
        if self._queue is None or self._worker is None:
            return
        self._closed = True
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(self._worker, timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self._worker.cancel()
        self._worker = None

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            jobs, pairs = [first], len(first.completions)
            deadline = loop.time() + self.max_wait_s
            while pairs < self.max_pairs:
                try:
                    job = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    if self.in_flight is not None and self.in_flight() <= len(jobs):
                        break  # every request in flight is already collected: no one to wait for
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self._queue.get(), remaining)
                    except asyncio.TimeoutError:
                        break
                if job is None:
                    stopping = True  # finish what was collected, then stop
                    break
                jobs.append(job)
                pairs += len(job.completions)
            await self._flush(jobs)

    async def _flush(self, jobs: list[_Job]) -> None:
        by_step: dict[int, list[_Job]] = {}
        for job in jobs:
            if not job.future.done():  # a timed-out request was cancelled: skip its work
                by_step.setdefault(job.step, []).append(job)
        for step, group in by_step.items():
            try:
                self._deliver(group, await self._score_group(group, step))
            except Exception as exc:
                if len(group) == 1:
                    self._fail(group[0], exc)
                    continue
                for job in group:  # isolate the failing request from its neighbours
                    try:
                        self._deliver([job], await self._score_group([job], step))
                    except Exception as single_exc:
                        self._fail(job, single_exc)

    @staticmethod
    def _deliver(group: list[_Job], results: list[list[Any]]) -> None:
        for job, result in zip(group, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    @staticmethod
    def _fail(job: _Job, exc: BaseException) -> None:
        if not job.future.done():
            job.future.set_exception(exc)

    async def _score_group(self, group: list[_Job], step: int) -> list[list[Any]]:
        completions = [c for job in group for c in job.completions]
        references = [r for job in group for r in job.references]
        breakdowns = await asyncio.to_thread(
            score_with_api, completions, references, step, self.config
        )
        if len(breakdowns) != len(completions):
            raise RuntimeError(
                f"score_batch returned {len(breakdowns)} results for {len(completions)} pairs"
            )
        if self.on_batch is not None:
            self.on_batch(len(completions), breakdowns)
        out, start = [], 0
        for job in group:
            out.append(breakdowns[start : start + len(job.completions)])
            start += len(job.completions)
        return out
