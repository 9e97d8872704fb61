"""Request and response bodies of the reward server (pydantic, so FastAPI publishes them).

``/get_reward`` follows OpenRLHF (``openrlhf/utils/agent.py:_fetch_rewards_via_http`` posts
``{"query", "prompts", "labels"}`` and reads ``rewards``/``scores``/``extra_logs``;
``openrlhf/cli/serve_rm.py`` answers that shape). ``/score`` follows slime
(``slime/rollout/rm_hub/__init__.py:remote_rm`` posts ``{"prompt", "response", "label"}`` and
uses the JSON body of the answer as the reward, so it is a bare number). ``/v1/score_batch``
is ours and returns full breakdowns. ``step`` is an optional extension in the first two.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_STEP",
    "GetRewardRequest",
    "GetRewardResponse",
    "SlimeScoreRequest",
    "ScoreBatchRequest",
    "ScoreBatchResponse",
    "HealthResponse",
    "ErrorResponse",
]

MAX_STEP = 10**12  # far past any training run; bounds what a client can make us compute with

StepField = Field(
    default=None,
    ge=0,
    le=MAX_STEP,
    description="Training step for the alpha1/alpha2 schedule; the server default when absent.",
)


class GetRewardRequest(BaseModel):
    """OpenRLHF's remote reward request: decoded prompt+response queries and reference labels."""

    model_config = ConfigDict(extra="ignore")

    query: list[str] = Field(description="prompt + response, decoded with special tokens")
    prompts: list[str] | None = Field(default=None, description="the prompts, aligned with query")
    labels: list[str] = Field(description="reference reports, aligned with query")
    step: int | None = StepField


class GetRewardResponse(BaseModel):
    """OpenRLHF's answer: ``rewards`` for advantages, ``scores`` for filtering, ``extra_logs``."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


class SlimeScoreRequest(BaseModel):
    """slime's ``remote_rm`` payload; ``prompt`` may be text or chat messages (unused)."""

    model_config = ConfigDict(extra="ignore")

    prompt: str | list[dict[str, Any]] = ""
    response: str
    label: str = Field(description="the reference report")
    step: int | None = StepField


class ScoreBatchRequest(BaseModel):
    """Aligned completions and references scored at one training step."""

    completions: list[str]
    references: list[str]
    step: int | None = StepField


class ScoreBatchResponse(BaseModel):
    """One ``RewardBreakdown.to_dict()`` per pair; ``totals`` repeats their ``total``."""

    step: int
    totals: list[float | None]
    breakdowns: list[dict[str, Any]]


class HealthResponse(BaseModel):
    status: str
    version: str
    semantic_judge: bool = Field(description="whether rewards include a semantic judge")
    semantic_scorer: str | None = Field(
        default=None, description="that judge's name (clinical, llm_judge, ...)"
    )
    max_batch: int


class ErrorResponse(BaseModel):
    detail: Any
