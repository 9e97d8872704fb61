"""ParallelScorer with real worker processes: the same breakdowns as score_batch, bit for bit,
and recovery from workers that are killed, stopped or crash. Two workers, small batches."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himed_rewards import RewardConfig, score_batch
from himed_rewards.rewards.parallel import ParallelScorer, WorkerError, split_points

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # workers get this process's sys.path: they import it too
from parallel_scorers import (  # noqa: E402 - the folder is on sys.path just above
    POISON,
    CrashingScorer,
    OverlapScorer,
    RaisingScorer,
)


def grpo_batch(iu_pairs, n_refs: int = 12, group: int = 8, offset: int = 0):
    """``n_refs`` real references, each with ``group`` completions from real predictions."""
    hyps, refs = iu_pairs
    completions, references = [], []
    for i in range(n_refs):
        for j in range(group):
            h = hyps[(offset + i * group + j) % len(hyps)]
            think = "<think>compare</think>" if j % 3 else ""
            completions.append(f"{think}<finding>{h}</finding><impression>{h[:40]}</impression>"
                               if j % 4 else h)  # some without the format
            references.append(refs[offset + i])
    return completions, references


@pytest.fixture(scope="module")
def scorer():
    with ParallelScorer(workers=2, min_pairs=8) as s:
        yield s


def test_default_reward_is_bit_identical_to_score_batch_at_every_step(scorer, iu_pairs):
    assert scorer.workers == 2 and len(scorer.pids) == 1
    for step, offset in ((0, 0), (4_000, 100), (20_000, 300)):
        completions, references = grpo_batch(iu_pairs, offset=offset)
        got = scorer.score_batch(completions, references, step=step)
        want = score_batch(completions, references, step=step)
        assert got == want  # every float compared with ==: bit-identical
        assert got[0].alpha1 == max(1 - step / 10_000, 0.1)
        stats = scorer.last_stats
        assert stats.pairs == 96 and stats.chunks == (48, 48) and stats.replaced == 0
        assert 0 < stats.own_s < stats.wall_s and 0 < stats.own_cpu_s < stats.cpu_s
        assert len(stats.worker_cpu_s) == 1 and stats.worker_cpu_s[0] > 0
        assert stats.overhead_cpu_s > 0 and stats.free_cores_s < stats.cpu_s + stats.worker_cpu_s[0]


@pytest.mark.parametrize("config", [RewardConfig(semantic=None),
                                    RewardConfig.from_preset("hardened")],
                         ids=["low-level", "hardened"])
def test_other_configs_are_bit_identical(config, iu_pairs):
    completions, references = grpo_batch(iu_pairs, n_refs=6, offset=50)
    with ParallelScorer(workers=2, config=config, min_pairs=8) as s:
        got = asyncio.run(s.ascore_batch(completions, references, step=7_000))
        assert got == s.score_batch(completions, references, step=7_000)
    assert got == score_batch(completions, references, step=7_000, config=config)


def test_a_non_clinical_judge_runs_once_in_the_calling_process(iu_pairs):
    judge = OverlapScorer()
    config = RewardConfig(semantic=judge)
    completions, references = grpo_batch(iu_pairs, n_refs=6, offset=20)
    with ParallelScorer(workers=2, config=config, min_pairs=8) as s:
        got = s.score_batch(completions, references, step=2_500)
        assert got == asyncio.run(s.ascore_batch(completions, references, step=2_500))
    assert judge.pids == {os.getpid()}
    assert got == score_batch(completions, references, step=2_500, config=config)
    assert got[0].alpha2 == 0.25 and got[0].semantic is not None


def test_no_chunk_is_smaller_than_half_min_pairs(iu_pairs):
    completions, references = grpo_batch(iu_pairs, n_refs=3, group=8)  # 24 pairs
    with ParallelScorer(workers=3, min_pairs=16) as s:  # chunks of 8 or more: 3 of 8
        assert s.score_batch(completions, references) == score_batch(completions, references)
        assert s.last_stats.chunks == (8, 8, 8)
        completions, references = completions[:20], references[:20]  # 2 chunks, cut between groups
        assert s.score_batch(completions, references) == score_batch(completions, references)
        assert s.last_stats.chunks == (8, 12) and len(s.last_stats.worker_cpu_s) == 1


def test_small_batches_are_scored_in_the_calling_process(scorer, iu_pairs):
    completions, references = grpo_batch(iu_pairs, n_refs=1, group=4)
    [pid] = scorer.pids
    os.kill(pid, signal.SIGSTOP)  # a stopped worker would stall any batch sent to it
    try:
        start = time.monotonic()
        assert scorer.score_batch(completions, references) == score_batch(completions, references)
        assert time.monotonic() - start < 5
    finally:
        os.kill(pid, signal.SIGCONT)
    assert scorer.pids == [pid]


def test_a_worker_killed_between_calls_is_replaced(scorer, iu_pairs):
    [pid] = scorer.pids
    os.kill(pid, signal.SIGKILL)
    scorer._workers[0].proc.wait(10)  # dead before the call starts
    completions, references = grpo_batch(iu_pairs, offset=200)
    assert scorer.score_batch(completions, references) == score_batch(completions, references)
    assert scorer.pids != [pid]


def test_a_worker_that_stops_answering_is_killed_and_its_chunk_rerun(iu_pairs):
    completions, references = grpo_batch(iu_pairs, offset=400)
    with ParallelScorer(workers=2, min_pairs=8, timeout_s=2.0, retries=2) as s:
        [pid] = s.pids
        os.kill(pid, signal.SIGSTOP)
        start = time.monotonic()
        got = s.score_batch(completions, references, step=9)
        assert time.monotonic() - start < 60  # 2 s timeout, then a fresh worker's start
        assert s.last_stats.replaced >= 1 and s.last_stats.idle_s >= 2.0
        [new] = s.pids
    assert new != pid
    assert got == score_batch(completions, references, step=9)


def test_a_chunk_that_crashes_every_worker_raises_instead_of_hanging(iu_pairs):
    completions, references = grpo_batch(iu_pairs, n_refs=4, offset=10)
    references[-1] = POISON + references[-1]  # in the last chunk, which a worker scores
    config = RewardConfig(semantic=CrashingScorer())
    with ParallelScorer(workers=2, config=config, min_pairs=8, retries=1,
                        semantic_in_workers=True) as s:
        with pytest.raises(WorkerError, match=r"pairs 16\.\.31 failed in 2 worker processes"):
            s.score_batch(completions, references)
        clean = references[:-1] + [references[-2]]
        assert s.score_batch(completions, clean) == score_batch(completions, clean, config=config)


def test_an_error_in_a_worker_is_raised_in_the_caller(iu_pairs):
    completions, references = grpo_batch(iu_pairs, n_refs=4, offset=30)
    references[-1] = POISON
    config = RewardConfig(semantic=RaisingScorer())
    with ParallelScorer(workers=2, config=config, min_pairs=8,
                        semantic_in_workers=True) as s:
        with pytest.raises(ValueError, match="refused a POISON reference"):
            s.score_batch(completions, references)
        references[-1] = references[-2]
        assert s.score_batch(completions, references) == score_batch(
            completions, references, config=config)


def test_bad_input_raises_what_score_batch_raises(scorer):
    with pytest.raises(TypeError, match="completions must be a sequence of str"):
        scorer.score_batch("abc", ["x"])
    with pytest.raises(ValueError, match="same length"):
        scorer.score_batch(["a"] * 9, ["b"] * 8)
    with pytest.raises(TypeError, match=r"references\[3\] must be str"):
        scorer.score_batch(["a"] * 9, ["b"] * 3 + [None] + ["b"] * 5)
    with pytest.raises(ValueError, match="step must be a non-negative int"):
        scorer.score_batch(["a"] * 9, ["b"] * 9, step=-1)
    for kwargs, error in (({"workers": 0}, ValueError), ({"workers": 1.5}, TypeError),
                          ({"timeout_s": 0}, ValueError), ({"min_pairs": True}, TypeError),
                          ({"config": {"semantic": None}}, TypeError)):
        with pytest.raises(error, match=next(iter(kwargs))):
            ParallelScorer(**kwargs)


def test_close_stops_the_workers_and_the_scorer(iu_pairs):
    s = ParallelScorer(workers=2, min_pairs=8)
    [worker] = s._workers
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(s)
    s.close()
    s.close()
    assert worker.proc.returncode is not None
    with pytest.raises(RuntimeError, match="closed"):
        s.score_batch(*grpo_batch(iu_pairs, n_refs=2))


@given(st.lists(st.integers(1, 20), min_size=1, max_size=30), st.integers(1, 8))
def test_split_points_cover_the_batch_in_balanced_contiguous_chunks(groups, parts):
    references = [str(g) for g, size in enumerate(groups) for _ in range(size)]
    bounds = split_points(references, parts)
    n = len(references)
    assert bounds[0] == 0 and bounds[-1] == n and len(bounds) - 1 <= parts
    assert all(a < b for a, b in zip(bounds, bounds[1:], strict=False))
    for a, b in zip(bounds, bounds[1:], strict=False):
        assert b - a <= n / parts + max(1.0, n / parts / 4) * 2 + 1
        if max(groups) <= n / parts / 4 and b < n:  # small groups: never cut inside one
            assert references[b] != references[b - 1]


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    code = ("from himed_rewards import ParallelScorer\n"
            "s = ParallelScorer(workers=2)\n"
            "print(s.pids[0], flush=True)\n"
            "import time; time.sleep(600)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        worker = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)  # no atexit, no finalizer: only the socket closes
        parent.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(worker):
            time.sleep(0.05)
        assert not _alive(worker)
    finally:
        parent.kill()
        parent.wait()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:  # a zombie waits for init: count it dead
            return handle.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_forked_copy_scores_in_its_own_process_and_leaves_the_workers_alone(scorer, iu_pairs):
    completions, references = grpo_batch(iu_pairs, n_refs=2, offset=60)
    want = score_batch(completions, references)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked copy
        ok = scorer.score_batch(completions, references) == want
        scorer.close()  # must not stop the owner's workers
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(child, 0)
    assert scorer.score_batch(completions, references) == want
    assert scorer.last_stats.replaced == 0 and scorer.last_stats.pairs == len(completions)
