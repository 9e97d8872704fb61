"""Schedules for the weights of the low-level (alpha1) and semantic (alpha2) rewards.

The paper's Eq. 10: ``alpha1(t) = max(1 - t / T, alpha_min)`` and ``alpha2 = 1 - alpha1``,
moving weight from the token/concept/format rewards to the semantic one during GRPO.
Any object with ``alpha1(step) -> float`` in [0, 1] is a schedule; the built-in ones are
pydantic models with a ``kind`` so that configurations round-trip through YAML.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Schedule",
    "LinearSchedule",
    "ConstantSchedule",
    "CosineSchedule",
    "StepSchedule",
    "AnySchedule",
    "check_step",
    "refuse_bools",
]


def refuse_bools(values: Any, owner: str) -> Any:
    """Reject ``True``/``False`` given for a number (``step: false`` in YAML is not step 0).

    Pydantic's lax mode reads a bool as 0 or 1; a config file with a typo would then train
    with a silently different schedule or weight. Lists of numbers are checked too.

    Examples:
        >>> refuse_bools({"T": 100}, "LinearSchedule")
        {'T': 100}
        >>> refuse_bools({"T": False}, "LinearSchedule")
        Traceback (most recent call last):
        ...
        ValueError: LinearSchedule.T must be a number, got bool False
    """
    if not isinstance(values, dict):
        return values
    for name, value in values.items():
        items = value if isinstance(value, (list, tuple)) else (value,)
        for item in items:
            if isinstance(item, (bool, np.bool_)):
                raise ValueError(f"{owner}.{name} must be a number, got bool {item!r}")
    return values


def check_step(step: object) -> int:
    """Validate a training step: a non-negative int.

    Examples:
        >>> check_step(3)
        3
        >>> check_step(-1)
        Traceback (most recent call last):
        ...
        ValueError: step must be a non-negative int, got -1
    """
    if isinstance(step, bool) or not isinstance(step, int):
        # numpy integers and the like are accepted through __index__
        index = getattr(step, "__index__", None)
        if index is None or isinstance(step, bool):
            raise TypeError(f"step must be a non-negative int, got {type(step).__name__}")
        step = index()
    if step < 0:
        raise ValueError(f"step must be a non-negative int, got {step}")
    return int(step)


@runtime_checkable
class Schedule(Protocol):
    """Anything that maps a training step to alpha1 in [0, 1]."""

    def alpha1(self, step: int) -> float: ...


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_bools(cls, values: Any) -> Any:
        return refuse_bools(values, cls.__name__)

    def alpha2(self, step: int) -> float:
        """``1 - alpha1(step)``."""
        return 1.0 - self.alpha1(step)

    def alpha1(self, step: int) -> float:  # pragma: no cover - overridden
        raise NotImplementedError


class LinearSchedule(_Base):
    """``alpha1(t) = max(1 - t / T, alpha_min)`` (the paper's Eq. 10; best: T=10k, 0.1).

    Examples:
        >>> s = LinearSchedule(T=10_000, alpha_min=0.1)
        >>> s.alpha1(0), s.alpha1(5_000), s.alpha1(20_000), round(s.alpha2(5_000), 3)
        (1.0, 0.5, 0.1, 0.5)
    """

    kind: Literal["linear"] = "linear"
    T: int = Field(10_000, gt=0, description="steps over which alpha1 decays")
    alpha_min: float = Field(0.1, ge=0.0, le=1.0, description="floor of alpha1")

    def alpha1(self, step: int) -> float:
        return max(1.0 - check_step(step) / self.T, self.alpha_min)


class ConstantSchedule(_Base):
    """A fixed alpha1 (``alpha1=1`` trains on the low-level rewards only).

    Examples:
        >>> ConstantSchedule(alpha=0.7).alpha1(123)
        0.7
    """

    kind: Literal["constant"] = "constant"
    alpha: float = Field(1.0, ge=0.0, le=1.0)

    def alpha1(self, step: int) -> float:
        check_step(step)
        return self.alpha


class CosineSchedule(_Base):
    """alpha1 follows half a cosine from 1 to ``alpha_min`` over ``T`` steps.

    Examples:
        >>> s = CosineSchedule(T=100, alpha_min=0.0)
        >>> s.alpha1(0), round(s.alpha1(50), 6), s.alpha1(100)
        (1.0, 0.5, 0.0)
    """

    kind: Literal["cosine"] = "cosine"
    T: int = Field(10_000, gt=0)
    alpha_min: float = Field(0.1, ge=0.0, le=1.0)

    def alpha1(self, step: int) -> float:
        progress = min(check_step(step) / self.T, 1.0)
        return self.alpha_min + (1.0 - self.alpha_min) * 0.5 * (1.0 + math.cos(math.pi * progress))


class StepSchedule(_Base):
    """alpha1 drops to ``values[i]`` at ``boundaries[i]`` (piecewise constant, starts at 1).

    Examples:
        >>> s = StepSchedule(boundaries=[100, 200], values=[0.5, 0.1])
        >>> s.alpha1(99), s.alpha1(100), s.alpha1(250)
        (1.0, 0.5, 0.1)
    """

    kind: Literal["step"] = "step"
    boundaries: tuple[int, ...]
    values: tuple[float, ...]

    @model_validator(mode="after")
    def _check(self) -> StepSchedule:
        if len(self.boundaries) != len(self.values):
            raise ValueError("boundaries and values must have the same length")
        if list(self.boundaries) != sorted(self.boundaries) or any(b < 0 for b in self.boundaries):
            raise ValueError("boundaries must be non-negative and increasing")
        if any(not 0.0 <= v <= 1.0 for v in self.values):
            raise ValueError("values must lie in [0, 1]")
        return self

    def alpha1(self, step: int) -> float:
        step = check_step(step)
        alpha = 1.0
        for boundary, value in zip(self.boundaries, self.values, strict=True):
            if step >= boundary:
                alpha = value
        return alpha


AnySchedule = Annotated[
    LinearSchedule | ConstantSchedule | CosineSchedule | StepSchedule,
    Field(discriminator="kind"),
]
