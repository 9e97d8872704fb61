"""The template kernel (``kernels/templates.py``, laid out by ``clinical/templates.py``): the
records it writes for sentences that differ from one met before only in their numbers are
those the Python way writes (``records._Store._from_template``), keys and sizes included, and
the numbers it reads are Python's floats."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.clinical.records import _Store
from himed_rewards.clinical.templates import KEYS_SEPARATOR, Templates
from himed_rewards.kernels.templates import number_value

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # FreshText
from _common import FreshText, finding_of  # noqa: E402


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"[0-9]{1,25}(\.[0-9]{1,25})?", fullmatch=True))
def test_number_value_is_pythons_float_or_declines(text: str) -> None:
    value = number_value(np.frombuffer(text.encode(), np.uint8), 0, len(text))
    digits = text.replace(".", "").lstrip("0")
    fraction = len(text.partition(".")[2])
    if value == -1.0:  # declined: only where one division could round otherwise
        assert int(digits or "0") >= 2**53 or fraction > 22
    else:
        assert value == float(text)


def test_number_value_on_hard_cases() -> None:
    for text, expected in [("0.1", 0.1), ("2.675", 2.675), ("9007199254740991", 2.0**53 - 1),
                           ("0.3", 0.3), ("1.000000000000002", 1.000000000000002), ("1.0000000000000002", -1.0),
                           ("9007199254740993", -1.0), ("1." + "0" * 23, -1.0)]:
        assert number_value(np.frombuffer(text.encode(), np.uint8), 0, len(text)) == expected


def _python_only(store: _Store) -> _Store:
    """``store`` with the kernel's records thrown away: every new sentence written the
    Python way (its masks still interned, as the Python way's templates need their ids)."""
    write = store.templates_written.write

    def declined(*args):
        written = write(*args)
        written.status[:] = -1
        return written

    store.templates_written.write = declined
    return store


def _records(store: _Store, texts: list[str]) -> list[list[tuple]]:
    """Each text's sentence records as tuples, its keys id read back as its joined keys
    (two stores number keys in different orders)."""
    records, lo, hi = store.reports(texts)
    joined_of = {keys_id: joined for joined, keys_id in store.keys.items()}
    ends = [*store.starts[1:store.count].tolist(), store.fill]
    out = []
    for k in range(len(texts)):
        rows = []
        for r in records[lo[k]:hi[k]].tolist():
            record = store.blob[store.starts[r]:ends[r]].tolist()
            record[1] = joined_of[int(record[1])]
            rows.append(tuple(record))
        out.append(rows)
    return out


_SHAPES = ["Nodule measuring {} cm.", "Right upper lobe nodule measuring {} mm, stable.",
           "{} mm and {} mm nodules.", "Mass measuring {} cm. No effusion.",
           "No nodule measuring {} cm.", "Nodules measuring {} cm. nodule measuring {} cm.",
           "Small left pleural effusion, {} cm, and a {}.{} cm nodule."]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.from_regex(r"(0|[1-9][0-9]{0,3}|[0-9]{17,20})(\.[0-9]{1,3})?",
                                       fullmatch=True), min_size=3, max_size=3),
                min_size=4, max_size=8))
def test_the_kernel_writes_the_python_ways_records(numbers: list[list[str]]) -> None:
    # Batch after batch of the same shapes with other numbers (sizes out of range, "0",
    # numbers too long for one exact division among them): once a mask has a template,
    # the kernel writes its sentences' records, and they are the Python way's. (Two stores
    # share the sentence caches, so which sentences each analysed and which it made from a
    # template may differ: the records may not.)
    kernel, python = _Store(), _python_only(_Store())
    for k in range(0, len(numbers), 2):
        texts = [shape.format(*chosen[:shape.count("{}")])
                 for chosen in numbers[k:k + 2] for shape in _SHAPES]
        assert _records(kernel, texts) == _records(python, texts)


def test_fresh_batches_get_the_python_ways_records() -> None:
    fresh = FreshText(seed=5)
    kernel, python = _Store(), _python_only(_Store())
    written = []
    write = kernel.templates_written.write

    def counted(*args):
        out = write(*args)
        written.append(int((out.status >= 0).sum()))
        return out

    kernel.templates_written.write = counted
    for _ in range(6):
        candidates, references = fresh.grpo_batch(8, 16)
        texts = [finding_of(c) for c in candidates] + references
        assert _records(kernel, texts) == _records(python, texts)
    assert sum(written[2:]) > 0  # (the kernel's way was taken)


def test_a_repeat_across_the_two_ways_keeps_one_keys_id() -> None:
    # "nodules" and "nodule" have one key: a report saying both says it twice, whichever
    # way each sentence's record was written
    store = _Store()
    store.reports(["Nodule measuring 2.5 cm.", "Nodule measuring 3.5 cm."])  # a template
    records, lo, hi = store.reports(["Nodule measuring 4.5 cm. Nodules measuring 4.5 cm."])
    first, second = (store.blob[store.starts[r] + 1] for r in records[lo[0]:hi[0]].tolist())
    assert first == second
    joined = {v: k for k, v in store.keys.items()}[int(first)]
    assert joined.split(KEYS_SEPARATOR) == ["nodule", "measuring", "4.5", "cm"]


def test_templates_grow() -> None:
    templates = Templates()
    for t in range(300):  # past every array's first size
        templates.add(t, tuple(float(k) for k in range(40)), ((2, 0, 0.1),),
                      ("word",) * 30 + ("1",), (30,), ((0, 1),))
    assert templates.n == 300 and templates.template_of[299] == 299
    assert templates.meta[299].tolist()[1] == 40


def test_the_interpreted_kernel_writes_what_the_compiled_one_does() -> None:
    # (the interpreter tier runs the kernel's source; writing past the room it was given
    # then raises instead of corrupting memory)
    from himed_rewards.clinical.records import cut_sentences, lowered_ascii
    from himed_rewards.kernels.templates import template_records

    fresh, store = FreshText(seed=9), _Store()
    for _ in range(4):
        candidates, references = fresh.grpo_batch(8, 16)
        store.reports([finding_of(c) for c in candidates] + references)
    assert store.templates_written.n > 0
    candidates, _ = fresh.grpo_batch(8, 16)
    _, lowered, starts, ends = lowered_ascii([finding_of(c) for c in candidates])
    buf = np.frombuffer(lowered.encode("ascii"), np.uint8)
    cut = cut_sentences(buf, starts, ends)
    outs = []
    for kernel in (template_records, template_records.py_func):
        templates = copy.deepcopy(store.templates_written)
        arguments = templates.arguments(buf, cut.span_start, cut.span_end, 1e4)
        counts = kernel(*arguments)
        mask_id, status, records, keys, keys_span = arguments[-5:]
        outs.append((counts, mask_id.tolist(), status.tolist(), records[:counts[2]].tolist(),
                     keys[:counts[3]].tolist(), keys_span.tolist()))
    assert outs[0] == outs[1]
    assert max(outs[0][2]) >= 0  # (records were written)
