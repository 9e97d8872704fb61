"""Compile the reward's numba kernels before the first training step.

Without this the first GRPO step pays the JIT compile inside the reward call, which shows up
as a spike in ``himed/compute_seconds`` and stalls every rank at once.
"""

from __future__ import annotations

import logging

import himed_rewards as hr

__all__ = ["warm_up_reward"]

log = logging.getLogger("himed_train")


def warm_up_reward() -> float:
    """Run ``himed_rewards.warmup()``, log and return the seconds it took.

    Examples:
        >>> warm_up_reward() >= 0.0
        True
    """
    seconds = float(hr.warmup())
    log.info("himed_rewards.warmup(): numba kernels ready in %.2f s", seconds)
    return seconds
