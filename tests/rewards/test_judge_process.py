"""The offline judge's share of a batch in a helper process (rewards/judge_process.py).

The helper here is the real one (``python -m himed_rewards.rewards._judge_worker``): every
pair must score the same, bit for bit, whichever process judges it; a helper that dies,
hangs or answers garbage must cost the call time, never its result; and the conditions under
which the helper is used must hold.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from himed_rewards import RewardConfig, ascore_batch, score_batch, set_num_threads
from himed_rewards.clinical.encoded import use_judge_kernel
from himed_rewards.clinical.judge import OfflineClinicalJudge
from himed_rewards.rewards import judge_process
from himed_rewards.rewards._shared_buffer import SharedBuffer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # FreshText
from _common import FreshText  # noqa: E402

_FRESH = FreshText(seed=1234)


def _batch(n: int = 256) -> tuple[list[str], list[str]]:
    completions, references = _FRESH.grpo_batch()
    return completions[:n], references[:n]


def _hex_rows(breakdowns: list) -> list:
    """Every field, floats as their bits (== would let -0.0 pass for 0.0)."""
    return [tuple(x.hex() if type(x) is float else x for x in b) for b in breakdowns]


def _inline(completions: list[str], references: list[str], **kwargs) -> list:
    """The rows with the judge in this process (the reference)."""
    before = os.environ.get(judge_process.ENVIRONMENT_VARIABLE)
    os.environ[judge_process.ENVIRONMENT_VARIABLE] = "0"
    try:
        return score_batch(completions, references, **kwargs)
    finally:
        if before is None:
            del os.environ[judge_process.ENVIRONMENT_VARIABLE]
        else:
            os.environ[judge_process.ENVIRONMENT_VARIABLE] = before


@pytest.fixture()
def helper(monkeypatch):
    """Two threads allowed, a ready helper; stopped afterwards, the failure window reset."""
    monkeypatch.delenv(judge_process.ENVIRONMENT_VARIABLE, raising=False)
    set_num_threads(2)
    judge_process._state["retry_at"] = 0.0
    use_judge_kernel()  # (a helper starts once the judge's kernel is compiled or cached)
    assert judge_process.start(wait_s=60.0), judge_process.stats()
    yield judge_process._state["helper"]
    judge_process.stop()
    judge_process._state["retry_at"] = 0.0
    set_num_threads(None)


def _shared_calls() -> int:
    return judge_process.stats().calls


def test_every_pair_scores_the_same_in_either_process(helper) -> None:
    for n in (128, 300, 512):
        completions, references = _batch(n)
        calls = _shared_calls()
        shared = score_batch(completions, references, step=7)
        assert _shared_calls() == calls + 1  # the helper judged a share
        assert _hex_rows(shared) == _hex_rows(_inline(completions, references, step=7))
    assert judge_process.stats().fallbacks == 0


def test_the_caller_parses_where_the_helper_reads(helper) -> None:
    """The parse's lowercased report bodies are written straight into the shared buffer,
    and the helper's scores of them are those of the reports judged here."""
    completions, references = _batch(256)
    parsed, offload = judge_process.begin(OfflineClinicalJudge(), completions, references)
    assert offload is not None
    assert np.shares_memory(parsed.lowered, helper.shared.array(0))
    reports = parsed.reports()
    for k in (0, 100, 255):
        f0, f1, i0, i1 = parsed.spans[k].tolist()
        body = parsed.lowered[f0:f1].tobytes() + b"\n" + parsed.lowered[i0:i1].tobytes()
        assert body.decode("ascii") == reports[k].lower()
    scores = offload.result(lambda: pytest.fail("judged here"))
    assert np.array_equal(scores, OfflineClinicalJudge().score_columns(reports, references))


def test_references_without_a_request_leave_the_helper_serving(helper) -> None:
    """A caller that sent its references ahead and then raised before its request, or
    references the judge cannot read: the helper analyses what it can, waits awake for a few
    milliseconds only, then serves the next request as usual."""
    _, references = _batch(256)
    for ahead in (list(dict.fromkeys(references)), [None, 3], ["Small left effusion."]):
        helper.conn.send(("references", ahead))
    time.sleep(0.05)
    completions, references = _batch(256)
    calls, fallbacks = _shared_calls(), judge_process.stats().fallbacks
    assert _hex_rows(score_batch(completions, references)) == \
        _hex_rows(_inline(completions, references))
    assert _shared_calls() == calls + 1 and judge_process.stats().fallbacks == fallbacks


