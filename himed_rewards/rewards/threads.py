"""How many threads one reward call may use, and the pool that lends them.

The low-level reward's kernel (``kernels.reward.low_level_columns``) releases the GIL, so one
call uses several cores with no process to start and nothing to pickle: with the semantic
level off, a batch of at least two :data:`MIN_PAIRS_PER_THREAD` is split between two threads
by metric (BLEU and the keywords on the pool's thread, the rest in the calling thread:
``rewards.low_level``), or, with more threads, cut into one chunk per thread, the calling
thread scoring the first; with a semantic scorer, the whole kernel of
a batch of at least :data:`MIN_PAIRS_BEHIND_JUDGE` runs on the pool while the calling
thread runs the judge. With the semantic level off, a batch of at least
``format_batch.MIN_PAIRS_TO_SPLIT`` is also parsed and its reports' tokens looked up in two
parts, one on the pool (``rewards.format_batch``); the tokens neither part found are then
interned in the calling thread, as are the references. The offline judge's Python stays in
the calling thread.

The number of threads is, in order: one inside :func:`one_thread` (``ParallelScorer``'s own
chunk, while its worker processes take the other cores); what :func:`set_num_threads` set;
the environment variable ``HIMED_REWARDS_THREADS``; else the cores this process may run on,
at most :data:`MAX_DEFAULT_THREADS` and at most ``OMP_NUM_THREADS`` when that is set. The
last is how launchers share a node between processes: torchrun sets it to 1 for each of
several ranks (``accelerate launch`` uses torchrun's launcher on several GPUs), Ray to an
actor's CPUs, so that ranks do not oversubscribe the node (``HIMED_REWARDS_THREADS`` gives
the reward more). ``ParallelScorer``'s worker processes use one thread each.

A forked child starts with no pool (the parent's threads do not exist there) and builds its
own on first use.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # (concurrent.futures loads at the first split batch, not at import)
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["ENVIRONMENT_VARIABLE", "MAX_DEFAULT_THREADS", "MIN_PAIRS_BEHIND_JUDGE",
           "MIN_PAIRS_PER_THREAD",
           "get_num_threads", "set_num_threads", "one_thread", "cores_lent", "chunk_bounds", "submit"]

#: Overrides the default number of threads (a positive integer).
ENVIRONMENT_VARIABLE = "HIMED_REWARDS_THREADS"
#: The default's cap: the serial part of a call (parsing, tokenizing) leaves little to gain
#: past four threads (docs/benchmarks.md, "Threads").
MAX_DEFAULT_THREADS = 4
#: Fewer pairs than this per thread, and a chunk costs about what it saves: two threads were
#: 1.01x one at 128 pairs, 1.08x at 192, 1.14x at 256 and 1.21x at 512 (fresh GRPO batches,
#: low-level reward, wall time on 2 cores).
MIN_PAIRS_PER_THREAD = 96
#: Fewer pairs than this, and the kernel stays in the calling thread when a judge follows it:
#: behind the offline judge, two threads were 0.85x one at 16 pairs, 1.02x at 32, 1.08x at 64
#: and 1.22x at 512 (the same benchmark, default reward).
MIN_PAIRS_BEHIND_JUDGE = 64

T = TypeVar("T")

_LOCK = threading.Lock()
_chosen: list[int | None] = [None]  # set_num_threads' value
_pool: list[tuple[ThreadPoolExecutor, int] | None] = [None]  # the pool and its size
_this_thread = threading.local()  # one_thread's mark


def _check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


@functools.lru_cache(maxsize=1)  # (a system call: once, not at every reward call)
def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # (a container or taskset may allow fewer)
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _launcher_share() -> int:
    """``OMP_NUM_THREADS`` when it is a positive integer (a launcher's share of the node for
    this process), else no limit. Not ours to validate: other libraries read it too."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return MAX_DEFAULT_THREADS
    return value if value >= 1 else MAX_DEFAULT_THREADS


def _from_environment() -> int | None:
    text = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{ENVIRONMENT_VARIABLE} must be a positive integer, got {text!r}"
                         ) from None
    return _check_count(value, ENVIRONMENT_VARIABLE)


