"""The offline clinical judge on a second core: a helper process judges a big batch.

Within one process the offline judge's Python (the analysis of sentences never met before)
and the low-level reward's front end (parsing, tokenizing, interning) hold the same GIL, so
threads cannot run them side by side; only the low-level kernel moves to a thread
(``rewards.threads``). A helper process can: ``score_batch`` sends it the batch's distinct
references first (the helper learns their sentences meanwhile), parses the completions into
memory the helper maps, lays the reports out there and cuts them into sentences (functions
of the bytes alone, done while the helper learns the references: then the helper starts at
the look-ups), sends it a few numbers (``rewards.judge_request``), computes the low-level
reward meanwhile, then takes the helper's scores.

The calling process takes no share of the judging proper, though it often finishes first
(the judge costs more per pair than the low-level reward): judged here, after the low-level
reward, a
share costs the caller two to four times what it costs the helper, whose caches hold the
judge's data and nothing else; with such a share, balanced from the costs measured on
earlier calls, the default reward measured 12.7 us per pair, against 10.1-10.3 without
(docs/speed_history.md).

When (all of these):

* the semantic scorer is an :class:`~himed_rewards.clinical.judge.OfflineClinicalJudge`
  (exactly: a subclass may judge differently, an LLM judge waits on the network, not a core);
* the batch has at least :data:`MIN_PAIRS` pairs (below that, the round trip costs about what
  the second core saves), and its completions at most :data:`MAX_SHARED_BYTES` characters
  (the memory both processes map keeps the biggest batch's size);
* ``get_num_threads()`` allows two threads or more (``HIMED_REWARDS_THREADS``,
  ``set_num_threads``, or a launcher's ``OMP_NUM_THREADS``: ranks of a multi-GPU run get one
  by default, and then no helper); the low-level kernel then uses one thread fewer;
* ``HIMED_REWARDS_JUDGE_PROCESS`` is not ``0`` (:data:`ENVIRONMENT_VARIABLE`);
* the judge's kernel is compiled or in the numba cache, so the helper loads it in about a
  second instead of compiling it.

The helper starts at the first such call and is used once it is ready; calls made before
that, calls from other threads while one call has it, and small batches judge in the calling
process as before. It is a fresh interpreter (``rewards/_processes.py``), holds one core, and
exits with the caller (it reads end of file when the caller's socket closes).

Same floats: the judge is a function of the two texts alone, so a pair scores the same
whichever process judges it (``tests/rewards/test_judge_process.py`` checks bit for bit).

Failures never reach the reward call: a helper that does not answer within
``TIMEOUT_S + TIMEOUT_PER_PAIR_S`` per pair, dies, or reports an error has its pairs judged
in the calling process (the same floats, later), is stopped, and is counted in
:func:`stats`; a new one starts on a call at least :data:`RETRY_AFTER_S` later.
"""

from __future__ import annotations

import atexit
import itertools
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import NamedTuple

import numpy as np

from himed_rewards.rewards._processes import poll_awake, start_helper
from himed_rewards.rewards._shared_buffer import SharedBuffer
from himed_rewards.rewards.format_batch import ParsedCompletions, parse_completions
from himed_rewards.rewards.judge_request import make_request, share_request
from himed_rewards.rewards.threads import get_num_threads

__all__ = ["ENVIRONMENT_VARIABLE", "MAX_SHARED_BYTES", "MIN_PAIRS", "RETRY_AFTER_S",
           "TIMEOUT_PER_PAIR_S", "TIMEOUT_S", "JudgeProcessStats", "Offload", "begin", "start",
           "stats", "stop"]

