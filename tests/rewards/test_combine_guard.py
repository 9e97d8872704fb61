"""The non-finite guard of the reward's last step names the column that broke."""

from __future__ import annotations

import numpy as np
import pytest

from himed_rewards import RewardConfig
from himed_rewards.rewards.compose import _columns, _combine

OFF = RewardConfig(semantic=None)


@pytest.mark.parametrize("column", [0, 1, 2])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_score_is_named(column, bad):
    scores = [np.array([0.5, 0.25]) for _ in range(3)]
    scores[column] = np.array([0.5, bad])
    name = ("token", "rouge_l", "meteor")[column]
    with pytest.raises(FloatingPointError, match=f"^{name} produced a non-finite score$"):
        _columns(OFF, [1.0, 1.0], *scores, [0.0, 0.1])


def test_finite_scores_pass_and_combine():
    token, rouge, meteor = np.array([0.5]), np.array([0.25]), np.array([0.75])
    columns = _columns(OFF, [1.0], token, rouge, meteor, [0.1])
    [row] = _combine(OFF, 0, [1.0], columns, [("effusion",)], None)
    assert (row.token, row.rouge_l, row.meteor, row.keyword_bonus) == (0.5, 0.25, 0.75, 0.1)
    assert row.concept == 0.25 + 0.75 + 0.1
