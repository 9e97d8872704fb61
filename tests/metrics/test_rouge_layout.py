"""ROUGE-L of a layout: the one-reference-per-group path (the reward's batches) gives the
general path's floats, bit for bit.

The general path is reached with the same pairs by giving every group its reference twice
(the best of two equal references is that reference), so both paths score the same pairs.
"""

from __future__ import annotations

import numpy as np
import pytest

from himed_rewards.metrics._layout import build_layout, layout_from_arrays
from himed_rewards.metrics.rouge import _one_reference_per_group, rouge_l_from_layout
from himed_rewards.text.tokenizers import get_tokenizer


def _random_arrays(rng: np.random.Generator, n: int, longest: int) -> list[np.ndarray]:
    # a few ids that exist in any vocabulary: the layout only needs ids below its scratch
    return [rng.integers(0, 12, rng.integers(0, longest)).astype(np.int32) for _ in range(n)]


@pytest.mark.parametrize("seed", range(40))
def test_one_reference_path_equals_the_general_path(seed):
    rng = np.random.default_rng(seed)
    n_groups = int(rng.integers(1, 6))
    hyps = _random_arrays(rng, int(rng.integers(0, 30)), 40)
    refs = _random_arrays(rng, n_groups, 40)
    hyp_group = rng.integers(0, n_groups, len(hyps)).astype(np.int64)  # groups interleaved
    single = layout_from_arrays(hyps, refs, [1] * n_groups, hyp_group)
    doubled = layout_from_arrays(hyps, [r for r in refs for _ in range(2)], [2] * n_groups,
                                 hyp_group)
    assert _one_reference_per_group(single) and not _one_reference_per_group(doubled)
    fast, general = rouge_l_from_layout(single), rouge_l_from_layout(doubled)
    for name in ("precision", "recall", "fmeasure"):
        assert getattr(fast, name).tolist() == getattr(general, name).tolist()


def test_text_batches_with_empty_sides_score_zero():
    layout = build_layout(["", "lungs clear", "no effusion"], [("x",), ("",), ("no effusion",)],
                          get_tokenizer("rouge"))
    assert rouge_l_from_layout(layout).fmeasure.tolist() == [0.0, 0.0, 1.0]
