"""Validity against the OpenI human gold standard (3,851 IU X-ray reports, fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from himed_rewards.clinical import label_report
from himed_rewards.clinical.evaluation import (
    GOLD_COLUMNS,
    FindingScore,
    load_iu_gold,
    micro_f1,
    score_labels,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def gold_pairs() -> list[tuple[str, frozenset[str]]]:
    return load_iu_gold(FIXTURES / "iu_xray/indiana_reports.csv",
                        FIXTURES / "labels/openi_gld_std14.csv")  # fmt: skip


def test_gold_file_is_read_completely(gold_pairs) -> None:
    assert len(gold_pairs) == 3851
    assert all(text for text, _ in gold_pairs[:100])
    assert set().union(*(gold for _, gold in gold_pairs)) <= set(GOLD_COLUMNS.values())


def test_micro_f1_of_positive_findings_at_least_0_90(gold_pairs) -> None:
    scores = score_labels(gold_pairs, label_report)
    supported = [s for s in scores.values() if s.support and s.finding != "no_finding"]
    assert len(supported) == 13  # Hernia has no gold positive
    assert micro_f1(supported) >= 0.90
    for s in supported:  # no finding is left behind
        assert s.f1 is not None and s.f1 >= 0.70, s


def test_scores_are_undefined_not_zero_without_predictions() -> None:
    empty = FindingScore("hernia", tp=0, fp=0, fn=0)
    assert (empty.precision, empty.recall, empty.f1) == (None, None, None)
    with pytest.raises(ValueError, match="at least one"):
        micro_f1([empty])