#: ``0`` keeps the judge in the calling process; ``1`` (or unset) allows the helper.
ENVIRONMENT_VARIABLE = "HIMED_REWARDS_JUDGE_PROCESS"
#: Smaller batches are judged in the calling process (docs/parallel.md, "The offline judge
#: on a second core": from 128 pairs the helper was at least as fast as threads alone, on
#: fresh GRPO batches; 0.90x one thread at 64).
MIN_PAIRS = 128
#: A batch whose completions hold more characters than this is judged in the calling
#: process: the caller parses a batch into the memory it shares with the helper, then lays
#: its reports out and cuts them there (at most about as many bytes again, and a few int64
#: per sentence), and that memory keeps the size of the biggest batch it ever held (a GRPO
#: step of 512 completions with a 300-word reasoning is about 1.2 MB of completions).
MAX_SHARED_BYTES = 64 << 20
#: A request's answer may take this long, plus :data:`TIMEOUT_PER_PAIR_S` per pair sent: a
#: fresh helper's first batch analyses every sentence (about 45 us a pair, 80 us when every
#: sentence brings a new word), a warm one takes 6-7 us.
TIMEOUT_S = 5.0
TIMEOUT_PER_PAIR_S = 0.002
#: After a failure, no helper for this long (a helper that keeps failing costs a timeout per
#: start, not per call).
RETRY_AFTER_S = 60.0
# The helper loads the judge's kernel from the numba cache (about a second); a busy machine
# or a cache a compiler still writes may take longer. Calls judge here meanwhile.
_START_TIMEOUT_S = 120.0
_MODULE = "himed_rewards.rewards._judge_worker"
# How long a caller whose own work is done looks for the helper's answer without sleeping
# (the helper usually answers within a millisecond or two of it), before it sleeps until it
# comes.
_AWAKE_S = 0.003


class JudgeProcessStats(NamedTuple):
    """What the helper did in this process (:func:`stats`)."""

    calls: int  #: reward calls the helper judged
    pairs: int  #: pairs it judged
    fallbacks: int  #: requests judged in the calling process after a helper failed
    starts: int  #: helpers started
    last_failure: str | None  #: why the last helper was stopped, if one was
    helper_s: float  #: seconds the helper spent judging
    waited_s: float  #: seconds callers waited for its answers, once their own work was done


class _Helper:
    """One helper process, its socket, the buffer its requests are written to, whether it
    said it is ready, and the request it still owes an answer to (one the caller abandoned:
    until that answer comes, the helper may still read the buffer)."""

    __slots__ = ("proc", "conn", "shared", "ready", "deadline", "owed")

    def __init__(self) -> None:
        self.shared = SharedBuffer()
        try:
            self.proc, self.conn = start_helper(_MODULE, pass_fds=(self.shared.fd,))
        except BaseException:
            self.shared.close()
            raise
        self.ready = False
        self.deadline = time.monotonic() + _START_TIMEOUT_S
        self.owed: int | None = None

    def stop(self, timeout_s: float = 1.0) -> None:
        """Close the socket (end of file: the helper exits), then wait for it or kill it."""
        self.conn.close()
        self.shared.close()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_LOCK = threading.Lock()  # held by the one call that uses the helper, begin to finish
_state: dict = {"helper": None, "retry_at": 0.0, "pid": os.getpid(), "atexit": None}
_counts = {"calls": 0, "pairs": 0, "fallbacks": 0, "starts": 0, "last_failure": None,
           "helper_s": 0.0, "waited_s": 0.0}
_ids = itertools.count()


def stats() -> JudgeProcessStats:
    """What the helper did in this process.

    Examples:
        >>> stats().fallbacks >= 0
        True
    """
    return JudgeProcessStats(**_counts)


def start(wait_s: float = 0.0) -> bool:
    """Start the helper now, if this process may use one (the conditions of the module's doc
    but the batch's size and scorer), and wait up to ``wait_s`` seconds for it to be ready;
    returns whether it is. Reward calls start it themselves; this spares the first ones the
    wait (or lets a test wait for it).

    Examples:
        >>> isinstance(start(), bool)
        True
    """
    if not _enabled() or get_num_threads() < 2:
        return False
    deadline = time.monotonic() + wait_s
    while True:
        with _LOCK:
            if _ready_helper() is not None:
                return True
            if _state["helper"] is None:  # not allowed now: a cold kernel, a recent failure
                return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def stop() -> None:
    """Stop the helper, if one runs (at interpreter exit, and for tests); a later call
    starts another.

    Examples:
        >>> stop()
    """
    # (not under the lock: at exit a thread may still hold it in a call)
    helper, _state["helper"] = _state["helper"], None
    if helper is not None and _state["pid"] == os.getpid():
        helper.stop()


def _enabled() -> bool:
    text = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if text in ("", "1"):
        return True
    if text == "0":
        return False
    raise ValueError(f"{ENVIRONMENT_VARIABLE} must be 0 or 1, got {text!r}")