@pytest.mark.parametrize("after_s", [None, 0.0, 0.001, 0.02])
def test_an_answer_is_looked_for_awake_then_waited_for(after_s) -> None:
    """``_answer_within``: an answer found while the caller looks for it without sleeping,
    or after, once it sleeps; none within the timeout is False."""
    from multiprocessing.connection import Pipe

    caller_end, helper_end = Pipe()
    if after_s is not None:
        timer = threading.Timer(after_s, helper_end.send, (("ok",),))
        timer.start()
    start = time.perf_counter()
    found = judge_process._answer_within(caller_end, 0.5)
    took = time.perf_counter() - start
    assert found is (after_s is not None)
    assert took >= 0.45 if after_s is None else took < 0.4
    caller_end.close()
    helper_end.close()


def test_a_parse_that_cannot_grow_the_shared_buffer_is_judged_here(helper,
                                                                   monkeypatch) -> None:
    completions, references = _batch(256)
    expected = _hex_rows(_inline(completions, references))

    def no_memory(self, room: int) -> np.ndarray:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SharedBuffer, "array", no_memory)  # (the caller's side only)
    fallbacks = judge_process.stats().fallbacks
    assert _hex_rows(score_batch(completions, references)) == expected
    assert judge_process.stats().fallbacks == fallbacks + 1
    assert "could not grow the shared buffer" in judge_process.stats().last_failure


def test_a_layout_that_cannot_grow_the_shared_buffer_is_judged_here(helper,
                                                                    monkeypatch) -> None:
    """The parse fits, but laying the reports out and cutting them after it does not: the
    call judges the batch itself, and the helper serves the next request as usual."""
    completions, references = _batch(256)
    expected = _hex_rows(_inline(completions, references))
    parse_room = []
    grow = SharedBuffer.array

    def parse_only(self, room: int) -> np.ndarray:
        if parse_room and room > parse_room[0]:
            raise OSError(28, "No space left on device")
        parse_room.append(room)
        return grow(self, room)

    monkeypatch.setattr(SharedBuffer, "array", parse_only)  # (the caller's side only)
    fallbacks = judge_process.stats().fallbacks
    assert _hex_rows(score_batch(completions, references)) == expected
    assert judge_process.stats().fallbacks == fallbacks + 1
    assert "could not grow the shared buffer" in judge_process.stats().last_failure


def test_a_request_bigger_than_the_shared_buffer_grows_it_on_both_sides(helper) -> None:
    """Reports of about 4 KB each: the parse outgrows the buffer's first megabyte, the
    caller grows the file and the helper maps it again."""
    completions, references = _batch(300)
    completions = [c.replace("<finding>", "<finding>" + " ".join(references[k:k + 25]) + " ", 1)
                   for k, c in enumerate(completions)]
    first = len(helper.shared.array(0))
    calls, fallbacks = _shared_calls(), judge_process.stats().fallbacks
    shared = score_batch(completions, references)
    assert _shared_calls() == calls + 1 and judge_process.stats().fallbacks == fallbacks
    assert len(helper.shared.array(0)) > first
    assert _hex_rows(shared) == _hex_rows(_inline(completions, references))


def test_real_report_pairs_score_the_same(helper, iu_pairs) -> None:
    hyps, refs = iu_pairs
    completions = [f"<think>x</think><finding>{h}</finding><impression>See above.</impression>"
                   for h in hyps]
    before = judge_process.stats()
    shared = score_batch(completions, refs)
    after = judge_process.stats()
    assert (after.calls, after.pairs) == (before.calls + 1, before.pairs + len(refs))
    assert after.helper_s > before.helper_s and after.waited_s >= before.waited_s
    assert _hex_rows(shared) == _hex_rows(_inline(completions, refs))


