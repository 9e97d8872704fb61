"""The HiMed reward: token, concept, format and semantic levels and their schedule."""

from typing import TYPE_CHECKING

from himed_rewards.rewards.breakdown import RewardBreakdown
from himed_rewards.rewards.compose import (
    ascore_batch,
    default_config,
    score,
    score_batch,
    total_reward,
    warmup,
)
from himed_rewards.rewards.config import RewardConfig
from himed_rewards.rewards.format import extract_report, format_reward
from himed_rewards.rewards.schedule import (
    ConstantSchedule,
    CosineSchedule,
    LinearSchedule,
    Schedule,
    StepSchedule,
)
from himed_rewards.rewards.threads import get_num_threads, set_num_threads

if TYPE_CHECKING:
    from himed_rewards.rewards.parallel import ParallelScorer

__all__ = [
    "ConstantSchedule",
    "CosineSchedule",
    "LinearSchedule",
    "ParallelScorer",
    "RewardBreakdown",
    "RewardConfig",
    "Schedule",
    "StepSchedule",
    "ascore_batch",
    "default_config",
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
    # ParallelScorer loads on first use: its process and socket machinery is not needed
    # by the serial reward, whose import stays cheap.
    if name == "ParallelScorer":
        from himed_rewards.rewards.parallel import ParallelScorer

        globals()[name] = ParallelScorer
        return ParallelScorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