def _fail(helper: _Helper, why: str) -> None:
    """Stop a helper that failed; the next one starts after RETRY_AFTER_S."""
    _counts["last_failure"] = why
    _state["retry_at"] = time.monotonic() + RETRY_AFTER_S
    if _state["helper"] is helper:
        _state["helper"] = None
    helper.proc.kill()  # (a helper that failed may also be stuck: no grace period)
    helper.stop()


def _ready_helper() -> _Helper | None:
    """The helper when it is ready; otherwise start one (when allowed) and return None."""
    helper = _state["helper"]
    if helper is None:
        if time.monotonic() < _state["retry_at"]:
            return None
        from himed_rewards.clinical.encoded import kernel_ready

        if not kernel_ready():  # a cold cache: the helper would compile for seconds
            return None
        try:
            helper = _state["helper"] = _Helper()
        # (no processes allowed here, no pass_fds on this platform...: the caller judges)
        except Exception as error:  # noqa: BLE001 - never fails the reward call
            _counts["last_failure"] = f"could not start: {error}"
            _state["retry_at"] = time.monotonic() + RETRY_AFTER_S
            return None
        _counts["starts"] += 1
        if not _state["atexit"]:
            _state["atexit"] = atexit.register(stop)
        return None
    if helper.ready:
        return helper
    try:
        if helper.conn.poll(0):
            message = helper.conn.recv()
            helper.ready = message[0] == "ready"
            if not helper.ready:
                raise EOFError(f"said {message[0]!r} first")
    except Exception as error:  # noqa: BLE001 - end of file, a broken socket, garbage
        _fail(helper, f"did not start: {_why(error)}")
        return None
    if not helper.ready and time.monotonic() > helper.deadline:
        _fail(helper, f"not ready after {_START_TIMEOUT_S:.0f} s")
    return helper if helper.ready else None


class Offload:
    """A batch sent to the helper (see :func:`begin`)."""

    __slots__ = ("_helper", "_call_id", "_n", "_done", "_answered")

    def __init__(self, helper: _Helper, call_id: int, n: int) -> None:
        self._helper, self._call_id, self._n = helper, call_id, n
        self._done = self._answered = False

    def result(self, judge_here: Callable[[], np.ndarray]) -> np.ndarray:
        """Every pair's ``(accuracy, relevance, completeness)``, shape ``(n, 3)``: the
        helper's answer or, when it fails, ``judge_here()``, the batch judged in this
        process. Call it once the caller's other work is done."""
        try:
            start = time.perf_counter()
            answer = self._receive()
            waited = time.perf_counter() - start
        finally:
            self.abandon()
        if answer is None:
            _counts["fallbacks"] += 1
            return judge_here()
        scores, judge_s = answer
        _counts["calls"] += 1
        _counts["pairs"] += self._n
        _counts["helper_s"] += judge_s
        _counts["waited_s"] += waited
        return scores

    def abandon(self) -> None:
        """Let other calls use the helper. Until its answer to this request comes (then
        skipped), the helper may still read the shared buffer: calls judge in their own
        process meanwhile."""
        if not self._done:
            self._done = True
            if not self._answered:  # (the buffer is the helper's until it answers: _settled)
                self._helper.owed = self._call_id
            _LOCK.release()

    def _receive(self) -> tuple[np.ndarray, float] | None:
        helper = self._helper
        deadline = time.monotonic() + TIMEOUT_S + TIMEOUT_PER_PAIR_S * self._n
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not _answer_within(helper.conn, left):
                    _fail(helper, "no answer in time")
                    return None
                message = helper.conn.recv()
                if message[1] != self._call_id:
                    continue  # the answer to an abandoned request
                self._answered = True
                if message[0] == "ok" and _well_formed(message[2], self._n):
                    return message[2], message[3]
                _fail(helper, f"answered {message[2]!r:.200}" if message[0] == "error"
                      else "answered with malformed scores")
                return None
        except Exception as error:  # noqa: BLE001 - end of file, a broken socket, garbage
            code = helper.proc.poll()
            _fail(helper, f"exited with code {code}" if code is not None
                  else f"lost its socket: {_why(error)}")
            return None


