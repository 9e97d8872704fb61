"""Interning identifies tokens by length and packed word up to ``WORD_BYTES`` bytes and by
bytes beyond: every case where those could be confused gets distinct ids, equal to a dict's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.kernels.intern import WORD_BYTES
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
