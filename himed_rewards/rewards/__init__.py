"""The HiMed reward: token, concept, format and semantic levels and their schedule."""

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

__all__ = [
    "ConstantSchedule",
    "CosineSchedule",
    "LinearSchedule",
    "RewardBreakdown",
    "RewardConfig",
    "Schedule",
    "StepSchedule",
    "ascore_batch",
    "default_config",
    "extract_report",
    "format_reward",
    "score",
    "score_batch",
    "total_reward",
    "warmup",
]
