"""``himed-rewards score --workers 2`` writes what one process writes, on the 590 real pairs."""

from __future__ import annotations

from pathlib import Path

from himed_rewards.cli.main import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iu_xray"


def test_score_with_two_workers_writes_the_same_records(tmp_path, capsys):
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.jsonl"
        assert main(["score", "--predictions", str(FIXTURES / "preds.csv"), "--references",
                     str(FIXTURES / "gts.csv"), "--step", "3000", "--quiet", "--output",
                     str(out), "--workers", workers]) == 0
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1] and outputs[0].count("\n") == 590
    assert "590 pairs, step 3000" in capsys.readouterr().out


def test_workers_below_one_is_refused(capsys):
    assert main(["score", "--predictions", str(FIXTURES / "preds.csv"), "--references",
                 str(FIXTURES / "gts.csv"), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
