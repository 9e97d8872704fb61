"""``himed-rewards eval``: Table 3 files, signature, significance, errors (real IU X-ray pairs)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from himed_rewards.cli.main import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iu_xray"
PREDS, REFS = str(FIXTURES / "preds.csv"), str(FIXTURES / "gts.csv")
MAJORITY = ("The heart is normal in size. The mediastinum is unremarkable. "
            "The lungs are clear. No acute disease.")


@pytest.fixture
def baseline_file(tmp_path):
    """The constant majority-report baseline for every reference id."""
    path = tmp_path / "majority.jsonl"
    with open(REFS, newline="", encoding="utf-8") as handle:
        ids = [row["study_id"] for row in csv.DictReader(handle)]
    path.write_text("".join(json.dumps({"id": i, "report": MAJORITY}) + "\n" for i in ids))
    return str(path)


def test_eval_subset_writes_table3_files(tmp_path, baseline_file, capsys):
    out = tmp_path / "eval"
    rc = main(["eval", "--predictions", baseline_file, "--predictions", PREDS,
               "--system", "majority", "--system", "model", "--references", REFS,
               "--limit", "60", "--resamples", "200", "--output-dir", str(out)])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[0].startswith("| System | B1 | B2 | B3 | B4 | RG-L | METEOR |")
    assert "60 pairs" in stdout and "vs majority (paired-bs)" in stdout
    results = json.loads((out / "results.json").read_text())
    sig = results["signature"]
    assert sig["convention"] == "default" and sig["n_samples"] == 60
    assert sig["bootstrap"] == {"resamples": 200, "seed": 12345,
                                "interval": "percentile 95%", "paired": True}
    assert sig["versions"]["himed-rewards"] and "semantic:" in sig["reward"]["config"]
    assert sig["reward"]["step"] == 10_000  # the default schedule's T
    model = results["systems"]["model"]
    for name in ("bleu1", "bleu4", "rougeL", "meteor", "f1_micro", "f1_macro", "himed"):
        lo, hi = model[name]["ci"]
        assert lo <= model[name]["value"] <= hi
        assert 0 < model[name]["p_value"] <= 1
    assert results["systems"]["majority"]["bleu4"]["p_value"] is None  # the baseline
    assert model["bleu1"]["value"] > results["systems"]["majority"]["bleu1"]["value"]
    rows = list(csv.DictReader((out / "table.csv").open()))
    assert [r["system"] for r in rows] == ["majority", "model"]
    assert {r["convention"] for r in rows} == {"default"}
    assert float(rows[1]["bleu4"]) == pytest.approx(model["bleu4"]["value"])
    assert (out / "table.md").read_text() == stdout
    scores = [json.loads(line) for line in (out / "scores" / "model.jsonl").open()]
    assert len(scores) == 60 and {"id", "system", "rougeL", "meteor", "himed"} <= set(scores[0])


def test_eval_is_reproducible_with_a_seed(tmp_path, capsys):
    args = ["eval", "--predictions", PREDS, "--references", REFS, "--limit", "40",
            "--resamples", "100", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(("extra", "message"), [
    (["--system", "a", "--system", "b"], "--system was given 2 times for 1"),
    (["--resamples", "0"], "--resamples must be >= 1"),
    (["--ratescore", "--ratescore-ner-model", "/nonexistent"], "Angelakeke/RaTE-NER-Deberta"),
])
def test_eval_errors_are_clear(extra, message, capsys):
    assert main(["eval", "--predictions", PREDS, "--references", REFS, *extra]) == 2
    assert message in capsys.readouterr().err


def test_eval_rejects_predictions_missing_ids(tmp_path, capsys):
    partial = tmp_path / "partial.jsonl"
    partial.write_text(json.dumps({"id": "CXR3030_IM-1405", "report": "Normal."}) + "\n")
    assert main(["eval", "--predictions", str(partial), "--references", REFS]) == 2
    assert "has no prediction for 589 reference ids" in capsys.readouterr().err


def test_eval_coco_convention_on_all_590_pairs(tmp_path, capsys):
    if shutil.which("java") is None:
        if os.environ.get("CI"):
            pytest.fail("Java is required in CI for the coco METEOR jar")
        pytest.skip("no Java: pycocoevalcap's METEOR 1.5 jar cannot run")
    pytest.importorskip("pycocoevalcap")
    from himed_rewards.metrics import corpus_bleu

    out = tmp_path / "coco"
    assert main(["eval", "--predictions", PREDS, "--references", REFS, "--convention", "coco",
                 "--system", "model", "--output-dir", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "METEOR-seg" in stdout and "†" in stdout
    model = json.loads((out / "results.json").read_text())["systems"]["model"]
    with open(PREDS, encoding="utf-8") as p, open(REFS, encoding="utf-8") as r:
        preds = {row["study_id"]: row["report"] for row in csv.DictReader(p)}
        refs = {row["study_id"]: row["report"] for row in csv.DictReader(r)}
    ids = list(refs)
    bleu = corpus_bleu([preds[i] for i in ids], [refs[i] for i in ids], convention="coco")
    assert [model[f"bleu{k}"]["value"] for k in range(1, 5)] == list(bleu.cumulative)
    assert model["meteor"]["ci"] is None and model["meteor"]["p_value"] is None
    assert 0 < model["meteor"]["value"] < model["meteor_seg"]["ci"][1]
