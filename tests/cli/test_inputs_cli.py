"""First contact: every input format, one-line errors with exit code 2, progress on a TTY."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from himed_rewards.cli.io import InputError, read_texts
from himed_rewards.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "iu_xray"
REFS = str(FIXTURES / "gts.csv")
PREDS = str(FIXTURES / "preds.csv")


def _eval(*args: str) -> list[str]:
    return ["eval", *args, "--resamples", "20", "--quiet"]


@pytest.fixture
def files(tmp_path):
    """Small inputs in every accepted format, all holding the same two reports."""
    rows = [("a", "No pleural effusion."), ("b", "The heart is normal in size.")]
    (tmp_path / "refs.csv").write_text(
        "study_id,report\n" + "".join(f"{i},{t}\n" for i, t in rows), encoding="utf-8")
    # Excel's "CSV UTF-8" starts with a byte-order mark.
    (tmp_path / "excel.csv").write_text(
        "study_id,report\n" + "".join(f"{i},{t}\n" for i, t in rows), encoding="utf-8-sig")
    (tmp_path / "preds.tsv").write_text(
        "id\treport\n" + "".join(f"{i}\t{t}\n" for i, t in rows), encoding="utf-8")
    (tmp_path / "preds.jsonl").write_text(
        "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows), encoding="utf-8")
    (tmp_path / "preds.txt").write_text("".join(t + "\n" for _, t in rows), encoding="utf-8")
    (tmp_path / "refs.txt").write_text("".join(t + "\n" for _, t in rows), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name", ["excel.csv", "preds.tsv", "preds.jsonl"])
def test_every_table_format_reads_the_same_records(files, name):
    assert read_texts(files / name) == read_texts(files / "refs.csv")


def test_excel_bom_csv_scores_like_plain_csv(files, capsys):
    assert main(_eval("--predictions", str(files / "excel.csv"),
                      "--references", str(files / "refs.csv"))) == 0
    assert "| excel | 1.000 [1.000, 1.000]" in capsys.readouterr().out


def test_plain_text_files_are_line_aligned(files, capsys):
    assert read_texts(files / "preds.txt") == {"1": "No pleural effusion.",
                                               "2": "The heart is normal in size."}
    assert main(_eval("--predictions", str(files / "preds.txt"),
                      "--references", str(files / "refs.txt"))) == 0
    assert "| preds | 1.000" in capsys.readouterr().out


def test_predictions_from_stdin(files, monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("No pleural effusion.\nHeart is big.\n"))
    assert main(_eval("--predictions", "-", "--references", str(files / "refs.txt"))) == 0
    out = capsys.readouterr().out
    assert "| stdin |" in out and "2 pairs" in out


BAD_INPUTS = {
    "missing file": (None, "no such file"),
    "missing column": ("id,txt\na,x\n", "no text column (one of report"),
    "bad jsonl": ('{"id": "a", "report": "x"}\n{"id": "b", report\n', ":2: not valid JSON"),
    "jsonl array": ('["a", "x"]\n', ":1: expected a JSON object per line"),
    "unterminated quote": ('study_id,report\na,x\nb,"Heart normal.\nc,y\n',
                           ":3: unterminated quote"),
    "stray quote": ('study_id,report\na,x\nb,"Heart "normal".\n', ":3: malformed CSV"),
    "duplicate id": ("id,report\na,x\na,y\n", "duplicate id 'a'"),
    "json not jsonl": ('[{"id": "a"}]', "expected .jsonl"),
    "not utf-8": (b"id,report\na,caf\xe9\n", "not UTF-8"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_are_one_line_errors_with_exit_code_2(case, files, capsys):
    content, message = BAD_INPUTS[case]
    suffix = {"bad jsonl": ".jsonl", "jsonl array": ".jsonl", "json not jsonl": ".json"}
    path = files / f"bad{suffix.get(case, '.csv')}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    for command in (["eval"], ["score"]):
        args = [*command, "--predictions", str(path), "--references", str(files / "refs.csv")]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"himed-rewards {command[0]}: error: {path}")


def test_input_error_is_a_value_error_naming_the_file(tmp_path):
    with pytest.raises(InputError, match="nothing.csv: no such file"):
        read_texts(tmp_path / "nothing.csv")
    assert issubclass(InputError, ValueError)


def test_unaligned_plain_text_gets_a_hint(files, capsys):
    assert main(_eval("--predictions", str(files / "preds.txt"),
                      "--references", str(files / "refs.csv"))) == 2
    assert "matched by line number" in capsys.readouterr().err


def test_invalid_config_is_one_line(files, capsys):
    config = files / "bad.yaml"
    config.write_text("schedule: {kind: linear, T: -5}\n")
    assert main(["score", "--predictions", str(files / "preds.tsv"),
                 "--references", str(files / "refs.csv"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("himed-rewards score: error:") and err.count("\n") == 1


def _run_on_tty(args: list[str]) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (what a user sees); return rc, stderr."""
    leader, follower = pty.openpty()
    # A real terminal has a size; tqdm draws nothing on a 0-column one.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    proc = subprocess.Popen([sys.executable, "-m", "himed_rewards", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


def test_progress_shows_on_a_terminal_and_not_with_quiet():
    args = ["eval", "--predictions", PREDS, "--references", REFS, "--limit", "30",
            "--resamples", "20"]
    rc, err = _run_on_tty(args)
    assert rc == 0 and ("stage/s" in err or "s/stage" in err), err
    assert "reward and judge" in err and "preds: BLEU" in err
    rc, err = _run_on_tty([*args, "--quiet"])
    assert rc == 0 and "stage" not in err
    rc, err = _run_on_tty(["score", "--predictions", PREDS, "--references", REFS])
    assert rc == 0 and "scoring" in err and "pair" in err


def test_no_progress_when_stderr_is_not_a_terminal(capsys):
    assert main(["eval", "--predictions", PREDS, "--references", REFS, "--limit", "10",
                 "--resamples", "20"]) == 0
    assert capsys.readouterr().err == ""


def test_java_free_r2gen_footnote_names_the_convention(capsys):
    if shutil.which("java") is None:
        pytest.skip("no Java: the r2gen convention runs the METEOR 1.5 jar")
    assert main(["eval", "--predictions", PREDS, "--references", REFS, "--limit", "40",
                 "--resamples", "20", "--convention", "r2gen", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "convention `r2gen` (R2Gen IU X-ray cleaning, then pycocoevalcap" in out
