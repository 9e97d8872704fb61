"""The contract every semantic scorer fulfils (the LLM judge and the offline clinical judge).

This module stands apart: it imports nothing else from ``himed_rewards``, so the reward
layer can depend on it and any scorer (ours or a user's) can implement it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["SemanticVerdict", "SemanticScorer"]


@dataclass(frozen=True)
class SemanticVerdict:
    """One candidate report graded against one reference, each axis in [0, 1].

    ``accuracy``, ``relevance`` and ``completeness`` are ``None`` only for a failed verdict
    that the failure policy chose to skip; ``error`` then says why. A verdict that carries
    values *and* an error is a documented fallback value (``on_failure=<float>``).

    Examples:
        >>> v = SemanticVerdict(accuracy=1.0, relevance=0.5, completeness=0.25, source="demo")
        >>> v.total
        1.75
        >>> SemanticVerdict.failed("timeout after 30.0 s", source="demo").total is None
        True
    """

    accuracy: float | None
    relevance: float | None
    completeness: float | None
    error: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        values = (self.accuracy, self.relevance, self.completeness)
        present = [v is not None for v in values]
        if any(present) and not all(present):
            raise ValueError("SemanticVerdict axes must be all set or all None")
        for name, value in zip(("accuracy", "relevance", "completeness"), values, strict=True):
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"SemanticVerdict.{name} must be a finite number in [0, 1], got {value!r}")
        if not present[0] and self.error is None:
            raise ValueError("a SemanticVerdict without scores must say why in `error`")

    @classmethod
    def scored(
        cls, accuracy: float, relevance: float, completeness: float, source: str
    ) -> SemanticVerdict:
        """A verdict with three scores, built without the dataclass machinery when every
        score is a float in [0, 1] (a scorer's hot path: one per sample); anything else
        goes through the validating constructor, which raises.

        Examples:
            >>> SemanticVerdict.scored(1.0, 0.5, 0.25, "demo")
            SemanticVerdict(accuracy=1.0, relevance=0.5, completeness=0.25, error=None, \
source='demo')
            >>> SemanticVerdict.scored(float("nan"), 0.5, 0.25, "demo")
            Traceback (most recent call last):
            ...
            ValueError: SemanticVerdict.accuracy must be a finite number in [0, 1], got nan
        """
        if (type(accuracy) is float and type(relevance) is float
                and type(completeness) is float and 0.0 <= accuracy <= 1.0
                and 0.0 <= relevance <= 1.0 and 0.0 <= completeness <= 1.0):  # NaN fails
            verdict = _new(cls)
            # the fields of a frozen dataclass without slots live in its __dict__
            verdict.__dict__.update(accuracy=accuracy, relevance=relevance,
                                    completeness=completeness, error=None, source=source)
            return verdict
        return cls(accuracy, relevance, completeness, source=source)

    @classmethod
    def failed(cls, error: str, *, source: str = "") -> SemanticVerdict:
        """A verdict with no scores: the sample gets no semantic reward (skipped, not 0)."""
        return cls(None, None, None, error=error, source=source)

    @property
    def ok(self) -> bool:
        """True when the axes hold values (a real verdict or a documented fallback)."""
        return self.accuracy is not None

    @property
    def total(self) -> float | None:
        """``accuracy + relevance + completeness`` in [0, 3] (Eq. 6), or None when failed."""
        if self.accuracy is None or self.relevance is None or self.completeness is None:
            return None
        return self.accuracy + self.relevance + self.completeness


_new = object.__new__


@runtime_checkable
class SemanticScorer(Protocol):
    """What ``RewardConfig(semantic=...)`` accepts.

    ``score_batch`` must return one verdict per pair, in order, and must not raise for a
    failing backend unless the scorer was explicitly configured to (``on_failure="raise"``).
    A CPU-bound scorer may also offer ``score_columns(candidates, references)``, the
    verdicts' three scores as a float64 array of shape ``(n, 3)``; the reward then takes
    those instead (no verdict object per pair; see ``OfflineClinicalJudge``).
    """

    name: str

    def score_batch(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> list[SemanticVerdict]: ...

    def signature(self) -> str: ...
