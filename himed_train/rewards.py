"""The HiMed reward as a TRL ``GRPOTrainer`` reward function.

TRL (1.16) calls a reward function with keyword arguments only: ``prompts``,
``completions``, ``completion_ids``, every extra dataset column (here ``reference``),
``trainer_state`` (a ``transformers.TrainerState``), ``log_metric(name, value)`` and
``log_extra(column, values)``. It names the reward by ``__name__``, pickles it when it spawns
workers, runs an instance whose ``__call__`` is ``async def`` concurrently with the other
async rewards, and skips a sample whose reward is ``None`` (that reward is left out of the
sample's sum instead of being taken as 0).

This module needs neither torch nor TRL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import himed_rewards as hr
from himed_rewards.evaluation.metric_rewards import completion_text

__all__ = ["HimedReward", "AsyncHimedReward", "completion_text", "LOGGED_FIELDS"]

#: Breakdown fields whose batch mean is logged through ``log_metric`` (None values excluded).
LOGGED_FIELDS = (
    "token",
    "concept_base",
    "keyword_bonus",
    "concept",
    "format",
    "low_level",
    "semantic",
    "semantic_accuracy",
    "semantic_relevance",
    "semantic_completeness",
    "alpha1",
    "alpha2",
    "total",
)


def _step_of(trainer_state: Any) -> int:
    """``trainer_state.global_step``, or 0 before training starts / without a trainer."""
    if trainer_state is None:
        return 0
    step = getattr(trainer_state, "global_step", None)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise TypeError(
            f"trainer_state.global_step must be an int >= 0, got {step!r} "
            f"(trainer_state={type(trainer_state).__name__})"
        )
    return step


class HimedReward:
    """HiMed-RL reward for TRL: ``total`` of :func:`himed_rewards.score_batch` per sample.

    Args:
        config: the reward configuration (weights, schedule, semantic judge); ``None`` uses
            the library defaults.
        reference_column: the dataset column holding the reference report.
        name: the ``__name__`` TRL logs the reward under (``rewards/<name>/mean``).
        log_prefix: prefix of the metrics sent through ``log_metric``.
        log_per_sample: also add per-sample total and semantic error columns to TRL's
            completions table through ``log_extra``.
        workers: processes that score one call's batch (see
            :class:`himed_rewards.ParallelScorer`); 1 scores in the calling process. The
            worker processes start at the first call, in the process that makes it (a pickled
            copy starts its own), and stop at :meth:`close` or exit.

    The schedule step is ``trainer_state.global_step`` (0 when no state is passed). Each call
    logs the batch mean of every level and of both alphas, the share of samples without a
    total, and the scoring time in seconds (``<prefix>/compute_seconds``).

    Examples:
        >>> reward = HimedReward(name="himed")
        >>> reward.__name__
        'himed'
        >>> import pickle
        >>> pickle.loads(pickle.dumps(reward)).__name__
        'himed'
    """

    def __init__(
        self,
        config: hr.RewardConfig | None = None,
        *,
        reference_column: str = "reference",
        name: str = "himed",
        log_prefix: str = "himed",
        log_per_sample: bool = True,
        workers: int = 1,
    ) -> None:
        if config is not None and not isinstance(config, hr.RewardConfig):
            raise TypeError(f"config must be a RewardConfig or None, got {type(config).__name__}")
        for arg, value in (("reference_column", reference_column), ("name", name),
                           ("log_prefix", log_prefix)):  # fmt: skip
            if not isinstance(value, str) or not value:
                raise ValueError(f"{arg} must be a non-empty str, got {value!r}")
        self.config = config
        self.reference_column = reference_column
        self.__name__ = name
        self.log_prefix = log_prefix
        self.log_per_sample = bool(log_per_sample)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}")
        self.workers = workers
        self.last_compute_seconds: float | None = None
        self._scorer: hr.ParallelScorer | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_scorer"] = None  # worker processes belong to this process, not to a copy
        return state

    def scorer(self) -> hr.ParallelScorer | None:
        """The :class:`himed_rewards.ParallelScorer` of this process (started on first use),
        or None when ``workers`` is 1."""
        if self.workers > 1 and self._scorer is None:
            self._scorer = hr.ParallelScorer(self.workers, self.config)
        return self._scorer

    def close(self) -> None:
        """Stop the worker processes, if any (a later call starts new ones)."""
        if self._scorer is not None:
            self._scorer.close()
            self._scorer = None

    def __repr__(self) -> str:
        name, column = self.__name__, self.reference_column
        return f"{type(self).__name__}(name={name!r}, reference_column={column!r})"

    # -- the TRL call ---------------------------------------------------------------------

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        *,
        trainer_state: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        log_extra: Callable[[str, list], None] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        texts, references, step = self._inputs(completions, trainer_state, kwargs)
        start = time.perf_counter()
        scorer = self.scorer()
        breakdowns = (scorer.score_batch(texts, references, step=step) if scorer is not None
                      else hr.score_batch(texts, references, step=step, config=self.config))
        return self._finish(breakdowns, time.perf_counter() - start, log_metric, log_extra)

    # -- shared by the sync and async forms -----------------------------------------------

    def _inputs(
        self, completions: Sequence[Any] | None, trainer_state: Any, kwargs: dict[str, Any]
    ) -> tuple[list[str], list[str], int]:
        if completions is None:
            raise TypeError("completions is required (TRL passes it as a keyword argument)")
        if self.reference_column not in kwargs:
            raise TypeError(
                f"missing dataset column {self.reference_column!r}: the dataset must have it "
                f"(got keyword arguments {sorted(kwargs)})"
            )
        references = kwargs[self.reference_column]
        if isinstance(references, str) or len(references) != len(completions):
            raise ValueError(
                f"{self.reference_column} must be a list with one reference per completion "
                f"({len(completions)}), got {references!r:.200}"
            )
        texts = [completion_text(c) for c in completions]
        refs = [str(r) for r in references]
        return texts, refs, _step_of(trainer_state)

    def _finish(
        self,
        breakdowns: Sequence[Any],
        seconds: float,
        log_metric: Callable[[str, float], None] | None,
        log_extra: Callable[[str, list], None] | None,
    ) -> list[float | None]:
        self.last_compute_seconds = seconds
        totals = [b.total for b in breakdowns]
        if log_metric is not None:
            for name, value in self.summarise(breakdowns).items():
                log_metric(f"{self.log_prefix}/{name}", value)
            log_metric(f"{self.log_prefix}/compute_seconds", seconds)
        if log_extra is not None and self.log_per_sample:
            log_extra(f"{self.log_prefix}_total", list(totals))
            log_extra(f"{self.log_prefix}_semantic_error", [b.semantic_error for b in breakdowns])
        return totals

    @staticmethod
    def summarise(breakdowns: Sequence[Any]) -> dict[str, float]:
        """Batch means of :data:`LOGGED_FIELDS` (fields that are None everywhere are left out)
        and ``missing_total``, the share of samples without a total.

        Examples:
            >>> from types import SimpleNamespace as B
            >>> rows = [B(token=1.0, total=2.0), B(token=0.0, total=None)]
            >>> HimedReward.summarise(rows)
            {'token': 0.5, 'total': 2.0, 'missing_total': 0.5}
        """
        means: dict[str, float] = {}
        for name in LOGGED_FIELDS:
            values = [getattr(b, name, None) for b in breakdowns]
            present = [float(v) for v in values if v is not None]
            if present:
                mean = math.fsum(present) / len(present)
                if not math.isfinite(mean):
                    raise ValueError(f"reward field {name!r} has a non-finite batch mean {mean}")
                means[name] = mean
        if breakdowns:
            means["missing_total"] = sum(b.total is None for b in breakdowns) / len(breakdowns)
        return means


class AsyncHimedReward(HimedReward):
    """The same reward with an ``async`` call (``himed_rewards.ascore_batch``), so TRL awaits
    it concurrently with other async rewards while an LLM judge grades the batch.

    Examples:
        >>> import inspect
        >>> inspect.iscoroutinefunction(AsyncHimedReward().__call__)
        True
    """

    async def __call__(  # type: ignore[override]
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        *,
        trainer_state: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        log_extra: Callable[[str, list], None] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        texts, references, step = self._inputs(completions, trainer_state, kwargs)
        start = time.perf_counter()
        scorer = self.scorer()
        breakdowns = (await scorer.ascore_batch(texts, references, step=step)
                      if scorer is not None
                      else await hr.ascore_batch(texts, references, step=step,
                                                 config=self.config))
        return self._finish(breakdowns, time.perf_counter() - start, log_metric, log_extra)
