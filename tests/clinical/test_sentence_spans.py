"""The judge's sentence cut in a kernel (``kernels/sentences.py``) against the interpreter's
rule (``clinical.sentences._split_dots``, then stripping and dropping empty pieces)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.clinical.sentences import _split_dots
from himed_rewards.kernels.sentences import sentence_spans, span_room

# digits, dots and spaces in every arrangement (numbers "2.5", "1.2.3", ". 3", "3 ."), and
# texts as dense in pieces as can be ("a.b.c": span_room's bound met exactly)
_TEXT = (st.text(alphabet="0123456789. \t\n\rab:", max_size=60)
         | st.lists(st.sampled_from("ab1"), max_size=30).map(".".join))


def _cut(texts: list[str]) -> list[list[str] | None]:
    """Each text's pieces as the kernel cuts them; None for a text it leaves to Python."""
    buf = np.frombuffer("".join(texts).encode("ascii"), np.uint8)
    ends = np.cumsum([len(t) for t in texts], dtype=np.int64)
    starts = ends - np.array([len(t) for t in texts], dtype=np.int64)
    room = span_room(starts, ends)
    span_start, span_end, span_text = (np.empty(room, np.int64) for _ in range(3))
    simple = np.empty(len(texts), np.uint8)
    # (the interpreted kernel: writing past the room raises instead of corrupting memory)
    n = sentence_spans.py_func(buf, starts, ends, span_start, span_end, span_text, simple)
    assert n == sentence_spans(buf, starts, ends, span_start, span_end, span_text, simple)
    out: list[list[str] | None] = [[] if simple[k] else None for k in range(len(texts))]
    joined = "".join(texts)
    for a, z, t in zip(span_start[:n].tolist(), span_end[:n].tolist(), span_text[:n].tolist(),
                       strict=True):
        out[t].append(joined[a:z])  # type: ignore[union-attr]
    return out


def _expected(text: str) -> list[str] | None:
    if any(c in text for c in ":;!?"):
        return None
    return [p for p in (piece.strip(" \t\n\r") for piece in _split_dots(text)) if p]


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=8))
def test_the_kernel_cuts_as_the_interpreter(texts):
    assert _cut(texts) == [_expected(t) for t in texts]


def test_other_breaks_are_left_to_the_interpreter():
    texts = ["no effusion. size 2.5 cm.", "impression: normal.", "a; b", "why?", "yes!", "1.2.3"]
    assert _cut(texts) == [["no effusion", "size 2.5 cm"], None, None, None, None, ["1.2", "3"]]
