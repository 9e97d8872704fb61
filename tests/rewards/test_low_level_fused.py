"""The low-level reward's one-call path (rewards/low_level.py, kernels/reward.py) against the
metrics' own front doors, which ``score_batch`` takes for every other configuration.

Both must give the same rows, float for float: on fresh GRPO batches and distinct pairs,
under the BLEU, METEOR, keyword and weight options a configuration can set, on generated
text, and when a reference is too long for the common LCS kernel (the one-call path then
declines).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from himed_rewards import RewardConfig, score_batch
from himed_rewards.rewards import compose, low_level

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # FreshText
from _common import FreshText  # noqa: E402

CONFIGS = [
    RewardConfig(semantic=None),
    RewardConfig(semantic=None, bleu_smooth="floor", bleu_mean="arithmetic", bleu_max_order=2,
                 meteor_alpha=0.5, meteor_beta=1.0, meteor_gamma=0.25, keyword_beta=0.2,
                 keyword_cap=0.3, w_token=0.5, w_concept=1.5, w_format=2.0),
    RewardConfig(semantic=None, bleu_smooth="none", bleu_max_order=8, keyword_cap=0.0),
    RewardConfig(semantic=None, bleu_smooth="add-k", bleu_max_order=1, keyword_beta=0.0),
    RewardConfig(semantic=None, keywords=("effusion", "pleural effusion", "heart size")),
]
EDGES = (["", "<think>a</think><finding>x</finding><impression>y</impression>", "no tags",
          "<think>t</think><finding>Heart size normal.</finding><impression>Effusion."
          "</impression>", "<finding>Lungs</finding>"],
         ["", "x y", "a", "Heart size is normal. No pleural effusion.", "lungs lungs"])


def _declined(*args, **kwargs):
    """A ``start_fused_columns`` whose kernel declines every batch."""
    return lambda: None


def _both(completions: list[str], references: list[str], config: RewardConfig,
          monkeypatch: pytest.MonkeyPatch) -> tuple[list, list]:
    fused = score_batch(completions, references, config=config)
    with monkeypatch.context() as patch:
        patch.setattr(compose, "start_fused_columns", _declined)
        general = score_batch(completions, references, config=config)
    return fused, general


def _assert_same(fused: list, general: list) -> None:
    assert len(fused) == len(general)
    for a, b in zip(fused, general, strict=True):
        assert tuple(a) == tuple(b)
        assert [type(x) for x in a] == [type(x) for x in b]
        # equal floats, bit for bit (== would let -0.0 pass for 0.0)
        assert [x.hex() for x in a if type(x) is float] == [x.hex() for x in b if type(x) is float]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("shape", ["grpo", "distinct"])
def test_fresh_batches_score_the_same(config: RewardConfig, shape: str, monkeypatch) -> None:
    fresh = FreshText(seed=41 if shape == "grpo" else 42)
    calls = []
    # the one-call path: its kernel, or its two halves on two threads (rewards/low_level.py)
    for name in ("low_level_columns", "token_keyword_columns"):
        real = getattr(low_level, name)

        def counted(*args, real=real):
            calls.append(1)
            return real(*args)

        monkeypatch.setattr(low_level, name, counted)
    for _ in range(2):
        c, r = fresh.grpo_batch() if shape == "grpo" else fresh.distinct_batch()
        _assert_same(*_both(c + EDGES[0], r + EDGES[1], config, monkeypatch))
    assert calls  # the one-call path was taken


_words = st.sampled_from(["effusion", "pleural", "no", "heart", "size", "normal", "is", ".",
                          ",", "lungs", "clear", "7", "mm", "cardiomegaly", "left", "xxxx",
                          "pneumothorax", "mild", "the", "opacity", "opacities", "effusions"])
_text = st.lists(_words, max_size=30).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_text, _text, st.booleans()), min_size=1, max_size=12),
       st.sampled_from(CONFIGS))
def test_generated_text_scores_the_same(rows, config) -> None:
    completions = [f"<think>x</think><finding>{f}</finding><impression>{f[:9]}</impression>"
                   if tagged else f for f, _, tagged in rows]
    references = [r for _, r, _ in rows]
    with pytest.MonkeyPatch.context() as patch:
        _assert_same(*_both(completions, references, config, patch))


def test_a_reference_too_long_for_the_common_kernel_takes_the_metrics_paths(monkeypatch) -> None:
    # a reference past the LCS kernel's swap length, longer than its hypothesis: the common
    # kernel leaves its pairs to the rare one, so the one-call path declines
    long_reference = " ".join(["effusion", "no", "heart"] * 1400)
    completions = ["<think>x</think><finding>No effusion.</finding><impression>Heart."
                   "</impression>", "<finding>heart</finding>"]
    declined = []
    real = low_level.start_fused_columns

    def watched(*args, **kwargs):
        finish = real(*args, **kwargs)

        def watched_finish():
            out = finish()
            declined.append(out is None)
            return out

        return watched_finish

    monkeypatch.setattr(compose, "start_fused_columns", watched)
    fused = score_batch(completions, [long_reference, "heart"], config=CONFIGS[0])
    assert declined == [True]
    monkeypatch.setattr(compose, "start_fused_columns", _declined)
    _assert_same(fused, score_batch(completions, [long_reference, "heart"], config=CONFIGS[0]))


@pytest.mark.parametrize("threads", [1, 2])
def test_a_group_of_several_references_is_declined(threads: int) -> None:
    # the reward's own layouts have one reference a group; the one-call kernel declines any
    # other (its ROUGE-L kernel checks), on one thread or split by metric on two
    from himed_rewards import set_num_threads
    from himed_rewards.metrics._layout import build_layout
    from himed_rewards.rewards.keywords import KeywordVocabulary
    from himed_rewards.text.tokenizers import get_tokenizer

    n = 256  # two chunks' worth: split by metric on two threads
    layout = build_layout(["small left effusion"] * n, [("small effusion", "no effusion")] * n,
                          get_tokenizer("default"))
    assert layout.group_ref_offsets.tolist() == [0, 2]
    set_num_threads(threads)
    try:
        assert low_level.fused_columns(layout, [1.0] * n, CONFIGS[0],
                                       KeywordVocabulary.default()) is None
    finally:
        set_num_threads(None)


@pytest.mark.parametrize("column", [0, 1, 2])
def test_a_non_finite_score_is_named(column: int, monkeypatch) -> None:
    real = low_level.low_level_columns

    def broken(*args):
        ok, _, offsets, ranks = real(*args)
        args[-1][column, 0] = np.nan
        return ok, False, offsets, ranks

    monkeypatch.setattr(low_level, "low_level_columns", broken)
    name = ("token", "rouge_l", "meteor")[column]
    with pytest.raises(FloatingPointError, match=f"^{name} produced a non-finite score$"):
        score_batch(["<finding>No effusion.</finding>"], ["No effusion."], config=CONFIGS[0])
