"""The helper process of :mod:`himed_rewards.rewards.judge_process`: the offline clinical
judge's share of a batch, on another core.

Started by ``rewards._processes.start_helper`` as ``python -m
himed_rewards.rewards._judge_worker FD SHARED``, ``FD`` one end of a socket pair, ``SHARED``
a file in memory the parent parses its requests' completions into (``rewards._shared_buffer``).
Messages are pickled tuples (``multiprocessing``'s framing):

* helper -> parent, once the judge's kernel is loaded: ``("ready", pid, seconds)``;
* parent -> helper: ``("references", texts)`` when a request is on its way, ``texts`` its
  distinct references (the helper analyses their sentences while the parent parses the
  completions, then waits for the request awake, for a few milliseconds at most);
  ``("judge", call_id, request)`` per request, ``request`` a
  ``rewards.judge_request.SharedRequest`` (the batch's texts laid out and cut into sentences
  in ``SHARED``, with the arrays the judge reads, all written by the parent); ``("stop",)``
  to exit;
* helper -> parent, per request: ``("ok", call_id, scores, seconds)``, ``scores`` being
  ``OfflineClinicalJudge().score_columns(reports, references)`` of the completions' reports
  (what ``score_batch`` judges; read in place by ``rewards.judge_request.judge_shared``), a
  float64 array of shape ``(n, 3)``, and ``seconds`` the wall time it took; or ``("error",
  call_id, text)``. The parent does not write ``SHARED`` again before that answer.

The helper exits when the parent's end closes (the parent stopped it, or died).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from multiprocessing.connection import Connection

from himed_rewards.rewards._processes import poll_awake, run_helper

# requests between two collections of the whole heap (see serve)
_FULL_COLLECTION_EVERY = 50
# How long the helper waits for the request without sleeping once it has analysed the
# references (the caller parses its batch meanwhile: about 0.2-0.6 ms for 512 completions,
# longer for long ones)
_AWAKE_S = 0.005


def serve(conn: Connection, shared_fd: int) -> None:
    """Load the judge, say so, then answer ``conn``'s requests, whose texts are in the
    shared file ``shared_fd``, until ``("stop",)``."""
    start = time.perf_counter()
    from himed_rewards.clinical.encoded import learn_texts, use_judge_kernel
    from himed_rewards.clinical.judge import OfflineClinicalJudge
    from himed_rewards.rewards._shared_buffer import SharedBuffer
    from himed_rewards.rewards.judge_request import judge_shared

    use_judge_kernel()  # (from the numba cache: the parent only starts a helper once it is there)
    judge = OfflineClinicalJudge()
    shared = SharedBuffer(shared_fd)
    conn.send(("ready", os.getpid(), time.perf_counter() - start))
    # The collector runs between requests, not inside them: the judge's sentence records make
    # a large heap of long-lived objects, and a full collection that lands in a request holds
    # the caller up (tens of ms). Young objects after every answer; the whole heap now and
    # then, when the helper would otherwise wait (a training step leaves it seconds).
    gc.disable()
    answered = 0
    while True:
        message = conn.recv()
        if message[0] == "stop":
            return
        if message[0] == "references":  # the request follows once the caller has parsed
            # (their sentences' records, which the request's judging then finds; whatever
            # fails here, the request judges them anyway)
            with contextlib.suppress(Exception):
                learn_texts(message[1])
            poll_awake(conn, _AWAKE_S, _AWAKE_S)  # (then recv: at once, or asleep)
            continue
        _, call_id, request = message
        start = time.perf_counter()
        try:
            scores = judge_shared(judge, request, shared.array(request.end))
        except Exception as error:  # noqa: BLE001 - reported; the parent judges these itself
            conn.send(("error", call_id, f"{type(error).__name__}: {error}"))
        else:
            conn.send(("ok", call_id, scores, time.perf_counter() - start))
        answered += 1
        gc.collect(2 if answered % _FULL_COLLECTION_EVERY == 0 else 1)


if __name__ == "__main__":
    sys.exit(run_helper(lambda conn: serve(conn, int(sys.argv[2])), sys.argv))
