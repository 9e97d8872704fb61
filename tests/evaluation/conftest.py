"""The 590 real IU X-ray pairs and a second, real baseline system for paired tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from himed_rewards.cli.io import read_texts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iu_xray"
# The most frequent training report of IU X-ray (R2Gen split): a classic constant baseline.
MAJORITY_REPORT = ("The heart is normal in size. The mediastinum is unremarkable. "
                   "The lungs are clear. No acute disease.")


@pytest.fixture(scope="session")
def iu_eval():
    """(ids, predictions, references) of the 590 pairs, in reference order."""
    refs = read_texts(FIXTURES / "gts.csv")
    preds = read_texts(FIXTURES / "preds.csv")
    ids = list(refs)
    return ids, [preds[i] for i in ids], [refs[i] for i in ids]
