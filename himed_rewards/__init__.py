"""himed-rewards: clinically-aware hierarchical rewards (HiMed-RL) and exact, fast metrics.

Examples:
    >>> from himed_rewards import total_reward
    >>> c = "<think>no acute finding</think><finding>Lungs are clear.</finding><impression>Normal.</impression>"
    >>> isinstance(total_reward(c, "The lungs are clear. No acute disease."), float)
    True
"""

from himed_rewards.rewards import (
    ConstantSchedule,
    CosineSchedule,
    LinearSchedule,
    RewardBreakdown,
    RewardConfig,
    Schedule,
    StepSchedule,
    ascore_batch,
    extract_report,
    format_reward,
    score,
    score_batch,
    total_reward,
    warmup,
)

__version__ = "0.1.0"

__all__ = [
    "ConstantSchedule",
    "CosineSchedule",
    "LinearSchedule",
    "RewardBreakdown",
    "RewardConfig",
    "Schedule",
    "StepSchedule",
    "__version__",
    "ascore_batch",
    "extract_report",
    "format_reward",
    "score",
    "score_batch",
    "total_reward",
    "warmup",
]
