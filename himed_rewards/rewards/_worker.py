"""The worker process of :class:`~himed_rewards.rewards.parallel.ParallelScorer`.

Started as ``python -m himed_rewards.rewards._worker FD`` (a fresh interpreter, never a fork
of a training process that may hold CUDA contexts; and unlike multiprocessing's ``spawn``, the
caller's ``__main__`` is not re-imported, so a training script's torch is not loaded here).
``FD`` is one end of a socket pair; messages are pickled tuples (``multiprocessing``'s
framing):

* parent -> worker: ``("path", sys.path)`` and ``("init", config)`` once, then ``("score", call_id, completions,
  references, step)`` per chunk, ``("stop",)`` to exit;
* worker -> parent: ``("ready", pid, seconds)`` once warm, ``("ok", call_id, the pickled
  columns of the breakdowns, cpu_seconds)`` (the chunk's CPU time here, receiving and pickling included) or
  ``("error", call_id, exception)`` per chunk.

The worker exits when the parent closes its end (the parent died or shut down), so it never
outlives it.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from multiprocessing.connection import Connection

from himed_rewards.rewards._processes import run_helper
from himed_rewards.rewards.compose import score_batch, warmup
from himed_rewards.rewards.config import RewardConfig

# One completion that exercises every level: the kernels and the judge's tables load here.
_WARM_COMPLETION = ("<think>x</think><finding>Small left pleural effusion.</finding>"
                    "<impression>No pneumothorax.</impression>")
_WARM_REFERENCE = "Small left pleural effusion. No pneumothorax."


def _portable(error: BaseException) -> BaseException:
    """``error`` itself when it survives pickling, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any unpicklable exception is reported as text
        return RuntimeError(f"{type(error).__name__}: {error}")


def serve(conn: Connection) -> None:
    """Answer ``conn``'s requests until ``("stop",)`` or end of file."""
    message = conn.recv()
    if message[0] == "path":  # the caller's sys.path: its entries this one lacks go last
        sys.path.extend(p for p in message[1] if p not in sys.path)
        message = conn.recv()
    if message[0] != "init" or not isinstance(message[1], RewardConfig):
        raise RuntimeError(f"the first message must be ('init', RewardConfig), got {message!r:.80}")
    config = message[1]
    start = time.perf_counter()
    warmup()
    score_batch([_WARM_COMPLETION], [_WARM_REFERENCE], config=config)
    conn.send(("ready", os.getpid(), time.perf_counter() - start))
    while True:
        cpu = time.process_time()  # waiting in recv costs none: the delta is this chunk's
        message = conn.recv()
        if message[0] == "stop":
            return
        _, call_id, completions, references, step = message
        try:
            result = score_batch(completions, references, step=step, config=config)
        except Exception as error:  # noqa: BLE001 - handed to the caller, who raises it
            conn.send(("error", call_id, _portable(error)))
        else:
            # by columns: 3-4x cheaper to pickle than named tuples (no __reduce__ per row)
            payload = pickle.dumps(list(zip(*result, strict=True)), pickle.HIGHEST_PROTOCOL)
            conn.send(("ok", call_id, payload, time.process_time() - cpu))


if __name__ == "__main__":
    sys.exit(run_helper(serve, sys.argv))
