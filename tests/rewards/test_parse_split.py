"""The parse and look-up of a batch split between two threads (``format_batch._parse_and_look_up``)
against the serial path (``report_spans`` over the whole batch, then ``encode``).

Both must give the same spans, formats, lowercased bytes and ids, id for id, and leave the
vocabulary holding the same tokens in the same order: each path runs on its own new
``Vocabulary`` (the modules' ``VOCAB`` swapped for it), started with the same tokens. Also
when a part's look-up misses more tokens than its room (the part is interned again), when
the pool's thread is busy (the calling thread does the second part itself), and through
``score_batch``, whose floats must not change.
"""

from __future__ import annotations

import sys
from concurrent.futures import Future
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from himed_rewards import RewardConfig, score_batch, set_num_threads
from himed_rewards.kernels._config import materialise
from himed_rewards.rewards import format_batch
from himed_rewards.rewards.format_batch import parse_completions
from himed_rewards.text import tokenizers
from himed_rewards.text.tokenizers import get_tokenizer
from himed_rewards.text.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # FreshText
from _common import FreshText  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_format_batch import COMPLETION  # noqa: E402

KNOWN = ["no", "effusion", ".", "the", "lungs", "are", "clear"]  # what both vocabularies hold


@pytest.fixture(autouse=True)
def two_threads():
    materialise()  # (the split needs compiled kernels: a stand-in may run in the interpreter)
    set_num_threads(2)
    yield
    set_num_threads(None)


def _parse(monkeypatch, completions: list[str], split: bool):
    """``(parsed, ids, offsets, vocabulary)``: the batch parsed and encoded on a new vocabulary
    holding ``KNOWN``, split between two threads or not."""
    vocabulary = Vocabulary()
    vocabulary.ids(KNOWN)
    with monkeypatch.context() as m:
        m.setattr(format_batch, "VOCAB", vocabulary)
        m.setattr(tokenizers, "VOCAB", vocabulary)
        m.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 2 if split else 10**9)
        with vocabulary.session():
            parsed = parse_completions(completions, encode=True)
            assert (parsed._encoded is not None) == (split and len(completions) >= 2)
            ids, offsets = parsed.encode(get_tokenizer("default"))
    return parsed, ids, offsets, vocabulary


def _same(monkeypatch, completions: list[str]) -> None:
    serial = _parse(monkeypatch, completions, split=False)
    split = _parse(monkeypatch, completions, split=True)
    (one, ids, offsets, vocabulary), (other, split_ids, split_offsets, split_vocabulary) = \
        serial, split
    assert one.formats == other.formats
    assert one.format_array.tolist() == other.format_array.tolist()
    assert one.spans.tolist() == other.spans.tolist()
    assert one.reports() == other.reports()
    assert ids.tolist() == split_ids.tolist()  # the same ids, not only the same tokens
    assert offsets.tolist() == split_offsets.tolist()
    assert (vocabulary.tokens(range(len(vocabulary)))
            == split_vocabulary.tokens(range(len(split_vocabulary))))
    for f0, f1, i0, i1 in other.spans[other.spans[:, 0] >= 0].tolist():  # the bodies' bytes
        assert other.lowered[f0:f1].tobytes() == one.lowered[f0:f1].tobytes()
        assert other.lowered[i0:i1].tobytes() == one.lowered[i0:i1].tobytes()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(COMPLETION, min_size=2, max_size=12))
def test_split_parse_gives_the_serial_ids_on_any_input(monkeypatch, completions):
    _same(monkeypatch, completions)


def test_split_parse_on_fresh_grpo_batches(monkeypatch):
    fresh = FreshText(seed=5)
    for _ in range(3):
        completions, _ = fresh.grpo_batch()
        _same(monkeypatch, completions)


def test_a_part_with_more_misses_than_its_room_is_interned_again(monkeypatch):
    # a new vocabulary misses nearly every token: with room for 3 misses, both parts overflow
    monkeypatch.setattr(format_batch, "_MISSES_ROOM", 3)
    completions, _ = FreshText(seed=6).grpo_batch()
    _same(monkeypatch, completions[:40])


def test_a_busy_pool_leaves_the_second_part_to_the_calling_thread(monkeypatch):
    ran = []

    def not_started(task):
        ran.append(task)
        future = Future()  # pending: cancel() succeeds, and the caller runs the part itself
        return future

    monkeypatch.setattr(format_batch, "submit", not_started)
    completions, _ = FreshText(seed=7).grpo_batch()
    _same(monkeypatch, completions[:64])
    assert ran  # (the split path was taken)


def test_ids_of_an_earlier_generation_are_not_reused(monkeypatch):
    vocabulary = Vocabulary()
    monkeypatch.setattr(format_batch, "VOCAB", vocabulary)
    monkeypatch.setattr(tokenizers, "VOCAB", vocabulary)
    monkeypatch.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 2)
    completions, _ = FreshText(seed=8).grpo_batch()
    with vocabulary.session():
        parsed = parse_completions(completions[:8], encode=True)
    assert parsed._encoded is not None
    vocabulary._recycle()  # (what a session's start does past max_tokens)
    with vocabulary.session():
        ids, offsets = parsed.encode(get_tokenizer("default"))
    assert vocabulary.tokens(ids[offsets[0]:offsets[1]]) == \
        get_tokenizer("default")(parsed.reports()[0])


def test_score_batch_floats_do_not_change(monkeypatch):
    fresh = FreshText(seed=9)
    config = RewardConfig(semantic=None)
    for shape in (fresh.grpo_batch, fresh.distinct_batch):
        completions, references = shape()
        completions[3] = "no tags at all"  # a row the Python parse takes
        completions[5] = completions[5].replace("e", "é", 1)
        monkeypatch.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 10**9)
        serial = score_batch(completions, references, config=config)
        monkeypatch.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 2)
        split = score_batch(completions, references, config=config)
        assert split == serial  # (named tuples: every field, float for float)
