"""The himed-train command line: parsing and clean errors for bad configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from himed_train.cli import build_parser, main


def test_subcommands_parse():
    parser = build_parser()
    assert parser.parse_args(["grpo", "--config", "c.yaml"]).config == "c.yaml"
    assert parser.parse_args(["sft", "--config", "c.yaml"]).command == "sft"
    smoke = parser.parse_args(["smoke", "--steps", "5", "--sync"])
    assert (smoke.steps, smoke.sync, smoke.num_generations) == (5, True, 4)
    with pytest.raises(SystemExit):
        parser.parse_args(["grpo"])  # --config is required


def test_missing_config_is_a_clean_error(tmp_path: Path, capsys):
    assert main(["grpo", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "himed-train grpo: error: config: no such file" in capsys.readouterr().err


def test_invalid_config_is_a_clean_error(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {dataset: iu_xray, paths: {}}\ngrpo: {beta: -1}\n")
    assert main(["sft", "--config", str(bad)]) == 2
    assert "beta" in capsys.readouterr().err


def test_missing_data_files_are_a_clean_error(tmp_path: Path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "data:\n  dataset: iu_xray\n  paths:\n"
        f"    annotation_path: {tmp_path / 'nope.json'}\n    images_dir: {tmp_path}\n"
        "reward: {judge: none}\n"
    )
    pytest.importorskip("trl", reason="trl (train extra) is not installed")
    assert main(["grpo", "--config", str(cfg)]) == 2
    assert "annotation_path: no such file" in capsys.readouterr().err
