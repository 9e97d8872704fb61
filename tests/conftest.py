"""Shared fixtures: the 590 real IU X-ray pairs (see tests/fixtures/README.md for licences)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    # The suite compiles its kernels at their first call, whatever the cache holds (and so do
    # the processes it starts): the interpreter tier of a cold cache (kernels/_interpret.py)
    # has its own tests, which set this variable in the processes they start. (A hook, not
    # module code: the benchmarks import this module for its data.)
    os.environ.setdefault("HIMED_REWARDS_INTERPRET", "0")


def load_iu_pairs() -> tuple[list[str], list[str], list[str]]:
    """(ids, predictions, references) of the 590 MoERad IU X-ray test pairs, aligned by id."""
    with (FIXTURES / "iu_xray" / "preds.csv").open(newline="", encoding="utf-8") as handle:
        preds = {row["study_id"]: row["report"] for row in csv.DictReader(handle)}
    with (FIXTURES / "iu_xray" / "gts.csv").open(newline="", encoding="utf-8") as handle:
        gts = {row["study_id"]: row["report"] for row in csv.DictReader(handle)}
    ids = [i for i in gts if i in preds]
    return ids, [preds[i] for i in ids], [gts[i] for i in ids]


@pytest.fixture(scope="session")
def iu_pairs() -> tuple[list[str], list[str]]:
    """The 590 real (prediction, reference) pairs."""
    _, hyps, refs = load_iu_pairs()
    assert len(hyps) == 590
    return hyps, refs
