"""The labeler and the judge run in time linear in the text (issue 12, item 2).

Each case times one input and the same input four times longer, best of three runs each,
and checks the ratio: linear work gives about 4, quadratic about 16. The bound (10) leaves
room for a noisy shared machine while still failing the quadratic case.
"""

from __future__ import annotations

import gc
import time

import pytest

from himed_rewards.clinical import OfflineClinicalJudge, label_report, polarity_at

_RATIO_LIMIT = 10.0


def _best_of_three(call, text: str) -> float:
    best = float("inf")
    gc.disable()  # a collection landing in one run would dominate it
    try:
        for _ in range(3):
            start = time.perf_counter()
            call(text)
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


def _ratio(call, unit: str, repeats: int) -> float:
    call(unit * repeats)  # warm caches (token keys) outside the timing
    small = _best_of_three(call, unit * repeats)
    large = _best_of_three(call, unit * (4 * repeats))
    return large / max(small, 1e-6)


# Each unit stresses one part: anatomy + qualifier + terminator (the reported reproducer),
# long negation lists, hedges, sentence breaks, measurements and devices.
UNITS = [
    "heart enlarged although ",
    "no effusion , ",
    "possible nodule or ",
    "pneumonia . ",
    "mediastinum widened , but ",
    "3 cm left lower lobe mass , ",
    "ett tip 2 cm above the carina , new ",
    "no no ",
]


@pytest.mark.parametrize("unit", UNITS)
def test_label_report_is_linear(unit: str) -> None:
    assert _ratio(label_report, unit, 4000) < _RATIO_LIMIT


def test_reported_reproducer_is_fast() -> None:
    # 200 KB took 11.6 s before the fix (a scan of every terminator per qualifier).
    start = time.perf_counter()
    label_report("heart enlarged although " * 8333)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(("unit", "repeats"), [
    ("left basilar opacity , increased since prior , ", 2000),
    ("ett malpositioned , ", 8000),  # position words look for the nearest device
    ("bilateral effusions , left greater than right . ", 2000),
    ("thank you . thank you . ", 4000),  # filler and repeated sentences
])  # fmt: skip
def test_judge_is_linear(unit: str, repeats: int) -> None:
    def call(text: str) -> None:
        OfflineClinicalJudge().score_batch([text], ["Mild cardiomegaly. Small pleural effusion."])

    assert _ratio(call, unit, repeats) < _RATIO_LIMIT


def test_polarity_at_is_linear() -> None:
    calls = iter(range(10**6))

    def call(text: str) -> None:
        text = f"{next(calls)} {text}"  # a new text each time: polarity_at caches the last
        polarity_at(text, len(text) - 9, len(text) - 1)

    assert _ratio(call, "no effusion but enlarged heart . ", 2000) < _RATIO_LIMIT
