"""The packaged rule table: self-contained, licensed, reproducible from the vocabularies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from himed_rewards.clinical import FINDINGS
from himed_rewards.clinical.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "himed_rewards" / "data" / "clinical"
VOCAB = ROOT.parent / "shared" / "data" / "vocab"


def test_rule_table_covers_every_finding() -> None:
    table = json.loads((DATA / "rules.json").read_text(encoding="utf-8"))
    assert tuple(table["findings"]) == FINDINGS
    named = {f for m in table["mentions"] for f in m["findings"]}
    assert set(FINDINGS) - {"no_finding"} <= named  # no_finding is derived, not named
    assert RULES.sha256 == table["sha256"]


def test_notice_names_every_source_and_licence() -> None:
    notice = (DATA / "NOTICE").read_text(encoding="utf-8")
    for needle in ("CheXpert", "MIT License", "NegBio", "Public domain", "NegEx",
                   "Apache License, Version 2.0", "medspacy"):  # fmt: skip
        assert needle in notice


def test_no_report_text_is_shipped() -> None:
    rules = (DATA / "rules.json").read_text(encoding="utf-8").lower()
    assert "xxxx" not in rules  # IU X-ray anonymisation tokens would betray copied text


@pytest.mark.skipif(not VOCAB.is_dir(), reason="needs ../shared/data/vocab")
def test_build_script_reproduces_the_packaged_table() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_clinical_rules.py"), "--check",
         "--vocab", str(VOCAB)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout
