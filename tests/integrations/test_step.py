"""himed_rewards.integrations.step: the published step file across real processes, atomic
writes under concurrent readers, bad files, the warn-once default, the step clock, and the
order of the sources."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from himed_rewards.integrations import step

pytestmark = pytest.mark.usefixtures("fresh_step_state")


# step.py needs only the standard library: a child loads it alone (a reward worker pays the
# package import anyway; the test need not pay it per process).
LOAD_STEP = (
    "import importlib.util as u\n"
    f"spec = u.spec_from_file_location('step', {str(Path(step.__file__))!r})\n"
    "step = u.module_from_spec(spec); spec.loader.exec_module(step)\n"
)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", LOAD_STEP + code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_step_published_here_is_read_in_another_process_and_back(tmp_path):
    path = tmp_path / "run" / "step.json"
    step.publish_step(4_000, path)
    read = "print(step.read_published_step())"
    child = run_python(read, HIMED_REWARDS_STEP_FILE=str(path))
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "4000"
    publish = "step.publish_step(20000)"
    assert run_python(publish, HIMED_REWARDS_STEP_FILE=str(path)).returncode == 0
    assert step.read_published_step(path) == 20_000
    resolved = run_python(
        "print(tuple(step.resolve_training_step(framework='slime')))",
        HIMED_REWARDS_STEP_FILE=str(path),
    )
    assert resolved.stdout.strip() == "(20000, 'step_file')"


def test_readers_never_see_a_torn_or_missing_step_while_another_process_writes(tmp_path):
    path = tmp_path / "step.json"
    step.publish_step(0, path)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LOAD_STEP + f"for i in range(1, 1501): step.publish_step(i, {str(path)!r})",
        ]
    )
    seen, errors = [], []

    def reader():
        while writer.poll() is None:
            try:
                value = step.read_published_step(path)
            except Exception as exc:  # noqa: BLE001 - any exception is the failure
                errors.append(exc)
                return
            seen.append(value)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.wait() == 0
    assert not errors and not step._warned
    assert seen and all(isinstance(v, int) and 0 <= v <= 1500 for v in seen)
    assert step.read_published_step(path) == 1500
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step.json"]  # no temporary left


def test_a_new_step_within_the_same_clock_tick_is_not_hidden_by_the_cache(tmp_path):
    path = tmp_path / "step.json"
    for value in range(50):  # many writes inside one file-time tick
        step.publish_step(value, path)
        assert step.read_published_step(path) == value
    time.sleep(0.15)
    assert step.read_published_step(path) == 49  # settled: cached from now on
    step.publish_step(50, path)
    assert step.read_published_step(path) == 50


def test_bad_or_absent_files(tmp_path, caplog):
    path = tmp_path / "step.json"
    assert step.read_published_step(path) is None  # trainer has not published yet
    assert step.read_published_step() is None  # no file configured at all
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="himed_rewards.integrations"):
        assert step.read_published_step(path) is None
        path.write_text(json.dumps({"step": -3}))
        assert step.read_published_step(path) is None
    assert len([r for r in caplog.records if "ignoring step file" in r.getMessage()]) == 1
    with pytest.raises(ValueError, match="publish_step needs a path"):
        step.publish_step(3)
    with pytest.raises(TypeError, match="step must be a non-negative integer"):
        step.publish_step(2.5, path)


def test_no_source_warns_once_per_framework_and_says_how(caplog):
    with caplog.at_level(logging.WARNING, logger="himed_rewards.integrations"):
        for _ in range(3):
            assert step.resolve_training_step(framework="easyr1", how_to_fix="Do X.") == (
                0,
                "default",
            )
        step.resolve_training_step(framework="slime")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "easyr1 handed no training step" in messages[0] and "Do X." in messages[0]
    assert step.STEP_FILE_ENV in messages[0] and step.SAMPLES_PER_STEP_ENV in messages[0]


def test_warning_is_once_per_process_not_once_ever():
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING)\n"
        "for _ in range(5): step.resolve_training_step(framework='openrlhf')\n"
    )
    for _ in range(2):
        child = run_python(code)
        assert child.returncode == 0
        assert child.stderr.count("openrlhf handed no training step") == 1


def test_step_clock_counts_samples_across_threads():
    clock = step.StepClock(samples_per_step=8)
    steps: list[int] = []
    lock = threading.Lock()

    def score(n_calls):
        for _ in range(n_calls):
            value = clock.advance(1)
            with lock:
                steps.append(value)

    threads = [threading.Thread(target=score, args=(100,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(steps) == [i // 8 for i in range(800)]
    with pytest.raises(ValueError, match="samples_per_step must be positive"):
        step.StepClock(0)


def test_sources_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv(step.SAMPLES_PER_STEP_ENV, "2")
    assert step.resolve_training_step(framework="f", n_samples=2) == (0, "clock")
    assert step.resolve_training_step(framework="f", n_samples=2) == (1, "clock")
    monkeypatch.setenv(step.STEP_ENV, "300")
    assert step.resolve_training_step(framework="f") == (300, "env")
    monkeypatch.setenv(step.STEP_FILE_ENV, str(tmp_path / "s.json"))
    assert step.resolve_training_step(framework="f") == (300, "env")  # not published yet
    step.publish_step(5_000)
    assert step.resolve_training_step(framework="f") == (5_000, "step_file")
    assert step.resolve_training_step(7, framework="f") == (7, "framework")
    with pytest.raises(ValueError, match="rollout_id must be a non-negative integer"):
        step.resolve_training_step(-1, framework="f", name="rollout_id")
    monkeypatch.setenv(step.STEP_ENV, "soon")
    monkeypatch.delenv(step.STEP_FILE_ENV)
    with pytest.raises(ValueError, match="HIMED_REWARDS_STEP"):
        step.resolve_training_step(framework="f")


def test_logged_step_reads_the_last_complete_line(tmp_path, caplog):
    log = tmp_path / "experiment_log.jsonl"
    assert step.read_logged_step(log) is None
    log.write_text("")
    assert step.read_logged_step(log) is None
    big = "x" * 100_000  # lines longer than one read block
    log.write_text("".join(json.dumps({"step": i, "pad": big}) + "\n" for i in range(1, 4)))
    assert step.read_logged_step(log) == 3
    with open(log, "a") as f:
        f.write('{"step": 4, "pad": "half wri')  # being appended right now
    assert step.read_logged_step(log) == 3
    log.write_text('{"loss": 1.0}\n')
    with caplog.at_level(logging.WARNING, logger="himed_rewards.integrations"):
        assert step.read_logged_step(log) is None
    assert "ignoring training log" in caplog.text
