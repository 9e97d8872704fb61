"""Helpers shared by tests/integrations and tests/server (loaded by their conftests)."""

from __future__ import annotations

import csv
import importlib.util
import sys
import time
from pathlib import Path

import himed_rewards

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iu_xray"


def install_fake_api_if_missing() -> None:
    """Until the lead's public API lands, install the throwaway fake from _fake_api.py."""
    if hasattr(himed_rewards, "score_batch"):
        return
    path = Path(__file__).with_name("_fake_api.py")
    spec = importlib.util.spec_from_file_location("_himed_fake_api", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    module.install()


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
