"""The one rule for the schedule step when none is given (evaluation, CLI, demo).

Outside training there is no step, so every entry point that scores reports without one
(``evaluate()``, ``himed-rewards eval``, ``score`` and ``demo``) uses the schedule's *final
step*: the first step at which alpha1 has reached its last value (``T`` for the linear and
cosine schedules, the last boundary of a step schedule, 0 for a constant one). That is the
weighting a trained policy ends with, and every reward level counts in it. Training code
always passes its own step.
"""

from __future__ import annotations

__all__ = ["final_step", "resolve_step"]


def final_step(config: object) -> int:
    """The first step at which ``config``'s schedule has reached its final alpha1.

    Args:
        config: a :class:`~himed_rewards.RewardConfig`.

    Returns:
        ``T``, the last boundary, or 0 (constant schedule).

    Examples:
        >>> from himed_rewards import RewardConfig
        >>> final_step(RewardConfig())
        10000
    """
    schedule = getattr(config, "schedule", None)
    if schedule is None:
        raise TypeError(f"config must be a RewardConfig, got {type(config).__name__}")
    if hasattr(schedule, "T"):
        return int(schedule.T)
    boundaries = getattr(schedule, "boundaries", ())
    return int(boundaries[-1]) if boundaries else 0


def resolve_step(step: int | None, config: object) -> int:
    """``step`` itself, or :func:`final_step` of ``config`` when ``step`` is None.

    Args:
        step: an explicit step (>= 0) or None.
        config: a :class:`~himed_rewards.RewardConfig`.

    Returns:
        The step to score at.

    Examples:
        >>> from himed_rewards import RewardConfig
        >>> resolve_step(None, RewardConfig()), resolve_step(250, RewardConfig())
        (10000, 250)
    """
    if step is None:
        return final_step(config)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an integer >= 0 or None, got {step!r}")
    return step