def test_ascore_batch_shares_the_judge_too(helper) -> None:
    completions, references = _batch(200)
    calls = _shared_calls()
    shared = asyncio.run(ascore_batch(completions, references))
    assert _shared_calls() == calls + 1
    assert _hex_rows(shared) == _hex_rows(_inline(completions, references))


def test_a_helper_that_dies_costs_time_not_the_result(helper, monkeypatch) -> None:
    completions, references = _batch(256)
    expected = _hex_rows(_inline(completions, references))
    helper.proc.kill()
    helper.proc.wait()
    fallbacks = judge_process.stats().fallbacks
    assert _hex_rows(score_batch(completions, references)) == expected
    stats = judge_process.stats()
    assert stats.fallbacks == fallbacks + 1
    assert "exited" in stats.last_failure or "socket" in stats.last_failure
    assert judge_process._state["helper"] is None
    # no new helper within the failure window; one after it
    assert not judge_process.start()
    judge_process._state["retry_at"] = 0.0
    assert judge_process.start(wait_s=60.0)
    calls = _shared_calls()
    assert _hex_rows(score_batch(completions, references)) == expected
    assert _shared_calls() == calls + 1


def test_a_helper_that_hangs_is_stopped_after_the_timeout(helper, monkeypatch) -> None:
    monkeypatch.setattr(judge_process, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(judge_process, "TIMEOUT_PER_PAIR_S", 0.0)
    completions, references = _batch(256)
    expected = _hex_rows(_inline(completions, references))
    os.kill(helper.proc.pid, signal.SIGSTOP)  # alive, never answering
    start = time.monotonic()
    assert _hex_rows(score_batch(completions, references)) == expected
    assert time.monotonic() - start < 10.0
    assert judge_process.stats().last_failure == "no answer in time"
    assert helper.proc.wait(10) != 0  # killed


@pytest.mark.parametrize("answer", [("error", "ValueError: boom"), ("ok", "not an array"),
                                    ("ok", np.zeros((3, 3))), ("garbage", None)])
def test_a_wrong_answer_is_judged_again_here(helper, answer) -> None:
    """A stand-in for the helper's side of the socket: what the caller does with an error,
    scores of the wrong type or shape, or a message that is not one."""
    from multiprocessing.connection import Pipe

    caller_end, helper_end = Pipe()
    helper.conn.close()
    helper.conn = caller_end
    completions, references = _batch(256)
    expected = _hex_rows(_inline(completions, references))

    def answer_wrongly():
        message = helper_end.recv()
        if message[0] == "references":  # (sent ahead: the request follows)
            message = helper_end.recv()
        _, call_id, *_ = message
        helper_end.send(42 if answer[0] == "garbage" else (answer[0], call_id, answer[1], 0.001))

    stand_in = threading.Thread(target=answer_wrongly)
    stand_in.start()
    fallbacks = judge_process.stats().fallbacks
    assert _hex_rows(score_batch(completions, references)) == expected
    stand_in.join()
    assert judge_process.stats().fallbacks == fallbacks + 1
    expected_failure = {"error": "boom", "ok": "malformed", "garbage": "TypeError"}[answer[0]]
    assert expected_failure in judge_process.stats().last_failure


def test_an_abandoned_request_keeps_its_buffer_until_the_helper_answers(helper) -> None:
    """A call that raised before it took the helper's answer leaves the helper reading the
    shared buffer: no call writes it again before that answer, and the answer is skipped."""
    os.kill(helper.proc.pid, signal.SIGSTOP)  # (it cannot answer before we say so)
    try:
        completions, references = _batch(256)
        _, offload = judge_process.begin(OfflineClinicalJudge(), completions, references)
        assert offload is not None
        written = helper.shared.array(0).copy()
        offload.abandon()
        offload.abandon()  # (twice is harmless)
        calls, fallbacks = _shared_calls(), judge_process.stats().fallbacks
        completions, references = _batch(256)
        assert _hex_rows(score_batch(completions, references)) == \
            _hex_rows(_inline(completions, references))
        assert _shared_calls() == calls  # judged here: the helper still owes its answer
        assert np.array_equal(helper.shared.array(0), written)
    finally:
        os.kill(helper.proc.pid, signal.SIGCONT)
    assert helper.conn.poll(60.0)  # the abandoned request's answer
    completions, references = _batch(256)
    assert _hex_rows(score_batch(completions, references)) == \
        _hex_rows(_inline(completions, references))
    assert _shared_calls() == calls + 1  # the answer read and skipped: the helper again
    assert judge_process.stats().fallbacks == fallbacks
    assert helper.owed is None


def test_threads_calling_at_once_each_get_their_rows(helper) -> None:
    batches = [_batch(200) for _ in range(4)]
    expected = [_hex_rows(_inline(*b)) for b in batches]
    results: list = [None] * 4

    def run(k: int) -> None:
        results[k] = _hex_rows(score_batch(*batches[k]))

    workers = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert results == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_does_not_read_its_parents_helper(helper) -> None:
    completions, references = _batch(200)
    expected = _hex_rows(_inline(completions, references))
    pid = os.fork()
    if pid == 0:  # the child: its own state, the same rows
        ok = judge_process._state["helper"] is None and \
            _hex_rows(score_batch(completions, references)) == expected
        judge_process.stop()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    calls = _shared_calls()
    assert _hex_rows(score_batch(completions, references)) == expected  # the parent's still works
    assert _shared_calls() == calls + 1


def test_stop_ends_the_helper(helper) -> None:
    proc = helper.proc
    judge_process.stop()
    assert proc.wait(10) == 0
    assert judge_process._state["helper"] is None


class _OtherJudge(OfflineClinicalJudge):
    pass


@pytest.mark.parametrize("case", ["small batch", "one thread", "switched off", "no judge",
                                  "another scorer", "too big to share"])
def test_when_the_helper_is_not_used(helper, case, monkeypatch) -> None:
    n = judge_process.MIN_PAIRS - 1 if case == "small batch" else 256
    completions, references = _batch(n)
    config = {"no judge": RewardConfig(semantic=None),
              "another scorer": RewardConfig(semantic=_OtherJudge())}.get(case)
    if case == "one thread":
        set_num_threads(1)
    if case == "switched off":
        monkeypatch.setenv(judge_process.ENVIRONMENT_VARIABLE, "0")
    if case == "too big to share":  # (its characters past the bound: the buffer stays small)
        monkeypatch.setattr(judge_process, "MAX_SHARED_BYTES", sum(map(len, completions)) - 1)
    size = len(helper.shared.array(0))
    calls = _shared_calls()
    rows = score_batch(completions, references, config=config)
    assert _shared_calls() == calls
    assert len(helper.shared.array(0)) == size
    if config is None:
        assert _hex_rows(rows) == _hex_rows(_inline(completions, references))


def test_no_helper_starts_for_a_process_of_one_thread(monkeypatch) -> None:
    judge_process.stop()
    set_num_threads(1)
    try:
        assert not judge_process.start(wait_s=0.1)
        score_batch(*_batch(256))
        assert judge_process._state["helper"] is None
    finally:
        set_num_threads(None)


def test_a_bad_setting_is_named(monkeypatch) -> None:
    monkeypatch.setenv(judge_process.ENVIRONMENT_VARIABLE, "yes")
    set_num_threads(2)
    try:
        with pytest.raises(ValueError, match="HIMED_REWARDS_JUDGE_PROCESS must be 0 or 1"):
            score_batch(*_batch(256))
    finally:
        set_num_threads(None)


def test_a_helper_that_cannot_start_leaves_the_judge_here(monkeypatch) -> None:
    judge_process.stop()
    judge_process._state["retry_at"] = 0.0
    use_judge_kernel()

    def refused(module: str, pass_fds: tuple[int, ...] = ()):
        raise ValueError("pass_fds is not supported on this platform")

    monkeypatch.setattr(judge_process, "start_helper", refused)
    set_num_threads(2)
    try:
        completions, references = _batch(256)
        calls = _shared_calls()
        assert _hex_rows(score_batch(completions, references)) == \
            _hex_rows(_inline(completions, references))
        assert _shared_calls() == calls
        assert "could not start" in judge_process.stats().last_failure
        assert judge_process._state["helper"] is None
    finally:
        set_num_threads(None)
        judge_process._state["retry_at"] = 0.0
