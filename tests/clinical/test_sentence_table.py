"""The judge's sentence table (``clinical/sentence_table.py``): ids in order of first sight,
whatever the lengths, repeats, table growth and hash collisions of the slots."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.clinical.sentence_table import SentenceTable


def _spans(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    buf = np.frombuffer(b"".join(texts), np.uint8)
    end = np.cumsum([len(t) for t in texts], dtype=np.int64)
    return buf, end - np.array([len(t) for t in texts], dtype=np.int64), end


def _first_seen(texts: list[bytes], seen: dict[bytes, int]) -> list[int]:
    return [seen.setdefault(t, len(seen)) for t in texts]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=40), max_size=60), min_size=1, max_size=4))
def test_ids_are_first_seen_numbers_across_calls(batches):
    table, seen = SentenceTable(), {}
    for texts in batches:
        texts = [t for t in texts if t]  # (a span is never empty: the cut strips and drops)
        ids = table.intern_spans(*_spans(texts)).tolist()
        assert ids == _first_seen(texts, seen)
    assert len(table) == len(seen)


def test_growth_keeps_every_id():
    table, seen, rng = SentenceTable(), {}, np.random.default_rng(3)
    words = [b"effusion", b"no", b"left", b"pleural", b"the", b"lungs", b"are", b"clear"]
    for _ in range(30):  # some 6,000 sentences: the table, rows and arena grow many times
        texts = [b" ".join(rng.choice(words, rng.integers(1, 12))) + b" %d" % rng.integers(500)
                 for _ in range(400)]
        assert table.intern_spans(*_spans(texts)).tolist() == _first_seen(texts, seen)
    for text, sentence_id in list(seen.items())[::97]:
        assert table.token(sentence_id).encode() == text
    # every length around the 8-byte steps of the hash, which must tell them all apart
    texts = [b"a" * k for k in range(1, 40)] + [b"a" * k + b"b" for k in range(1, 40)]
    assert table.intern_spans(*_spans(texts)).tolist() == _first_seen(texts, seen)
