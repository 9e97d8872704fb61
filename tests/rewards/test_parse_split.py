"""The parse and look-up of a batch split between two threads (``rewards.parse_split``)
against the serial path (``report_spans`` over the whole batch, ``encode``, then the
references' ``encode_batch``).

Both must give the same spans, formats, lowercased bytes, groups and ids, id for id, and
leave the vocabulary holding the same tokens in the same order: each path runs on its own new
``Vocabulary`` (the modules' ``VOCAB`` swapped for it), started with the same tokens. Also
when a look-up misses more tokens than its room (the part is interned again, the references
encoded again), when the pool's thread is busy (the calling thread does the second part
itself), and through ``score_batch``, whose floats must not change.
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
from himed_rewards.metrics._layout import reference_groups
from himed_rewards.rewards import format_batch, parse_split
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


def _parse(monkeypatch, completions: list[str], references: list[str], split: bool):
    """``(parsed, ids, offsets, (groups, hyp_group, ref_ids, ref_offsets), vocabulary)``: the
    batch parsed and encoded on a new vocabulary holding ``KNOWN``, split between two threads
    or not."""
    vocabulary = Vocabulary()
    vocabulary.ids(KNOWN)
    tokenizer = get_tokenizer("default")
    with monkeypatch.context() as m:
        for module in (format_batch, parse_split, tokenizers):
            m.setattr(module, "VOCAB", vocabulary)
        m.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 2 if split else 10**9)
        with vocabulary.session():
            parsed = parse_completions(completions, encode=True, references=references)
            split_here = split and len(completions) >= 2
            assert (parsed._encoded is not None) == split_here
            joined = "".join(references)
            assert (parsed._references is not None) == (split_here and joined.isascii()
                                                        and joined != "")
            ids, offsets = parsed.encode(tokenizer)
            encoded = parsed.encoded_references(references)
            if encoded is None:  # (the serial path, or the split's when it declines)
                distinct, hyp_group = reference_groups(references)
                encoded = (len(distinct), hyp_group, *tokenizer.encode_batch(distinct))
    return parsed, ids, offsets, encoded, vocabulary


def _same(monkeypatch, completions: list[str], references: list[str] | None = None) -> None:
    references = references if references is not None else \
        [c[::-1] for c in completions]  # (any text; the reversed tags are words and symbols)
    one, ids, offsets, encoded, vocabulary = _parse(monkeypatch, completions, references, False)
    other, split_ids, split_offsets, split_encoded, split_vocabulary = \
        _parse(monkeypatch, completions, references, True)
    assert one.formats == other.formats
    assert one.format_array.tolist() == other.format_array.tolist()
    assert one.spans.tolist() == other.spans.tolist()
    assert one.reports() == other.reports()
    assert ids.tolist() == split_ids.tolist()  # the same ids, not only the same tokens
    assert offsets.tolist() == split_offsets.tolist()
    assert encoded[0] == split_encoded[0]
    for array, split_array in zip(encoded[1:], split_encoded[1:], strict=True):
        assert array.tolist() == split_array.tolist()
    assert (vocabulary.tokens(range(len(vocabulary)))
            == split_vocabulary.tokens(range(len(split_vocabulary))))
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(COMPLETION, min_size=2, max_size=12))
def test_split_parse_gives_the_serial_ids_on_any_input(monkeypatch, completions):
    _same(monkeypatch, completions)


def test_split_parse_on_fresh_grpo_batches_and_distinct_pairs(monkeypatch):
    fresh = FreshText(seed=5)
    for make in (fresh.grpo_batch, fresh.distinct_batch, fresh.grpo_batch):
        _same(monkeypatch, *make())


def test_references_not_all_ascii_are_left_to_the_serial_path(monkeypatch):
    completions, references = FreshText(seed=4).grpo_batch()
    references[-1] = references[-1] + " Mïld."
    _same(monkeypatch, completions, references)
    monkeypatch.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 2)
    parsed = parse_completions(completions, encode=True, references=references)
    assert parsed._encoded is not None and parsed.encoded_references(references) is None


def test_a_part_with_more_misses_than_its_room_is_interned_again(monkeypatch):
    # a new vocabulary misses nearly every token: with room for 3 misses, every part
    # overflows (the references are then encoded on the serial path)
    monkeypatch.setattr(parse_split, "_MISSES_ROOM", 3)
    completions, references = FreshText(seed=6).grpo_batch()
    _same(monkeypatch, completions[:40], references[:40])


def test_a_busy_pool_leaves_the_second_part_to_the_calling_thread(monkeypatch):
    ran = []

    def not_started(task):
        ran.append(task)
        future = Future()  # pending: cancel() succeeds, and the caller runs the part itself
        return future

    monkeypatch.setattr(parse_split, "submit", not_started)
    completions, _ = FreshText(seed=7).grpo_batch()
    _same(monkeypatch, completions[:64])
    assert ran  # (the split path was taken)


def test_ids_of_an_earlier_generation_are_not_reused(monkeypatch):
    vocabulary = Vocabulary()
    for module in (format_batch, parse_split, tokenizers):
        monkeypatch.setattr(module, "VOCAB", vocabulary)
    monkeypatch.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 2)
    completions, references = FreshText(seed=8).grpo_batch()
    references = references[:8]
    with vocabulary.session():
        parsed = parse_completions(completions[:8], encode=True, references=references)
    assert parsed._encoded is not None and parsed._references is not None
    vocabulary._recycle()  # (what a session's start does past max_tokens)
    with vocabulary.session():
        ids, offsets = parsed.encode(get_tokenizer("default"))
        assert parsed.encoded_references(references) is None  # (encoded again by the caller)
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


def test_callers_in_threads_at_once_get_the_serial_floats(monkeypatch):
    # as OpenRLHF's reward threads call the reward: several splits share the pool's thread
    # and the vocabulary's lock (a busy pool hands a part back to its caller)
    from concurrent.futures import ThreadPoolExecutor

    fresh = FreshText(seed=10, new_word_per_sentence=True)  # (misses in every part)
    batches = [fresh.grpo_batch(n_refs=4, group=8) for _ in range(16)]
    config = RewardConfig(semantic=None)
    monkeypatch.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 2)
    with ThreadPoolExecutor(4) as callers:
        split = list(callers.map(lambda batch: score_batch(*batch, config=config), batches))
    monkeypatch.setattr(format_batch, "MIN_PAIRS_TO_SPLIT", 10**9)
    assert split == [score_batch(c, r, config=config) for c, r in batches]
