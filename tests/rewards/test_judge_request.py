"""A batch for the offline judge as the parse left it (rewards/judge_request.py): what the
request says of each text, how the helper reads the texts back for the interpreter and falls
back, and the buffer the two processes share (rewards/_shared_buffer.py), which grows and is
seen grown from the other side. That the helper's scores are ``score_columns``' of the
report strings, bit for bit, on fresh, generated and real batches:
tests/rewards/test_offline_scores.py."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from himed_rewards.clinical import encoded
from himed_rewards.clinical.judge import OfflineClinicalJudge
from himed_rewards.clinical.records import cut_sentences
from himed_rewards.rewards._shared_buffer import SharedBuffer
from himed_rewards.rewards.format_batch import parse_completions
from himed_rewards.rewards.judge_request import (
    _laid_out,
    judge_request,
    make_request,
    share_request,
)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # odd_reports
from odd_reports import ODD, bits, offline_judge  # noqa: E402


@pytest.fixture(scope="module")
def judge() -> OfflineClinicalJudge:
    return offline_judge()


def test_the_request_says_where_every_text_is():
    completions = [c for c, _ in ODD] + ["<think>a</think><finding>Mild CARDIOMEGALY."
                                         "</finding><impression>X.</impression>"]
    references = [r for _, r in ODD] + [ODD[0][1]]  # (a reference met twice: one text)
    parsed = parse_completions(completions)
    request = make_request(parsed, references)
    n, distinct = len(completions), list(dict.fromkeys(references))
    texts = parsed.reports() + distinct
    assert (request.n, request.n_texts) == (n, n + len(distinct))
    assert [texts[k] for k in request.ref.tolist()] == references
    assert request.nbytes == len(parsed.lowered) and request.spans is parsed.spans
    assert request.tail_texts == sorted(request.tail_texts)
    in_tail = [request.tail[a:z].decode("ascii")
               for a, z in zip(request.tail_starts, request.tail_ends, strict=True)]
    assert in_tail == [texts[k].lower() for k in request.tail_texts]
    in_parse = [k for k in range(n) if parsed.spans[k, 0] >= 0]
    assert request.others == {k: texts[k] for k in range(len(texts))
                              if k not in in_parse + request.tail_texts}
    assert set(request.others) == {0, 1, n + 1}  # two odd completions, one odd reference


def test_the_shared_request_holds_the_texts_laid_out_and_cut():
    """What the helper reads from the buffer is what it would lay out and cut itself, the
    parse's bytes are left as they were, and only a few numbers cross the socket."""
    completions = [c for c, _ in ODD] + ["<think>a</think><finding>Nodule 7 mm. Clear."
                                         "</finding><impression>X.</impression>"] * 3
    references = [r for _, r in ODD] + ["No nodule.", "No nodule.", "Nodule: 5 mm."]
    shared = SharedBuffer()
    try:
        parsed = parse_completions(completions, lambda size: shared.array(size)[:size])
        before = parsed.lowered.tobytes()
        request = make_request(parsed, references)
        message = share_request(parsed, request, shared.array)
        memory = shared.array(message.end)
        assert memory[:request.nbytes].tobytes() == before
        buf, starts, ends, plain = _laid_out(parsed.lowered, request)  # (as judge_request)
        cut = cut_sentences(buf, starts, ends)
        assert memory[message.at:message.at + message.size].tobytes() == buf.tobytes()
        assert (message.n, message.n_texts, message.others) == \
            (request.n, request.n_texts, request.others)
        assert (message.n_plain, message.count) == (len(plain), cut.span_start.shape[0])
        arrays = memory[message.arrays_at:message.end - message.n_plain].view(np.int64)
        want = np.concatenate([starts, ends, plain, request.ref, cut.span_start, cut.span_end,
                               cut.span_text])
        assert arrays.tolist() == want.tolist()
        assert memory[message.end - message.n_plain:message.end].tolist() == cut.simple.tolist()
        assert 0 in cut.simple.tolist()  # (a reference with another break: the interpreter's)
        assert len(pickle.dumps(message)) < 1000 + sum(map(len, request.others.values()))
    finally:
        shared.close()


@pytest.mark.parametrize("given", [False, True], ids=["read back", "given"])
def test_a_kernel_that_lacks_a_name_falls_back_to_score_columns(judge, monkeypatch, given):
    """The texts handed to the interpreter: as the caller gives them, or else read back from
    the parse's bytes, lowercased (the helper has no others), with the same scores."""
    def lacks(*args, **kwargs):
        raise KeyError("x:unknown")

    completions, references = [c for c, _ in ODD], [r for _, r in ODD]
    parsed = parse_completions(completions)
    request = make_request(parsed, references)
    texts = parsed.reports() + list(dict.fromkeys(references))
    monkeypatch.setattr(encoded, "judge_lowered", lacks)
    calls = []
    original = OfflineClinicalJudge.score_columns

    def spy(self, candidates, refs):
        calls.append((candidates, refs))
        return original(self, candidates, refs)

    monkeypatch.setattr(OfflineClinicalJudge, "score_columns", spy)
    scores = judge_request(judge, request, parsed.lowered, texts.__getitem__ if given else None)
    if given:
        assert calls == [(parsed.reports(), references)]
    else:
        def read_back(text):
            return text if text in request.others.values() else text.lower()
        assert calls == [([read_back(r) for r in parsed.reports()],
                          [read_back(r) for r in references])]
    monkeypatch.undo()
    assert bits(scores) == bits(judge.score_columns(parsed.reports(), references))


def test_the_shared_buffer_grows_and_another_process_sees_it():
    owner = SharedBuffer()
    first = owner.array(0)
    first[:3] = np.frombuffer(b"abc", np.uint8)
    big = len(first) * 3
    grown = owner.array(big)  # (the first array stays valid: its map is not closed)
    assert len(grown) >= big and first[:3].tobytes() == b"abc" == grown[:3].tobytes()
    grown[big - 3:big] = np.frombuffer(b"xyz", np.uint8)
    code = ("import sys; from himed_rewards.rewards._shared_buffer import SharedBuffer; "
            "a = SharedBuffer(int(sys.argv[1])).array(int(sys.argv[2])); "
            "sys.stdout.write(a[:3].tobytes().decode() + a[int(sys.argv[2]) - 3:"
            "int(sys.argv[2])].tobytes().decode()); a[0] = 65")
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    out = subprocess.run([sys.executable, "-c", code, str(owner.fd), str(big)],
                         pass_fds=(owner.fd,), env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout == "abcxyz"
    assert grown[0] == 65  # (what the other process wrote)
    reader = SharedBuffer(os.dup(owner.fd))
    with pytest.raises(ValueError, match="fewer than"):
        reader.array(len(grown) + 1)  # a reader cannot grow it
    reader.close()
    owner.close()


def test_without_memfd_the_buffer_is_a_temporary_file(monkeypatch):
    def forbidden(name, flags=0):
        raise PermissionError("memfd_create is not allowed here")

    monkeypatch.setattr(os, "memfd_create", forbidden, raising=False)
    owner = SharedBuffer()
    owner.array(4)[:4] = np.frombuffer(b"memo", np.uint8)
    reader = SharedBuffer(os.dup(owner.fd))
    assert reader.array(4)[:4].tobytes() == b"memo"
    if sys.platform == "linux":  # (memfd's show as "/memfd:NAME")
        assert "memfd:" not in os.readlink(f"/proc/self/fd/{owner.fd}")
    reader.close()
    owner.close()
    owner.close()  # (twice is harmless)
