"""Build the HiMed reward (config, semantic judge, TRL callable) from a RewardSection.

No torch or TRL here; ``himed_rewards`` provides the scoring, its LLM judge and its
offline clinical judge.
"""

from __future__ import annotations

import os
from typing import Any

import himed_rewards as hr
from himed_train.config import RewardSection, VerifierSection
from himed_train.rewards import AsyncHimedReward, HimedReward

__all__ = ["build_semantic_scorer", "build_reward_config", "build_reward"]


def _verifier(section: VerifierSection) -> Any:
    from himed_rewards.judge import LLMJudge

    api_key = None
    if section.api_key_env is not None:
        api_key = os.environ.get(section.api_key_env)
        if not api_key:
            raise ValueError(
                f"reward.verifier.api_key_env names {section.api_key_env!r}, "
                "but that environment variable is unset or empty"
            )
    return LLMJudge(
        section.base_url,
        section.model,
        api_key=api_key,
        timeout=section.timeout,
        max_retries=section.max_retries,
        concurrency=section.concurrency,
        dialect=section.dialect,
        on_failure=section.on_failure,
        max_tokens=section.max_tokens,
        cache_path=section.cache_path,
        extra_body=section.extra_body,
    )


def build_semantic_scorer(section: RewardSection) -> Any:
    """The semantic judge the section names: the LLM verifier, the offline clinical judge,
    or None (no semantic level).

    Examples:
        >>> build_semantic_scorer(RewardSection(judge="offline")).name
        'clinical'
        >>> build_semantic_scorer(RewardSection(judge="none")) is None
        True
    """
    if section.judge == "llm":
        return _verifier(section.verifier)
    if section.judge == "offline":
        from himed_rewards.clinical import OfflineClinicalJudge

        return OfflineClinicalJudge()
    return None


def build_reward_config(section: RewardSection) -> hr.RewardConfig:
    """A ``RewardConfig``: the ``config_file`` (if any) as base, with the section's schedule
    and semantic judge always applied on top.

    Examples:
        >>> cfg = build_reward_config(RewardSection(judge="offline"))
        >>> cfg.schedule.T, cfg.schedule.alpha_min
        (10000, 0.1)
    """
    schedule = hr.LinearSchedule(T=section.schedule.T, alpha_min=section.schedule.alpha_min)
    semantic = build_semantic_scorer(section)
    if section.config_file is None:
        return hr.RewardConfig(schedule=schedule, semantic=semantic)
    base = hr.RewardConfig.from_file(section.config_file)
    return base.model_copy(update={"schedule": schedule, "semantic": semantic})


def build_reward(section: RewardSection, *, name: str = "himed") -> HimedReward:
    """The TRL reward callable: :class:`AsyncHimedReward` when ``use_async`` (TRL awaits it
    concurrently, which suits the LLM verifier), else :class:`HimedReward`.

    Examples:
        >>> type(build_reward(RewardSection(judge="offline", use_async=False))).__name__
        'HimedReward'
    """
    cls = AsyncHimedReward if section.use_async else HimedReward
    return cls(build_reward_config(section), name=name, workers=section.workers)