def get_num_threads() -> int:
    """The number of threads a reward call may use (see the module's doc for the default).

    Raises:
        ValueError: ``HIMED_REWARDS_THREADS`` is set to something other than a positive
            integer.

    Examples:
        >>> from himed_rewards import get_num_threads
        >>> get_num_threads() >= 1
        True
    """
    if getattr(_this_thread, "alone", None):
        return 1
    lent = getattr(_this_thread, "lent", None) or 0
    chosen = _chosen[0]
    if chosen is None:
        chosen = _from_environment()
    if chosen is None:
        chosen = min(MAX_DEFAULT_THREADS, _available_cores(), _launcher_share())
    return max(1, chosen - lent)


def set_num_threads(n: int | None) -> None:
    """Let reward calls use ``n`` threads (1: the calling thread only); None restores the
    default. Like ``torch.set_num_threads``, it holds for the whole process.

    Raises:
        TypeError: ``n`` is not an int or None.
        ValueError: ``n`` is below 1.

    Examples:
        >>> from himed_rewards import get_num_threads, set_num_threads
        >>> set_num_threads(1)
        >>> get_num_threads()
        1
        >>> set_num_threads(None)
    """
    if n is not None:
        _check_count(n, "n")
    with _LOCK:
        _chosen[0] = n


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Reward calls made by this thread inside the block use this thread alone (other
    threads keep their setting).

    Examples:
        >>> with one_thread():
        ...     get_num_threads()
        1
    """
    with _this_thread_set("alone", True):
        yield


@contextlib.contextmanager
def cores_lent(cores: int) -> Iterator[None]:
    """Reward calls made by this thread inside the block use ``cores`` threads fewer (at
    least one): the cores a helper process works on meanwhile (``rewards.judge_process``).

    Examples:
        >>> set_num_threads(3)
        >>> with cores_lent(1):
        ...     get_num_threads()
        2
        >>> set_num_threads(None)
    """
    with _this_thread_set("lent", (getattr(_this_thread, "lent", None) or 0) + cores):
        yield


@contextlib.contextmanager
def _this_thread_set(name: str, value: object) -> Iterator[None]:
    """This thread's setting ``name`` is ``value`` inside the block (what it was after)."""
    before = getattr(_this_thread, name, None)
    setattr(_this_thread, name, value)
    try:
        yield
    finally:
        setattr(_this_thread, name, before)


def chunk_bounds(n_pairs: int, threads: int | None = None, lead: int = 0) -> list[int]:
    """Where to cut ``n_pairs`` pairs into one chunk per thread: ``[0, ..., n_pairs]``, each
    chunk at least :data:`MIN_PAIRS_PER_THREAD` long (one chunk when the batch is small),
    the first up to ``lead`` pairs longer than the others when there are several (at most a
    quarter of a chunk).

    Examples:
        >>> chunk_bounds(512, 2)
        [0, 256, 512]
        >>> chunk_bounds(512, 2, lead=48)
        [0, 280, 512]
        >>> chunk_bounds(150, 4)
        [0, 150]
        >>> chunk_bounds(600, 4, lead=48)  # (a quarter of a chunk: 37 pairs)
        [0, 177, 318, 459, 600]
    """
    if threads is None:
        threads = get_num_threads()
    parts = max(1, min(threads, n_pairs // MIN_PAIRS_PER_THREAD))
    if parts == 1:
        return [0, n_pairs]
    lead = min(lead, n_pairs // parts // 4)
    rest = n_pairs - lead
    return [0] + [lead + rest * k // parts for k in range(1, parts + 1)]


def _workers() -> ThreadPoolExecutor:
    """The pool (made on first use, and again after :func:`set_num_threads` grows it)."""
    from concurrent.futures import ThreadPoolExecutor

    with _LOCK:
        pool, size = _pool[0] or (None, 0)
        wanted = max(1, get_num_threads() - 1)  # the calling thread scores a chunk too
        if pool is None or size < wanted:
            if pool is not None:
                pool.shutdown(wait=False)
            pool = ThreadPoolExecutor(max_workers=wanted, thread_name_prefix="himed-rewards")
            _pool[0] = (pool, wanted)
        return pool


def submit(task: Callable[[], T]) -> Future[T]:
    """Run ``task`` on one of the pool's threads.

    Examples:
        >>> submit(lambda: 2 + 2).result()
        4
    """
    return _workers().submit(task)


def _forget_pool_in_child() -> None:
    # The child of a fork has the parent's pool object but none of its threads: a task
    # submitted to it would wait forever. (The lock may have been held by another thread.)
    global _LOCK
    _LOCK = threading.Lock()
    _pool[0] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)
