"""RadJudge (CRIMSON's 30 hand-written ranking cases, MIT): the offline judge's orderings.

Three cases (2a-2c) rank identical texts by patient context (age, indication), which the
judge does not take: no text-only scorer can pass them, so the reachable maximum is 27.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from himed_rewards.clinical import OfflineClinicalJudge
from himed_rewards.clinical.evaluation import run_radjudge

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "radjudge" / "radjudge_cases.json"


@pytest.fixture(scope="module")
def results():
    judge = OfflineClinicalJudge()

    def score(candidate: str, truth: str) -> float:
        [verdict] = judge.score_batch([candidate], [truth])
        return verdict.total

    return run_radjudge(json.loads(CASES.read_text(encoding="utf-8")), score)


def test_reads_all_thirty_cases(results) -> None:
    assert len(results) == 30
    assert len({r.category for r in results}) == 10


def test_passes_at_least_26_of_30(results) -> None:
    passed = [r.case for r in results if r.passed]
    assert len(passed) >= 26, [r.case for r in results if not r.passed]


@pytest.mark.parametrize("category", [
    "False Finding Penalization", "Normal Finding Handling", "Location Error Handling",
    "Measurement Error Sensitivity", "Clinical Significance Weighting",
    "Partial Credit Assignment", "Diagnostic Precision", "Clinical Practicality",
])  # fmt: skip
def test_attribute_categories_pass_completely(results, category: str) -> None:
    assert all(r.passed for r in results if r.category == category)
