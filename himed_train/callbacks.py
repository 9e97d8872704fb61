"""Trainer callbacks: report the HiMed reward's compute time for every logged step."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["reward_timing_callback"]

log = logging.getLogger("himed_train")


def reward_timing_callback(prefix: str = "himed") -> Any:
    """A ``transformers.TrainerCallback`` that logs ``<prefix>/compute_seconds`` (the time
    ``score_batch`` took, averaged over the logging window) and the mean total reward."""
    from transformers import TrainerCallback

    class RewardTimingCallback(TrainerCallback):
        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any
        ) -> None:
            seconds = (logs or {}).get(f"{prefix}/compute_seconds")
            if seconds is not None:
                total = (logs or {}).get(f"{prefix}/total")
                log.info(
                    "step %d: reward compute %.3f s, mean total reward %s",
                    state.global_step,
                    seconds,
                    "n/a" if total is None else f"{total:.4f}",
                )

    return RewardTimingCallback()