def _answer_within(conn: Connection, timeout_s: float) -> bool:
    """Whether the helper's answer comes within ``timeout_s``, looked for without sleeping
    for the first :data:`_AWAKE_S` (the caller's own work is done by then)."""
    return poll_awake(conn, timeout_s, _AWAKE_S)


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _well_formed(scores: object, n: int) -> bool:
    return isinstance(scores, np.ndarray) and scores.dtype == np.float64 and scores.shape == (n, 3)


def begin(scorer: object, completions: list[str], references: Sequence[str]
          ) -> tuple[ParsedCompletions, Offload | None]:
    """Parse ``completions`` and, when the helper judges them (see the module's doc for
    when), into the memory the helper maps, then send it the batch; ``references`` is a
    checked list of str. Returns the parse and the request, or None when the calling process
    judges the batch. A returned request holds the helper until :meth:`Offload.result` or
    :meth:`Offload.abandon`.

    Raises:
        ValueError: ``HIMED_REWARDS_JUDGE_PROCESS`` or ``HIMED_REWARDS_THREADS`` is set to
            something they do not allow.

    Examples:
        >>> from himed_rewards.clinical.judge import OfflineClinicalJudge
        >>> parsed, request = begin(OfflineClinicalJudge(), ["No effusion."], ["No effusion."])
        >>> parsed.formats, request is None  # small
        ([-1.0], True)
    """
    helper = _helper_for(scorer, completions)
    if helper is None:
        return parse_completions(completions), None
    try:
        call_id = next(_ids)
        step = "lost its socket"  # (it died since the last call: judged here)
        # The references first: the helper analyses their sentences while this process
        # parses the completions (a GRPO step's 32 fresh references are about a sixth of
        # its judging), then waits for the request without sleeping (a helper asleep in recv
        # takes 0.2-0.3 ms to wake, on its critical path).
        distinct = list(dict.fromkeys(references))
        helper.conn.send(("references", distinct))
        # The parse writes the report bodies straight into the shared memory: the helper
        # reads them there, and the socket carries where they lie (rewards.judge_request).
        step = "could not grow the shared buffer"  # (no memory for it: judged here)
        parsed = parse_completions(completions, lambda size: helper.shared.array(size)[:size])
        # (the reports laid out and cut into sentences there too, while the helper learns
        # the references: then it starts at the look-ups)
        request = share_request(parsed, make_request(parsed, references, distinct),
                                helper.shared.array)
        step = "lost its socket"
        helper.conn.send(("judge", call_id, request))
    except Exception as error:  # noqa: BLE001 - never fails the reward call
        _fail(helper, f"{step}: {_why(error)}")
        _counts["fallbacks"] += 1
        _LOCK.release()
        return parse_completions(completions), None
    except BaseException:
        _LOCK.release()
        raise
    return parsed, Offload(helper, call_id, len(references))


def _helper_for(scorer: object, completions: list[str]) -> _Helper | None:
    """The helper, ready, settled and held (``_LOCK``), when it is to judge ``completions``
    for ``scorer``; else None (and nothing held)."""
    if len(completions) < MIN_PAIRS:
        return None
    from himed_rewards.clinical.judge import OfflineClinicalJudge

    if (type(scorer) is not OfflineClinicalJudge or not _enabled() or get_num_threads() < 2
            or sum(map(len, completions)) > MAX_SHARED_BYTES):
        return None
    if not _LOCK.acquire(blocking=False):
        return None  # another thread's call has the helper
    try:
        helper = _ready_helper()
        if helper is None or not _settled(helper):
            _LOCK.release()
            return None
    except BaseException:
        _LOCK.release()
        raise
    return helper


def _settled(helper: _Helper) -> bool:
    """Whether the helper owes no answer (to a request its caller abandoned); reads the
    answers that came meanwhile."""
    try:
        while helper.owed is not None and helper.conn.poll(0):
            if helper.conn.recv()[1] == helper.owed:
                helper.owed = None
    except Exception as error:  # noqa: BLE001 - end of file, a broken socket, garbage
        _fail(helper, f"lost its socket: {_why(error)}")
        return False
    return helper.owed is None


def _forget_in_child() -> None:
    # A forked child shares the parent's socket: it must not read the parent's answers. It
    # starts a helper of its own if it needs one. (The lock may have been held by another
    # thread of the parent.)
    global _LOCK
    _LOCK = threading.Lock()
    _state.update(helper=None, retry_at=0.0, pid=os.getpid())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
