"""himed-rewards: clinically-aware hierarchical rewards (HiMed-RL) and exact, fast metrics.

The public names load on first use: ``import himed_rewards`` costs almost nothing, and
``from himed_rewards.metrics import sentence_bleu`` loads the metrics without the reward
layer or any judge.

Examples:
    >>> from himed_rewards import total_reward
    >>> c = "<think>no acute finding</think><finding>Lungs are clear.</finding><impression>Normal.</impression>"
    >>> isinstance(total_reward(c, "The lungs are clear. No acute disease."), float)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from himed_rewards.rewards import (
        ConstantSchedule,
        CosineSchedule,
        LinearSchedule,
        ParallelScorer,
        RewardBreakdown,
        RewardConfig,
        Schedule,
        StepSchedule,
        ascore_batch,
        extract_report,
        format_reward,
        get_num_threads,
        score,
        score_batch,
        set_num_threads,
        total_reward,
        warmup,
    )

__version__ = "0.1.0"

__all__ = [
    "ConstantSchedule",
    "CosineSchedule",
    "LinearSchedule",
    "ParallelScorer",
    "RewardBreakdown",
    "RewardConfig",
    "Schedule",
    "StepSchedule",
    "__version__",
    "ascore_batch",
    "extract_report",
    "format_reward",
    "get_num_threads",
    "score",
    "score_batch",
    "set_num_threads",
    "total_reward",
    "warmup",
]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from himed_rewards import rewards

    value = getattr(rewards, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
