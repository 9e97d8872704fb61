"""Property test: 10,000+ hostile completions never raise and every score is finite."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from himed_rewards import RewardConfig, score_batch

TAGS = ["<think>", "</think>", "<finding>", "</finding>", "<impression>", "</impression>",
        "<b>", "</", "<", ">", "<think><think>", "</impression></impression>"]
PIECES = st.one_of(
    st.sampled_from(TAGS),
    st.text(max_size=40),  # random unicode, control characters included
    st.sampled_from([".", "...", ",;:!?", "\x00\x01\x1b", "\u200b\u202e", "3.5", "T7-T8",
                     "no pleural effusion", "cardiomegaly", " ", "\n\n", "XXXX"]),
)
COMPLETION = st.lists(PIECES, max_size=25).map("".join)
CONFIGS = [RewardConfig(), RewardConfig(semantic=None, keyword_grounded=True),
           RewardConfig(keyword_negation_aware=True, bleu_mean="arithmetic", tokenize="13a")]


def _check(results) -> None:
    for b in results:
        for name, value in b.to_dict().items():
            if isinstance(value, float):
                assert math.isfinite(value), name
        assert b.format in (-1.0, 1.0)
        assert b.total is not None and math.isfinite(b.total)


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(COMPLETION, min_size=1, max_size=4), reference=COMPLETION,
       config=st.sampled_from(CONFIGS), step=st.integers(0, 50_000))
def test_hostile_completions_never_raise(batch, reference, config, step):
    _check(score_batch(batch, [reference] * len(batch), step=step, config=config))


def test_megabyte_strings_and_only_punctuation():
    huge = ["<think>" * 50_000, "</finding>" * 60_000, "." * 1_000_000, "é\u0301" * 300_000,
            "<finding>" + "a " * 400_000 + "</finding>"]
    _check(score_batch(huge, ["The lungs are clear."] * len(huge)))
