"""Interning identifies tokens by length and packed word up to ``WORD_BYTES`` bytes and by
bytes beyond: every case where those could be confused gets distinct ids, equal to a dict's."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.kernels.intern import WORD_BYTES
from himed_rewards.kernels.intern_default import (
    NO_MISSES,
    intern_default_segments,
    most_new_tokens,
)
from himed_rewards.kernels.tokenize import DEFAULT_CLASSES
from himed_rewards.text.tokenizers import DefaultTokenizer
from himed_rewards.text.vocabulary import Vocabulary


def dict_ids(tokens: list[str]) -> list[int]:
    """The ids a plain dict gives in first-seen order: what interning must reproduce."""
    seen: dict[str, int] = {}
    return [seen.setdefault(t, len(seen)) for t in tokens]


def test_tokens_sharing_their_last_word_bytes_stay_distinct():
    tail = "x" * WORD_BYTES
    tokens = [tail, "a" + tail, "b" + tail, "ab" + tail, "\x00" + tail, tail[:-1], "",
              "\x00", "\x00\x00", "a\x00", "\x00a", tail, "a" + tail, "\x00" * (WORD_BYTES + 1),
              "\x00" * WORD_BYTES]
    v = Vocabulary()
    assert v.ids(tokens).tolist() == dict_ids(tokens)
    assert v.tokens(range(len(v))) == list(dict.fromkeys(tokens))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(["a", "b", "\x00", "é"]), max_size=12),
                max_size=60))
def test_ids_equal_a_dicts_through_table_rebuilds(tokens):
    v = Vocabulary()
    # short tokens of few letters (many equal packed words apart from length) and long ones
    # differing only in bytes the word does not hold; a second call finds them all
    assert v.ids(tokens).tolist() == dict_ids(tokens)
    assert v.ids(tokens).tolist() == dict_ids(tokens)
    assert v.tokens(range(len(v))) == list(dict.fromkeys(tokens))


# The default tokenizer interns as it tokenizes (kernels.intern_default): the same ids, and
# the same vocabulary state, as its Python rule's tokens interned one by one.
ASCII_LOWER = st.sampled_from(list("ab09.,-/:;_ \t\n\x0b\x1c!(") + ["abcdefghi", "bcdefghi"])


def fused_ids(vocabulary: Vocabulary, texts: list[str]) -> tuple[list[list[int]], list[int]]:
    """Each text's ids through intern_default_segments, the texts as segments of one buffer
    with a gap of one non-space byte between them (tokens must not cross segments)."""
    raw = b"".join(t.encode("ascii") + b"x" for t in texts)
    lengths = [len(t) + 1 for t in texts]
    seg_start = (np.cumsum(lengths, dtype=np.int64) - lengths).astype(np.int64)
    seg_end = seg_start + np.array([len(t) for t in texts], dtype=np.int64)
    size = len(raw)
    ids = np.empty(size, dtype=np.int32)
    offsets = np.empty(len(texts) + 1, dtype=np.int64)
    buf = np.frombuffer(raw, dtype=np.uint8)
    bounds = np.stack([seg_start, seg_end], axis=1).reshape(-1)  # (start, end) pairs
    n, missed = vocabulary.intern_with(intern_default_segments,
                                       (buf, bounds, 2, 1, ids, offsets, DEFAULT_CLASSES, False,
                                        NO_MISSES), most_new_tokens(size), size)
    assert missed == 0
    assert offsets[0] == 0 and offsets[-1] == n
    return ([ids[offsets[k]:offsets[k + 1]].tolist() for k in range(len(texts))],
            np.diff(offsets).tolist())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(ASCII_LOWER, max_size=12).map("".join), max_size=8))
def test_tokenizing_and_interning_in_one_pass_equals_the_rule_interned(texts):
    rule = DefaultTokenizer()._tokenize
    one_by_one = Vocabulary()
    expected = [one_by_one.ids(rule(t)).tolist() for t in texts]
    fused = Vocabulary()
    got, counts = fused_ids(fused, texts)
    assert got == expected and counts == [len(rule(t)) for t in texts]
    assert fused_ids(fused, texts)[0] == expected  # found again, nothing added
    for name in ("_n", "_used"):
        assert getattr(fused, name) == getattr(one_by_one, name)
    for name in ("_start", "_len", "_hash", "_word"):
        assert (getattr(fused, name)[:len(fused)] == getattr(one_by_one, name)[:len(fused)]).all()
    assert (fused._arena[:fused._used] == one_by_one._arena[:fused._used]).all()
    # (tables of different sizes hold the same ids, each where its hash puts it)
    assert one_by_one.ids(fused.tokens(range(len(fused)))).tolist() == list(range(len(fused)))


def test_encode_spans_reads_rows_of_segments_and_names_bad_spans():
    import pytest

    from himed_rewards.text.vocabulary import VOCAB

    tokenizer = DefaultTokenizer()
    buf = np.frombuffer(b"<f>no effusion.</f><i>clear</i>|<f>x</f>", dtype=np.uint8)
    ids, offsets = tokenizer.encode_spans(buf, np.array([[3, 15, 22, 27], [-1, -1, 35, 36]]))
    assert offsets.tolist() == [0, 4, 5]
    assert VOCAB.tokens(ids) == ["no", "effusion", ".", "clear", "x"]
    for bad in ([[3, 99]], [[5, 3]], [[-1, 4]], [[0, 1, 2]]):
        with pytest.raises(ValueError, match="spans"):
            tokenizer.encode_spans(buf, np.array(bad))
