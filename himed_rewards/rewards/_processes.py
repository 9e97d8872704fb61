"""Starting a helper process of this package: a fresh interpreter on one end of a socket pair.

``ParallelScorer``'s workers (``rewards/_worker.py``) and the offline judge's helper
(``rewards/_judge_worker.py``) start this way: never a fork of a training process that may
hold CUDA contexts, and, unlike multiprocessing's ``spawn``, without re-importing the caller's
``__main__`` (a training script and its torch stay out). Messages are pickled tuples in
``multiprocessing``'s framing.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

__all__ = ["start_helper", "helper_environment", "run_helper", "poll_awake"]

_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding this himed_rewards
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "NUMBA_NUM_THREADS", "HIMED_REWARDS_THREADS")
# A request (~100 KB of text for 256 completions) must fit in the socket at once, or the
# caller blocks until the helper is scheduled to read it (capped by wmem_max).
_SOCKET_BUFFER = 4 << 20


def helper_environment() -> dict[str, str]:
    """The caller's environment, with this package first on the path and one thread for
    every library that reads a thread count (a helper takes one core)."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _ROOT + os.pathsep + path if path else _ROOT  # the caller's package
    for name in _THREAD_VARIABLES:  # one core each: no thread pools fighting over cores
        env[name] = "1"
    # Helpers share cold compiles through the kernel claims (kernels/_claims.py); compile
    # helpers of their own would only take cores from each other.
    env.setdefault("HIMED_REWARDS_COMPILE_HELPERS", "0")
    return env


def start_helper(module: str, pass_fds: tuple[int, ...] = ()
                 ) -> tuple[subprocess.Popen, Connection]:
    """Start ``python -m module FD [FD...]`` (``FD``: the helper's end of a new socket pair,
    then ``pass_fds``, descriptors the helper inherits) and return the process and the
    caller's end. The helper's standard streams are closed but
    for stderr (its tracebacks reach the caller's terminal), and it runs in a session of its
    own: Ctrl-C reaches the caller, which stops its helpers.

    Examples:
        >>> from himed_rewards.rewards._shared_buffer import SharedBuffer
        >>> shared = SharedBuffer()  # (the judge's helper reads its requests' texts there)
        >>> proc, conn = start_helper("himed_rewards.rewards._judge_worker", (shared.fd,))
        >>> conn.close(); proc.wait(10)  # (end of file: the helper exits)
        0
        >>> shared.close()
    """
    parent_end, child_end = socket.socketpair()
    for end in (parent_end, child_end):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, str(child_end.fileno()), *map(str, pass_fds)],
            pass_fds=(child_end.fileno(), *pass_fds), env=helper_environment(),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
        )
    except BaseException:
        parent_end.close()
        raise
    finally:
        child_end.close()
    return proc, Connection(parent_end.detach())


def poll_awake(conn: Connection, timeout_s: float, awake_s: float) -> bool:
    """Whether a message comes on ``conn`` within ``timeout_s``: looked for without sleeping
    for the first ``awake_s`` (a process asleep in ``poll`` or ``recv`` takes 0.1-0.3 ms to
    wake up when it comes, on a virtual machine), then waited for, asleep.

    Examples:
        >>> from multiprocessing.connection import Pipe
        >>> a, b = Pipe()
        >>> poll_awake(a, 0.01, 0.001)
        False
        >>> b.send("x"); poll_awake(a, 0.01, 0.001)
        True
    """
    awake_until = time.perf_counter() + min(awake_s, timeout_s)
    # (a poll object made once: Connection.poll makes a selector per look, 15-50 us, the
    # delay between a message's coming and its being seen; without select.poll, that)
    look = _poller(conn)
    while time.perf_counter() < awake_until:
        if look():
            return True
    return conn.poll(max(0.0, timeout_s - awake_s))


def _poller(conn: Connection) -> Callable[[], bool]:
    """A function that says, without waiting, whether ``conn`` can be read (a message, or
    end of file)."""
    if not hasattr(select, "poll"):
        return lambda: conn.poll(0)
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return lambda: bool(poller.poll(0))


def run_helper(serve: Callable[[Connection], None], argv: list[str]) -> int:
    """A helper's ``main``: ``serve`` the connection whose descriptor is ``argv[1]`` until
    the caller stops it or goes away (end of file, a broken socket: nothing left to answer);
    the exit status."""
    # Ctrl-C in a terminal reaches the whole process group: the caller decides, not us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[1]))
    try:
        serve(conn)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the caller is gone
    finally:
        conn.close()
    return 0
