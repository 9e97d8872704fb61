"""Helpers shared by tests/integrations and tests/server (loaded by their conftests)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iu_xray"


def load_iu_pairs(n: int) -> list[tuple[str, str]]:
    """The first ``n`` aligned (prediction, reference) IU X-ray reports of the test fixtures."""
    with open(FIXTURES / "preds.csv", newline="") as f:
        preds = {row["study_id"]: row["report"] for row in csv.DictReader(f)}
    with open(FIXTURES / "gts.csv", newline="") as f:
        gts = {row["study_id"]: row["report"] for row in csv.DictReader(f)}
    ids = [i for i in preds if i in gts][:n]
    return [(preds[i], gts[i]) for i in ids]


class FailingJudge:
    """A user SemanticScorer whose backend is down; failure policy 'skip' (no fallback value)."""

    name = "failing-judge"

    def score_batch(self, candidates, references):
        from himed_rewards.judge.verdict import SemanticVerdict

        return [SemanticVerdict.failed("backend unreachable", source=self.name) for _ in candidates]

    def signature(self) -> str:
        return "failing-judge/v1"


class SlowJudge:
    """A user SemanticScorer that answers after ``delay`` seconds with fixed verdicts."""

    name = "slow-judge"

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def score_batch(self, candidates, references):
        from himed_rewards.judge.verdict import SemanticVerdict

        time.sleep(self.delay)
        return [SemanticVerdict(1.0, 1.0, 1.0, source=self.name) for _ in candidates]

    def signature(self) -> str:
        return f"slow-judge/{self.delay}"


class PartlyFailingJudge:
    """A user SemanticScorer whose backend fails for candidates containing ``marker`` and
    grades the others by word overlap with the reference (so verdicts differ per sample)."""

    name = "partly-failing-judge"

    def __init__(self, marker: str = "FAIL") -> None:
        self.marker = marker

    def score_batch(self, candidates, references):
        from himed_rewards.judge.verdict import SemanticVerdict

        out = []
        for cand, ref in zip(candidates, references, strict=True):
            if self.marker in cand:
                out.append(SemanticVerdict.failed("timeout: no reply", source=self.name))
                continue
            c, r = set(cand.lower().split()), set(ref.lower().split())
            overlap = len(c & r) / max(1, len(c | r))
            out.append(SemanticVerdict(overlap, min(1.0, 2 * overlap), 1.0 - overlap / 2))
        return out

    def signature(self) -> str:
        return f"partly-failing-judge/{self.marker}"
