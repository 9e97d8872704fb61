"""``himed-rewards plot``: schedule, training and distribution files from the command line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from himed_rewards.cli.main import main  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iu_xray"


def _valid(paths):
    for path in paths:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        elif path.suffix == ".pdf":
            assert path.read_bytes()[:5] == b"%PDF-"
        else:
            assert ET.parse(path).getroot().tag.endswith("svg")


def test_plot_schedule(tmp_path, capsys):
    assert main(["plot", "schedule", "--T", "10000", "--alpha-min", "0.1",
                 "--out", str(tmp_path)]) == 0
    printed = [Path(p) for p in capsys.readouterr().out.split()]
    assert [p.name for p in printed] == ["schedule.png", "schedule.svg", "schedule.pdf"]
    _valid(printed)


def test_plot_training(tmp_path, capsys):
    log = tmp_path / "trainer_state.json"
    log.write_text(json.dumps({"log_history": [
        {"step": s, "rewards/HimedReward/mean": s / 10, "himed/low_level": s / 20}
        for s in range(1, 6)]}))
    assert main(["plot", "training", "--log", str(log), "--out", str(tmp_path / "o")]) == 0
    _valid([Path(p) for p in capsys.readouterr().out.split()])


def test_plot_distributions_from_eval_scores(tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--predictions", str(FIXTURES / "preds.csv"), "--references",
                 str(FIXTURES / "gts.csv"), "--limit", "30", "--resamples", "20",
                 "--output-dir", str(out)]) == 0
    capsys.readouterr()
    assert main(["plot", "distributions", "--scores", str(out / "scores" / "preds.jsonl"),
                 "--metric", "rougeL", "--metric", "himed", "--out", str(tmp_path)]) == 0
    _valid([Path(p) for p in capsys.readouterr().out.split()])


def test_plot_errors_exit_2(tmp_path, capsys):
    assert main(["plot", "schedule", "--T", "0", "--out", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
    log = tmp_path / "empty.jsonl"
    log.write_text('{"step": 1, "loss": 1.0}\n')
    assert main(["plot", "training", "--log", str(log), "--out", str(tmp_path)]) == 2
    assert "no reward keys found" in capsys.readouterr().err
