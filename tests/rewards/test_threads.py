"""A batch's low-level kernel on several threads (rewards/threads.py, rewards/low_level.py).

Chunks of a batch scored on the pool's threads, or the whole kernel behind the judge, must
give every pair the rows that one thread gives, float for float, whatever the batch's order
of groups; threads that call the reward at once must not share the kernel's buffers (it
releases the GIL); a forked child must build its own pool; and the setting is validated.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import random
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from himed_rewards import RewardConfig, ascore_batch, get_num_threads, score_batch, set_num_threads
from himed_rewards.kernels._config import dispatcher_of
from himed_rewards.kernels.reward import (
    low_level_columns,
    meteor_columns,
    rouge_columns,
    sum_columns,
    token_keyword_columns,
)
from himed_rewards.metrics._layout import sub_layout
from himed_rewards.rewards import low_level, threads
from himed_rewards.rewards.threads import chunk_bounds, one_thread
from himed_rewards.text.vocabulary import VOCAB

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # FreshText
from _common import FreshText  # noqa: E402

OFF = RewardConfig(semantic=None)


@pytest.fixture(autouse=True)
def _default_threads(monkeypatch):
    # (where the kernel runs is what these tests look at: the judge stays in this process,
    # tests/rewards/test_judge_process.py covers the helper that takes its share)
    monkeypatch.setenv("HIMED_REWARDS_JUDGE_PROCESS", "0")
    set_num_threads(None)
    yield
    set_num_threads(None)


def _hex_rows(breakdowns: list) -> list:
    """Every field, floats as their bits (== would let -0.0 pass for 0.0)."""
    return [tuple(x.hex() if type(x) is float else x for x in b) for b in breakdowns]


def _scored(n_threads: int, completions: list[str], references: list[str],
            config: RewardConfig | None = None) -> list:
    set_num_threads(n_threads)
    try:
        return score_batch(completions, references, config=config)
    finally:
        set_num_threads(None)


def _count_kernel_calls(monkeypatch: pytest.MonkeyPatch,
                        kinds: dict[str, str] | None = None) -> list[str]:
    """The thread names of each call of the low-level kernel, from now on: a chunk's, or
    a part of a batch split by metric (``kinds``, when given, maps each call, as its thread's
    name and number, to the kernel's: chunk, token, rouge or meteor)."""
    calls: list[str] = []

    def count(name: str, kind: str) -> None:
        real = getattr(low_level, name)

        def counted(*args):
            calls.append(threading.current_thread().name)
            if kinds is not None:
                kinds[calls[-1] + f"#{len(calls)}"] = kind
            return real(*args)

        monkeypatch.setattr(low_level, name, counted)

    count("_run_kernel", "chunk")
    count("token_keyword_columns", "token")
    count("rouge_columns", "rouge")
    count("meteor_columns", "meteor")
    return calls


def _pool_runs_each_chunk_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each chunk handed to the pool is run there before the call goes on: where a chunk
    runs becomes deterministic (otherwise a loaded machine may leave it unstarted until the
    calling thread takes it back, which the busy-pool test covers)."""
    real = low_level.submit

    def submit_and_wait(task):
        future = real(task)
        concurrent.futures.wait([future])
        return future

    monkeypatch.setattr(low_level, "submit", submit_and_wait)


def test_the_kernels_release_the_gil() -> None:
    score_batch(["<finding>No effusion.</finding>"], ["No effusion."], config=OFF)  # compiled
    for kernel in (low_level_columns, token_keyword_columns, rouge_columns, meteor_columns,
                   sum_columns):
        assert dispatcher_of(kernel).targetoptions["nogil"] is True


@pytest.mark.parametrize("shape", ["grpo", "distinct"])
def test_two_threads_split_a_batch_by_metric(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # BLEU and the keywords on the pool's thread, ROUGE-L and METEOR in the caller's
    fresh = FreshText(seed=310)
    completions, references = fresh.grpo_batch() if shape == "grpo" else fresh.distinct_batch()
    alone = _scored(1, completions, references, OFF)
    kinds: dict[str, str] = {}
    calls = _count_kernel_calls(monkeypatch, kinds)
    _pool_runs_each_chunk_at_once(monkeypatch)
    assert _hex_rows(_scored(2, completions, references, OFF)) == _hex_rows(alone)
    here = threading.current_thread().name
    assert sorted(kinds.values()) == ["meteor", "rouge", "token"]  # no chunk: one call each
    for key, kind in kinds.items():
        assert key.startswith(here) == (kind != "token")
    assert len(calls) == 3
    # a batch that two threads would not cut in two stays in the caller's thread, whole
    calls.clear()
    kinds.clear()
    _scored(2, completions[:191], references[:191], OFF)
    assert list(kinds.values()) == ["chunk"] and calls == [here]


def test_a_batch_split_by_metric_declines_as_one_kernel(monkeypatch) -> None:
    # a reference for the rare LCS kernel: the metrics' own paths, the same rows
    completions, references = FreshText(seed=311).grpo_batch()
    references[:16] = [" ".join(["effusion", "no", "heart"] * 1400)] * 16
    alone = _scored(1, completions, references, OFF)
    kinds: dict[str, str] = {}
    _count_kernel_calls(monkeypatch, kinds)
    assert _hex_rows(_scored(2, completions, references, OFF)) == _hex_rows(alone)
    assert sorted(kinds.values()) == ["rouge", "token"]  # (no METEOR once ROUGE-L declined)


@pytest.mark.parametrize("column", [0, 1, 2])
def test_a_non_finite_score_of_a_batch_split_by_metric_is_named(column: int,
                                                                monkeypatch) -> None:
    name = ("token_keyword_columns", "rouge_columns", "meteor_columns")[column]
    real = getattr(low_level, name)

    def broken(*args):
        out = real(*args)
        args[-1][column, 7] = np.nan  # (the columns, the last argument of each)
        return out

    monkeypatch.setattr(low_level, name, broken)
    completions, references = FreshText(seed=312).grpo_batch()
    set_num_threads(2)
    kind = ("token", "rouge_l", "meteor")[column]
    with pytest.raises(FloatingPointError, match=f"^{kind} produced a non-finite score$"):
        score_batch(completions, references, config=OFF)


@pytest.mark.parametrize("n_threads", [3, 4])
@pytest.mark.parametrize("shape", ["grpo", "distinct"])
def test_chunks_on_threads_give_one_threads_rows(n_threads: int, shape: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = FreshText(seed=300 + n_threads)
    completions, references = fresh.grpo_batch() if shape == "grpo" else fresh.distinct_batch()
    alone = _scored(1, completions, references, OFF)
    calls = _count_kernel_calls(monkeypatch)
    assert _hex_rows(_scored(n_threads, completions, references, OFF)) == _hex_rows(alone)
    assert len(calls) == n_threads  # 512 pairs: every thread has more than 96
    # the first chunk in the calling thread, the others on the pool's
    calls.clear()
    _pool_runs_each_chunk_at_once(monkeypatch)
    assert _hex_rows(_scored(n_threads, completions, references, OFF)) == _hex_rows(alone)
    assert calls[-1] == threading.current_thread().name
    assert len(calls) == n_threads
    assert all(name.startswith("himed-rewards") for name in calls[:-1])


def test_real_pairs_give_the_same_rows_on_four_threads(iu_pairs, monkeypatch) -> None:
    hyps, refs = iu_pairs
    completions = [f"<think>x</think><finding>{h}</finding><impression>-</impression>"
                   for h in hyps]
    alone = _scored(1, completions, refs, OFF)
    calls = _count_kernel_calls(monkeypatch)
    assert _hex_rows(_scored(4, completions, refs, OFF)) == _hex_rows(alone)
    assert len(calls) == 4  # 590 pairs, the first 36 more than the others' 138 or 139


@pytest.mark.parametrize("n_threads", [2, 3])
def test_the_default_reward_scores_the_kernel_behind_the_judge(n_threads: int,
                                                               monkeypatch) -> None:
    completions, references = FreshText(seed=320 + n_threads).grpo_batch()
    alone = _scored(1, completions, references)
    calls = _count_kernel_calls(monkeypatch)
    assert _hex_rows(_scored(n_threads, completions, references)) == _hex_rows(alone)
    assert len(calls) == n_threads - 1  # one chunk per pool thread
    calls.clear()
    _pool_runs_each_chunk_at_once(monkeypatch)
    assert _hex_rows(_scored(n_threads, completions, references)) == _hex_rows(alone)
    assert len(calls) == n_threads - 1
    assert all(name.startswith("himed-rewards") for name in calls)  # none in the caller
    set_num_threads(n_threads)
    assert _hex_rows(asyncio.run(ascore_batch(completions, references))) == _hex_rows(alone)


@pytest.mark.parametrize(("config", "pairs"), [(OFF, 191), (None, 63)])
def test_a_small_batch_stays_in_the_calling_thread(config, pairs, monkeypatch) -> None:
    calls = _count_kernel_calls(monkeypatch)
    _pool_runs_each_chunk_at_once(monkeypatch)
    completions, references = FreshText(seed=330).grpo_batch()
    _scored(4, completions[:pairs], references[:pairs], config)
    assert calls == [threading.current_thread().name]
    _scored(4, completions[:pairs + 1], references[:pairs + 1], config)
    assert any(name.startswith("himed-rewards") for name in calls[1:])


_FRESH = FreshText(seed=370)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.randoms(use_true_random=False), n_threads=st.integers(2, 5),
       group_sizes=st.lists(st.integers(1, 6), min_size=1, max_size=12))
def test_any_order_of_groups_gives_one_threads_rows(order: random.Random, n_threads: int,
                                                    group_sizes: list[int],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # chunks of a single pair: groups spread over the batch in any order, chunks that span
    # several groups or cut one, and chunks declined for scattered groups
    monkeypatch.setattr(threads, "MIN_PAIRS_PER_THREAD", 1)
    completions, references = [], []
    for size in group_sizes:
        reference = _FRESH.report()
        completions += [_FRESH.completion() for _ in range(size)]
        references += [reference] * size
    pairs = list(zip(completions, references, strict=True))
    order.shuffle(pairs)
    completions, references = [c for c, _ in pairs], [r for _, r in pairs]
    alone = _scored(1, completions, references, OFF)
    assert _hex_rows(_scored(n_threads, completions, references, OFF)) == _hex_rows(alone)


def test_a_chunk_keeps_only_its_groups_references() -> None:
    from himed_rewards.metrics._layout import build_layout
    from himed_rewards.text.tokenizers import get_tokenizer

    layout = build_layout(["a b", "a c", "d", "e f g"], [("a b",), ("a b",), ("d e",), ("x",)],
                          get_tokenizer("default"))
    chunk = sub_layout(layout, 1, 3)
    assert chunk.hyp_group.tolist() == [0, 1]
    assert chunk.ref_offsets.tolist() == [0, 2, 4]  # "a b" and "d e", not "x"
    assert chunk.hyp_offsets.tolist() == [0, 2, 3]
    assert chunk.group_hyp_offsets.tolist() == [0, 1, 2]
    # equal references far apart share a group: a chunk takes its groups' references only
    scattered = build_layout(list("abcdef"), [(r,) for r in ["v", "w", "x", "y", "z", "v"]],
                             get_tokenizer("default"))
    assert scattered.hyp_group.tolist() == [0, 1, 2, 3, 4, 0]
    chunk = sub_layout(scattered, 4, 6)
    assert chunk.hyp_group.tolist() == [1, 0]  # groups 0 ("v") and 4 ("z"), in that order
    assert VOCAB.tokens(chunk.ref_ids) == ["v", "z"]
    assert chunk.group_ref_offsets.tolist() == [0, 1, 2]
    assert chunk.hyp_index.tolist() == [1, 0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threads, "MIN_PAIRS_PER_THREAD", 1)
        assert [(lo, hi) for lo, hi, _ in low_level._chunks(scattered, 2)] == [(0, 3), (3, 6)]
        assert low_level._chunks(scattered, 1) == [(0, 6, scattered)]


def test_chunk_bounds() -> None:
    assert chunk_bounds(0, 4) == [0, 0]
    assert chunk_bounds(127, 2) == [0, 127]
    assert chunk_bounds(256, 2) == [0, 128, 256]
    assert chunk_bounds(1000, 3) == [0, 333, 666, 1000]
    assert chunk_bounds(300, 8) == [0, 100, 200, 300]
    # the calling thread's chunk leads by up to a quarter of a chunk
    assert chunk_bounds(512, 2, lead=48) == [0, 280, 512]
    assert chunk_bounds(256, 2, lead=48) == [0, 144, 256]  # (a lead of 32)
    assert chunk_bounds(512, 1, lead=48) == [0, 512]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threads, "MIN_PAIRS_PER_THREAD", 1)
        assert chunk_bounds(3, 3, lead=48) == [0, 1, 2, 3]
        assert chunk_bounds(8, 2, lead=48) == [0, 4, 8]  # (a lead of 1)


def test_callers_threads_never_share_the_kernels_buffers() -> None:
    # OpenRLHF calls the reward from several threads at once: with the GIL released in the
    # kernel, a shared scratch buffer would mix their batches
    batches = [FreshText(seed=340 + k).grpo_batch() for k in range(4)]
    expected = [_hex_rows(_scored(1, c, r, OFF)) for c, r in batches]
    set_num_threads(2)
    got: dict[int, list] = {}
    errors: list[BaseException] = []

    def call(k: int) -> None:
        try:
            for _ in range(3):
                got[k] = _hex_rows(score_batch(*batches[k], config=OFF))
                assert got[k] == expected[k]
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    callers = [threading.Thread(target=call, args=(k,)) for k in range(4)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(timeout=120)
    assert not errors
    assert [got[k] for k in range(4)] == expected


def _score_in_child(queue) -> None:
    set_num_threads(2)
    completions, references = FreshText(seed=351).grpo_batch()
    queue.put(len(score_batch(completions, references, config=OFF)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_builds_its_own_pool() -> None:
    _scored(2, *FreshText(seed=350).grpo_batch(), OFF)  # the parent's pool has its thread
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_score_in_child, args=(queue,))
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung on the parent's pool")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 512


def test_a_failing_judge_leaves_the_pool_usable() -> None:
    class Broken:
        name = "broken"

        def signature(self) -> str:
            return "broken"

        def score_batch(self, reports, references):
            raise RuntimeError("judge down")

        score_columns = score_batch

    completions, references = FreshText(seed=360).grpo_batch()
    set_num_threads(2)
    with pytest.raises(RuntimeError, match="judge down"):
        score_batch(completions, references, config=RewardConfig(semantic=Broken()))
    assert _hex_rows(score_batch(completions, references, config=OFF)) == _hex_rows(
        _scored(1, completions, references, OFF))


def test_the_setting() -> None:
    set_num_threads(3)
    assert get_num_threads() == 3
    with one_thread():
        assert get_num_threads() == 1
        seen = []
        other = threading.Thread(target=lambda: seen.append(get_num_threads()))
        other.start()
        other.join()
        assert seen == [3]  # other threads keep theirs
    assert get_num_threads() == 3
    set_num_threads(None)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if "OMP_NUM_THREADS" not in os.environ:
        assert get_num_threads() == min(threads.MAX_DEFAULT_THREADS, cores)


def test_a_launchers_share_of_the_node_caps_the_default(monkeypatch) -> None:
    # torchrun sets OMP_NUM_THREADS=1 for each of several ranks, Ray to an actor's CPUs: the
    # default follows; HIMED_REWARDS_THREADS and set_num_threads overrule it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    assert get_num_threads() == min(threads.MAX_DEFAULT_THREADS, cores)
    for ignored in ("", "0", "auto"):  # not ours to validate: no limit
        monkeypatch.setenv("OMP_NUM_THREADS", ignored)
        assert get_num_threads() == min(threads.MAX_DEFAULT_THREADS, cores)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("HIMED_REWARDS_THREADS", "2")
    assert get_num_threads() == 2
    monkeypatch.delenv("HIMED_REWARDS_THREADS")
    set_num_threads(3)
    assert get_num_threads() == 3


@pytest.mark.parametrize(("value", "error", "message"), [
    ("2", TypeError, "n must be an int, got str"),
    (2.0, TypeError, "n must be an int, got float"),
    (True, TypeError, "n must be an int, got bool"),
    (0, ValueError, "n must be at least 1, got 0"),
    (-3, ValueError, "n must be at least 1, got -3"),
])
def test_bad_settings_are_named(value, error, message) -> None:
    with pytest.raises(error, match=f"^{message}$"):
        set_num_threads(value)


def test_the_environment_variable(monkeypatch) -> None:
    monkeypatch.setenv("HIMED_REWARDS_THREADS", "3")
    assert get_num_threads() == 3
    set_num_threads(2)
    assert get_num_threads() == 2  # the call wins over the environment
    set_num_threads(None)
    for bad in ("two", "0", "1.5"):
        monkeypatch.setenv("HIMED_REWARDS_THREADS", bad)
        with pytest.raises(ValueError, match="HIMED_REWARDS_THREADS"):
            get_num_threads()


def test_parallel_scorer_workers_use_one_thread() -> None:
    from himed_rewards.rewards._processes import helper_environment

    assert helper_environment()["HIMED_REWARDS_THREADS"] == "1"


def test_columns_of_the_pool_are_contiguous_rows() -> None:
    # the joined columns are one C array, as one kernel call writes them
    monkeypatch = pytest.MonkeyPatch()
    try:
        monkeypatch.setattr(threads, "MIN_PAIRS_PER_THREAD", 1)
        from himed_rewards.metrics._layout import build_layout
        from himed_rewards.rewards.compose import _vocabulary
        from himed_rewards.text.tokenizers import get_tokenizer

        layout = build_layout(["small effusion", "no effusion", "clear"],
                              [("effusion",), ("effusion",), ("clear",)],
                              get_tokenizer("default"))
        set_num_threads(3)
        columns, matched = low_level.fused_columns(layout, [1.0, 1.0, -1.0], OFF,
                                                   _vocabulary(None))
        assert columns.shape == (7, 3) and columns.flags.c_contiguous
        assert matched == [("effusion",), ("effusion",), ()]
        assert np.isfinite(columns).all()
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("config", [OFF, None])
def test_a_chunk_the_busy_pool_has_not_started_is_scored_by_the_caller(config,
                                                                       monkeypatch) -> None:
    # another caller's work holds the pool's one thread: this call does not wait for it
    completions, references = FreshText(seed=380).grpo_batch()
    alone = _scored(1, completions, references, config)
    set_num_threads(2)
    threads.submit(lambda: None).result()  # the pool exists (earlier tests may have grown it)
    size = threads._pool[0][1]
    release, started = threading.Event(), threading.Semaphore(0)

    def block() -> None:
        started.release()
        release.wait(60)

    blockers = [threads.submit(block) for _ in range(size)]
    try:
        for _ in range(size):
            assert started.acquire(timeout=60)  # every pool thread is held
        calls = _count_kernel_calls(monkeypatch)
        busy = score_batch(completions, references, config=config)
        assert set(calls) == {threading.current_thread().name}
        # (the low-level reward: its batch split by metric, every part here; the default
        # reward: one chunk behind the judge, taken back)
        assert len(calls) == (3 if config is OFF else 1)
    finally:
        release.set()
        for blocker in blockers:
            blocker.result(timeout=60)
    assert _hex_rows(busy) == _hex_rows(alone)


class _FixedScores:
    """A CPU-bound semantic scorer with fixed scores; ``recycle`` makes the vocabulary
    recycle while it runs, as another thread's call could between two of ours."""

    name = "fixed"

    def __init__(self, recycle: bool = False) -> None:
        self.recycle = recycle
        self.sessions_open: list[int] = []

    def signature(self) -> str:
        return "fixed"

    def score_columns(self, reports, references):
        self.sessions_open.append(VOCAB._active)
        if self.recycle:
            generation, cap = VOCAB.generation, VOCAB.max_tokens
            VOCAB.max_tokens = 1
            try:
                with VOCAB.session():  # nothing in flight: forgets every unpinned token
                    pass
            finally:
                VOCAB.max_tokens = cap
            assert VOCAB.generation == generation + 1
        return np.full((len(reports), 3), 0.25)

    def score_batch(self, reports, references):  # pragma: no cover - score_columns is used
        raise AssertionError("not called")


@pytest.mark.parametrize("long_reference", [False, True])
def test_a_recycle_during_the_judge_leaves_the_kernels_rows_alone(long_reference: bool) -> None:
    # The judge runs outside the call's vocabulary session (a slow LLM judge must not hold
    # off recycling), while the kernel works on the pool: it holds its own arrays, and when it
    # declines the batch (a reference too long for it) the metrics' paths lay it out again.
    completions, references = FreshText(seed=390 + long_reference).grpo_batch(n_refs=8)
    if long_reference:
        references[:16] = [" ".join(["effusion", "no", "heart"] * 1400)] * 16
    plain = _FixedScores()
    alone = _scored(1, completions, references, RewardConfig(semantic=plain))
    recycling = _FixedScores(recycle=True)
    rows = _scored(2, completions, references, RewardConfig(semantic=recycling))
    assert recycling.sessions_open == [0]  # the judge ran outside every session
    assert plain.sessions_open == [0]
    assert _hex_rows(rows) == _hex_rows(alone)
