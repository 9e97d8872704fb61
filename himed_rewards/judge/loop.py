"""A private event loop in a daemon thread: the judge's async work runs here, so the sync
API works from plain code and from inside someone else's running loop alike."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

__all__ = ["LoopThread", "LoopStoppedError"]


class LoopStoppedError(RuntimeError):
    """Work was submitted to a loop that ``stop()`` has begun to shut down."""


class LoopThread:
    """An event loop running forever in a daemon thread.

    ``stop()`` cancels every task still on the loop before it stops it, so a thread blocked
    on a future from ``submit`` wakes up (with ``CancelledError``) instead of waiting forever.

    Example:
        >>> async def answer():
        ...     return 42
        >>> runner = LoopThread()
        >>> runner.submit(answer()).result(timeout=5)
        42
        >>> runner.stop()
        >>> runner.submit(answer())
        Traceback (most recent call last):
        ...
        himed_rewards.judge.loop.LoopStoppedError: the judge's event loop is stopped
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="himed-judge-loop", daemon=True)
        # Held while scheduling, so no coroutine can slip in after stop() cancelled the rest.
        self._gate = threading.Lock()
        self._stopping = False
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Schedule a coroutine on the loop; the returned future is thread-safe.

        Raises ``LoopStoppedError`` (and closes the coroutine) once ``stop()`` has begun."""
        with self._gate:
            if self._stopping:
                coro.close()
                raise LoopStoppedError("the judge's event loop is stopped")
            return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def cancel_tasks(self, timeout: float = 10.0) -> None:
        """Cancel every task on the loop and wait (at most ``timeout``) for their cleanup;
        the loop keeps running. Threads waiting on their futures wake up."""
        if not self.thread.is_alive() or self.loop.is_closed():
            return
        cancelled = asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop)
        # A task that ignores cancellation must not keep us here: go on after the timeout.
        with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            cancelled.result(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the loop's tasks, stop the loop and join the thread (the loop is closed
        once the thread is gone). Idempotent."""
        with self._gate:
            if self._stopping:
                return
            self._stopping = True
        if self.thread.is_alive():
            self.cancel_tasks(timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=timeout)
        if not self.thread.is_alive():
            self.loop.close()


async def _cancel_all() -> None:
    me = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not me]
    for task in tasks:
        task.cancel()
    # Let every cancellation run its cleanup (and resolve the thread-safe futures).
    await asyncio.gather(*tasks, return_exceptions=True)
