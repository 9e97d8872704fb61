"""IU X-ray laterality and severity corruptions built from the NegBio gold labels.

Each triple holds a gold-labelled report, a harmless rewrite (sentences reordered) and a
copy whose first sentence naming a gold-positive finding has its side (left <-> right) or
severity (mild <-> severe, small <-> large, ...) swapped. The judge must score the rewrite
above the corruption (ordering accuracy; ties count half).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from himed_rewards.clinical import OfflineClinicalJudge, label_report
from himed_rewards.clinical.evaluation import (
    build_corruptions,
    load_iu_gold,
    micro_f1,
    ordering_accuracy,
    score_labels,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPORTS = FIXTURES / "iu_xray/indiana_reports.csv"
GOLD = FIXTURES / "labels/openi_gld_std14.csv"


def _judge_totals(candidates: list[str], references: list[str]) -> list[float]:
    return [v.total for v in OfflineClinicalJudge().score_batch(candidates, references)]


@pytest.fixture(scope="module")
def gold_pairs():
    return load_iu_gold(REPORTS, GOLD)


@pytest.mark.parametrize("kind", ["laterality", "severity"])
def test_corruptions_are_ordered_below_harmless_rewrites(gold_pairs, kind: str) -> None:
    triples = build_corruptions(gold_pairs, kind, label_report)
    assert len(triples) > 300  # enough real cases to mean something
    assert all(bad != ref and good != ref for ref, good, bad in triples)
    assert ordering_accuracy(triples, _judge_totals) >= 0.95


def test_held_out_split_is_a_fixed_fifth() -> None:
    held = load_iu_gold(REPORTS, GOLD, split="held_out")
    tuning = load_iu_gold(REPORTS, GOLD, split="tuning")
    assert len(held) + len(tuning) == 3851
    assert 700 < len(held) < 840
    with pytest.raises(ValueError, match="split must be"):
        load_iu_gold(REPORTS, GOLD, split="test")


@pytest.mark.parametrize("kind", ["laterality", "severity"])
def test_held_out_corruptions_are_ordered_too(kind: str) -> None:
    held = load_iu_gold(REPORTS, GOLD, split="held_out")
    assert ordering_accuracy(build_corruptions(held, kind, label_report), _judge_totals) >= 0.95


def test_labeler_micro_f1_on_the_held_out_split(gold_pairs) -> None:
    held = load_iu_gold(REPORTS, GOLD, split="held_out")
    scores = score_labels(held, label_report)
    supported = [s for s in scores.values() if s.support and s.finding != "no_finding"]
    assert micro_f1(supported) >= 0.88


def test_bad_kind_names_the_argument(gold_pairs) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        build_corruptions(gold_pairs[:5], "size", label_report)
    with pytest.raises(ValueError, match="at least one triple"):
        ordering_accuracy([], _judge_totals)
