"""Report extraction stays linear on unclosed tags (issue 12, item 1) and keeps its meaning.

The oracle below is the direct rescanning extraction the package used before (each
``str.find`` restarts from the current position): obviously correct, quadratic on
``"<finding>" * n``. The package's extraction must agree with it on every input.
"""

from __future__ import annotations

import random
import time

import pytest

from himed_rewards import extract_report, format_reward
from himed_rewards.rewards.format import _ANY_TAG, parse_completion

TAGS = ("think", "finding", "impression")


def _oracle_drop_reasoning(text: str) -> str:
    stray = text.rfind("</think>")
    if stray >= 0 and text.rfind("<think>", 0, stray) < 0:
        text = text[stray + len("</think>"):]
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find("<think>", pos)
        if start < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        end = text.find("</think>", start)
        if end >= 0:
            pos = end + len("</think>")
            continue
        nexts = [i for i in (text.find("<finding>", start), text.find("<impression>", start))
                 if i >= 0]
        if not nexts:
            break
        pos = min(nexts)
    return "".join(parts)


def _oracle_sections(text: str, tag: str) -> list[str]:
    opening, closing = f"<{tag}>", f"</{tag}>"
    out: list[str] = []
    pos = 0
    while True:
        start = text.find(opening, pos)
        if start < 0:
            return out
        start += len(opening)
        end = text.find(closing, start)
        if end < 0:
            nexts = [i for i in (text.find(f"<{t}>", start) for t in TAGS) if i >= 0]
            end = min(nexts) if nexts else len(text)
            pos = end
        else:
            pos = end + len(closing)
        out.append(text[start:end])


def _oracle_extract(text: str) -> str:
    text = _oracle_drop_reasoning(text)
    sections = [s.strip() for tag in TAGS[1:] for s in _oracle_sections(text, tag)]
    if sections:
        return "\n".join(s for s in sections if s)
    return " ".join(_ANY_TAG.sub(" ", text).split())


_PIECES = ["<think>", "</think>", "<finding>", "</finding>", "<impression>", "</impression>",
           "<b>", "a", " lungs clear ", "\n", "<", ">", "/"]


def test_extraction_equals_the_rescanning_oracle_on_40000_random_completions():
    rng = random.Random(12)
    for _ in range(40_000):
        completion = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 14)))
        expected = _oracle_extract(completion)
        assert extract_report(completion) == expected, completion
        report, fmt = parse_completion(completion)
        assert fmt == format_reward(completion)
        if fmt < 0:
            assert report == expected, completion


def _best_time(completion: str, repeats: int = 3) -> float:
    """Best CPU time (wall time on a shared machine penalises the longer call)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        extract_report(completion)
        parse_completion(completion)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("unit", ["<finding>", "<think><finding>", "<impression></finding>",
                                  "<think>", "</think><think>x"])
def test_unclosed_tags_take_linear_time(unit):
    # 40 KB then 160 KB: the old rescanning took 16x (quadratic); 1 MB took over a minute.
    small = unit * (40_000 // len(unit))
    ratio = _best_time(small * 4) / max(_best_time(small), 1e-4)
    assert ratio < 8, f"{unit!r}: 4x the input took {ratio:.1f}x the time"


def test_megabyte_of_unclosed_tags_is_fast():
    start = time.process_time()
    assert extract_report("<finding>" * 116_000) == ""
    assert time.process_time() - start < 10  # was over 60 s
