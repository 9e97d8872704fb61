"""Run the offline clinical judge through one path: the interpreter's or the kernel's.

``OfflineClinicalJudge.score_batch`` uses the compiled merge and scoring
(``himed_rewards.clinical.encoded``) once its kernel is ready, else the Python functions of
``attributes`` and ``judge``; both must give the same floats. Tests pick the path with
:func:`judge_path` instead of depending on the state of the numba cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def judge_path(kernel: bool) -> Iterator[None]:
    """Within the block, the judge scores with its kernel (compiled or loaded first; for
    batches of any size) or in the interpreter only."""
    from himed_rewards.clinical import encoded, judge

    saved, smallest = dict(encoded._READY), judge._KERNEL_FROM
    if kernel:
        encoded.use_judge_kernel()
        judge._KERNEL_FROM = 1  # every batch, however small
    else:
        encoded._READY.update(ready=False, checked=float("inf"))  # never rechecked
    try:
        yield
    finally:
        encoded._READY.update(saved)
        judge._KERNEL_FROM = smallest
