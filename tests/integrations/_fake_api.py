"""THROWAWAY stand-in for the public reward API while the lead's real one is being written.

Installed by the conftests of tests/integrations and tests/server ONLY when
``from himed_rewards import score_batch`` fails; delete once the real API has landed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict


class RewardConfig(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    w_token: float = 1.0
    w_concept: float = 1.0
    w_format: float = 0.5
    semantic: Any = None

    @classmethod
    def from_file(cls, path):
        return cls(**json.loads(Path(path).read_text()))

    def to_file(self, path):
        Path(path).write_text(json.dumps(self.model_dump(exclude={"semantic"})))


@dataclass(frozen=True)
class RewardBreakdown:
    token: float
    concept_base: float
    keyword_bonus: float
    concept: float
    matched_keywords: tuple
    format: float
    low_level: float
    semantic: float | None
    semantic_accuracy: float | None
    semantic_relevance: float | None
    semantic_completeness: float | None
    semantic_error: str | None
    alpha1: float
    alpha2: float
    total: float | None

    def to_dict(self):
        d = asdict(self)
        d["matched_keywords"] = list(self.matched_keywords)
        return d


def _one(c, r, step, config, verdict):
    cw, rw = set(c.lower().split()), set(r.lower().split())
    token = 2 * len(cw & rw) / (len(cw) + len(rw)) if cw or rw else 0.0
    kws = tuple(sorted(cw & rw & {"effusion", "pneumothorax", "normal"}))
    concept = min(1.0, 0.2 * len(kws))
    fmt = 1.0 if c.strip() else 0.0
    low = config.w_token * token + config.w_concept * concept + config.w_format * fmt
    a1 = max(0.1, 1 - step / 10_000)
    a2 = 1 - a1
    sem = acc = rel = comp = err = None
    if verdict is not None:
        acc, rel, comp, err = verdict.accuracy, verdict.relevance, verdict.completeness, verdict.error
        sem = verdict.total
    if config.semantic is None:
        total = low
    elif sem is None:
        total = None
    else:
        total = a1 * low + a2 * sem
    return RewardBreakdown(token, concept, 0.0, concept, kws, fmt, low, sem, acc, rel, comp, err, a1, a2, total)


def score_batch(completions, references, *, step=0, config=None):
    if len(completions) != len(references):
        raise ValueError("length mismatch")
    config = config or RewardConfig()
    verdicts = (
        config.semantic.score_batch(list(completions), list(references))
        if config.semantic is not None
        else [None] * len(completions)
    )
    return [_one(c, r, step, config, v) for c, r, v in zip(completions, references, verdicts)]


async def ascore_batch(completions, references, *, step=0, config=None):
    return await asyncio.to_thread(score_batch, completions, references, step=step, config=config)


def install() -> None:
    import himed_rewards

    for name in ("RewardConfig", "RewardBreakdown", "score_batch", "ascore_batch"):
        setattr(himed_rewards, name, globals()[name])
