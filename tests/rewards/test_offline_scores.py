"""The offline judge read from the completions' parse gives what
``OfflineClinicalJudge.score_columns`` of the report strings gives, bit for bit, through
both of its front doors: in the calling process (rewards/offline_scores.py, which falls back
to ``score_columns`` whenever its own path does not apply) and in the helper process, from
the request the caller writes into shared memory (rewards/judge_request.py; what else the
request must hold: tests/rewards/test_judge_request.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.clinical import encoded
from himed_rewards.clinical.judge import OfflineClinicalJudge
from himed_rewards.clinical.sentences import clear_caches
from himed_rewards.rewards._shared_buffer import SharedBuffer
from himed_rewards.rewards.format_batch import gather_reports, parse_completions
from himed_rewards.rewards.judge_request import (
    judge_request,
    judge_shared,
    make_request,
    share_request,
)
from himed_rewards.rewards.offline_scores import offline_scores

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # load_iu_pairs
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # FreshText
from _common import FreshText  # noqa: E402
from conftest import load_iu_pairs  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # odd_reports
from odd_reports import COMPLETION, ODD, TEXT, bits, offline_judge  # noqa: E402


@pytest.fixture(scope="module")
def judge() -> OfflineClinicalJudge:
    return offline_judge()


def _in_process(judge, completions, references):
    parsed = parse_completions(completions)
    return offline_scores(judge, parsed, references), parsed


_SHARED = SharedBuffer()  # (one buffer for every batch, as the helper's: rewritten each time)


def _through_a_request(judge, completions, references):
    """A request judged from the parse written into the shared buffer, read back from a
    mapping of its own, with no text of the caller's."""
    parsed = parse_completions(completions, lambda size: _SHARED.array(size)[:size])
    request = make_request(parsed, references)
    reader = SharedBuffer(os.dup(_SHARED.fd))
    try:
        lowered = reader.array(request.nbytes)[:request.nbytes]
        lowered.setflags(write=False)
        return judge_request(judge, request, lowered), parsed
    finally:
        reader.close()


def _through_a_shared_request(judge, completions, references):
    """What the helper judges: the parse, the texts laid out and cut, and the arrays, all
    written into the shared buffer by the caller, read back from a mapping of its own."""
    parsed = parse_completions(completions, lambda size: _SHARED.array(size)[:size])
    request = share_request(parsed, make_request(parsed, references), _SHARED.array)
    reader = SharedBuffer(os.dup(_SHARED.fd))
    try:
        return judge_shared(judge, request, reader.array(request.end)), parsed
    finally:
        reader.close()


FRONT_DOORS = pytest.mark.parametrize(
    "door", [_in_process, _through_a_request, _through_a_shared_request],
    ids=["in process", "request", "helper's shared request"])


def _both(judge, completions, references, door=_in_process):
    ours, parsed = door(judge, completions, references)
    return ours, judge.score_columns(parsed.reports(), references)


@FRONT_DOORS
def test_fresh_batches_score_as_the_report_strings_do(judge, door):
    fresh = FreshText(seed=77)
    odd_completions = [c for c, _ in ODD]
    odd_references = [r for _, r in ODD]
    for k in range(12):
        completions, references = (fresh.grpo_batch(n_refs=8) if k % 2
                                   else fresh.distinct_batch(100))
        completions += odd_completions
        references += odd_references
        if k == 6:
            clear_caches()  # a new process's records, half way
        ours, reference = _both(judge, completions, references, door)
        assert ours.dtype == np.float64 and ours.shape == (len(completions), 3)
        assert bits(ours) == bits(reference)


@FRONT_DOORS
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(COMPLETION, TEXT), min_size=3, max_size=12))
def test_generated_batches_score_as_the_report_strings_do(judge, door, pairs):
    completions = [c for c, _ in pairs]
    references = [r for _, r in pairs]
    ours, reference = _both(judge, completions, references, door)
    assert bits(ours) == bits(reference)


@FRONT_DOORS
def test_the_real_reports_score_as_the_report_strings_do(judge, door):
    _, hyps, refs = load_iu_pairs()
    completions = [f"<think>t</think><finding>{h}</finding><impression>{r[:40]}</impression>"
                   for h, r in zip(hyps, refs, strict=True)]
    ours, reference = _both(judge, completions, refs, door)
    assert bits(ours) == bits(reference)


def test_lowered_reports_are_the_reports_lowercased():
    completions = [c for c, _ in ODD] + [
        "<think>a</think><finding>Mild CARDIOMEGALY.</finding><impression>X.</impression>"]
    parsed = parse_completions(completions)
    buf, starts, ends, rows, tail_at = gather_reports(parsed.lowered, parsed.spans, b"tail.")
    reports = parsed.reports()
    assert buf[tail_at:].tobytes() == b"tail." and not buf.flags.writeable
    assert rows.tolist() == [k for k, f in enumerate(parsed.formats) if f > 0
                             and completions[k].isascii()]
    assert [buf[a:z].tobytes().decode("ascii") for a, z in zip(starts, ends, strict=True)] == \
        [reports[k].lower() for k in rows.tolist()]


@pytest.mark.parametrize("case", ["subclass", "small batch", "kernel not ready",
                                  "kernel lacks a name"])
def test_falls_back_to_score_columns(judge, monkeypatch, case):
    class Subclass(OfflineClinicalJudge):
        """May judge differently: the fast path is for the judge itself."""

    calls = []
    original = OfflineClinicalJudge.score_columns

    def spy(self, candidates, references):
        calls.append(len(candidates))
        return original(self, candidates, references)

    completions = [c for c, _ in ODD]
    references = [r for _, r in ODD]
    scorer = Subclass() if case == "subclass" else judge
    if case == "small batch":
        completions, references = completions[:2], references[:2]
    elif case == "kernel not ready":
        monkeypatch.setattr(encoded, "kernel_ready", lambda: False)
    elif case == "kernel lacks a name":
        def lacks(*args, **kwargs):
            raise KeyError("x:unknown")
        monkeypatch.setattr(encoded, "judge_lowered", lacks)
    monkeypatch.setattr(OfflineClinicalJudge, "score_columns", spy)
    parsed = parse_completions(completions)
    scores = offline_scores(scorer, parsed, references)
    assert calls == [len(completions)]  # the report strings' path answered
    monkeypatch.undo()
    assert bits(scores) == bits(judge.score_columns(parsed.reports(), references))


def test_the_fast_path_is_taken(judge, monkeypatch):
    calls = []
    monkeypatch.setattr(OfflineClinicalJudge, "score_columns",
                        lambda *args: calls.append(args) or pytest.fail("fell back"))
    completions, references = FreshText(seed=78).grpo_batch(n_refs=2)
    assert offline_scores(judge, parse_completions(completions), references).shape == (32, 3)
    assert calls == []
