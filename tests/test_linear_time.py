"""Time per call is linear in the completion's size, for every public entry point.

For each entry point and each shape of input (real report text, unclosed tags, a huge
vocabulary, one word repeated, tag soup), the completion is built at 1x and 4x its size and
the best of several timings compared within one run: a linear entry point takes about 4x,
a quadratic one 16x. The bound (< 8x) is generous for a noisy, shared 2-core machine; no
absolute time is asserted. Times are CPU times of this process: on an oversubscribed
machine wall time inflates calls longer than a scheduler slice far more than short ones.

The reference stays a fixed, real report: in training the policy controls the completion,
the dataset the reference. (An LCS is O(n * m / 64) in both lengths, so ROUGE-L grows with
the product when both grow; that is documented in docs/quickstart.md.)
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import himed_rewards as hr
from himed_rewards import metrics
from himed_rewards.clinical import label_report
from himed_rewards.rewards.keywords import keyword_bonus

FIXTURES = Path(__file__).parent / "fixtures" / "iu_xray"  # real IU X-ray text (see README)


def _reports(name: str) -> list[str]:
    with (FIXTURES / name).open(newline="", encoding="utf-8") as handle:
        return [row["report"] for row in csv.DictReader(handle)]


_PREDS, _REFS = _reports("preds.csv"), _reports("gts.csv")
REFERENCE = " ".join(_REFS[:6])  # a long real report (a few hundred tokens)
REPORT_TEXT = " ".join(_PREDS)
BASE_CHARS = 12_000  # the 1x completion; 4x is 48 KB
RATIO_BOUND = 8.0


def _cut(text: str, chars: int) -> str:
    return (text * (chars // len(text) + 1))[:chars]


# "{salt}" becomes a new word at every call, where the scored report text starts: the
# tokenizers' caches must not serve a repeat.
SHAPES: dict[str, Callable[[int], str]] = {
    "report": lambda n: ("<think>reading the film</think><finding>{salt} "
                         + _cut(REPORT_TEXT, n)
                         + "</finding><impression>No acute disease.</impression>"),
    "unclosed_tags": lambda n: "{salt} " + _cut("<finding>lungs <think>", n),
    "distinct_words": lambda n: "{salt} " + _cut(" ".join(f"w{i}x" for i in range(n // 4)), n),
    "one_word": lambda n: "{salt} " + _cut("effusion ", n),
    "tag_soup": lambda n: "{salt} " + _cut("</impression><b>heart</think><finding></finding>< /x>",
                                           n),
    "hedged_clauses": lambda n: "{salt} " + _cut("heart enlarged although ", n),
}

_DEFAULT = hr.RewardConfig()
_NO_JUDGE = hr.RewardConfig(semantic=None)

ENTRY_POINTS: dict[str, Callable[[str], object]] = {
    "extract_report": hr.extract_report,
    "parse_completion": lambda c: hr.rewards.format.parse_completion(c),
    "format_reward": hr.format_reward,
    "sentence_bleu": lambda c: metrics.sentence_bleu(c, REFERENCE),
    "sentence_bleu_batch": lambda c: metrics.sentence_bleu_batch([c, c], [REFERENCE] * 2),
    "meteor_batch": lambda c: metrics.meteor_batch([c, c], [REFERENCE] * 2),
    "lcs_batch": lambda c: metrics.lcs_batch([c], [REFERENCE]),
    "corpus_bleu": lambda c: metrics.corpus_bleu([c], [REFERENCE]),
    "rouge_l": lambda c: metrics.rouge_l(c, REFERENCE),
    "rouge_l_batch": lambda c: metrics.rouge_l_batch([c, c], [REFERENCE, REFERENCE]),
    "rouge_n": lambda c: metrics.rouge_n(c, REFERENCE, n=2),
    "meteor": lambda c: metrics.meteor(c, REFERENCE),
    "keyword_bonus": lambda c: keyword_bonus(c, REFERENCE),
    "label_report": label_report,
    "score": lambda c: hr.score(c, REFERENCE, step=10, config=_NO_JUDGE),
    "score_batch": lambda c: hr.score_batch([c, c[: len(c) // 2]], [REFERENCE] * 2, step=10,
                                            config=_NO_JUDGE),
    "ascore_batch": lambda c: asyncio.run(hr.ascore_batch([c], [REFERENCE], step=10,
                                                          config=_NO_JUDGE)),
    "total_reward": lambda c: hr.total_reward(c, REFERENCE, step=10, config=_DEFAULT),
}


_fresh = itertools.count()
MEASURE_SECONDS = 0.004  # CPU time of one measurement of the 1x input


def _salted(completion: str, count: int) -> list[str]:
    return [completion.replace("{salt}", f"v{next(_fresh)}", 1) for _ in range(count)]


def _per_call(call: Callable[[str], object], texts: list[str]) -> float:
    start = time.process_time()
    for text in texts:
        call(text)
    return (time.process_time() - start) / len(texts)


def _times(call: Callable[[str], object], shape: Callable[[int], str]) -> tuple[float, float]:
    """Best CPU time per call at 1x and at 4x the completion size."""
    small, large = shape(BASE_CHARS), shape(4 * BASE_CHARS)
    call(small), call(large)  # compile and fill the vocabulary before timing
    # Calls so quick that one is below the clock's noise are timed in runs.
    once = max(_per_call(call, _salted(small, 1)), 1e-6)
    calls = min(max(1, round(MEASURE_SECONDS / once)), 200)
    # Interleave the two sizes so that a burst of load on the machine hits both.
    t_small = t_large = float("inf")
    for _ in range(3):
        t_small = min(t_small, _per_call(call, _salted(small, calls)))
        t_large = min(t_large, _per_call(call, _salted(large, max(1, calls // 4))))
    return t_small, t_large


def _ratio(call: Callable[[str], object], shape: Callable[[int], str]) -> float:
    t_small, t_large = _times(call, shape)
    return t_large / max(t_small, 1e-9)


# Issue 12 item 2 (the labeler's quadratic hedge scan) is fixed on another branch; these
# combinations measure it and pass once that fix is merged.
@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_four_times_the_input_takes_about_four_times_the_time(entry, shape):
    ratio = _ratio(ENTRY_POINTS[entry], SHAPES[shape])
    if ratio >= RATIO_BOUND:  # one retry: a loaded machine can stall a single measurement
        ratio = min(ratio, _ratio(ENTRY_POINTS[entry], SHAPES[shape]))
    assert ratio < RATIO_BOUND, f"{entry} on {shape}: 4x the input took {ratio:.1f}x the time"
