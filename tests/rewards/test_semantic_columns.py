"""The semantic level through a scorer's ``score_columns`` (no verdict object per pair) gives
the rows the verdicts give, float for float; a bad column is refused with its pair named."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from himed_rewards import RewardConfig, ascore_batch, score_batch
from himed_rewards.clinical.judge import OfflineClinicalJudge

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared path switch
from judge_paths import judge_path  # noqa: E402


class VerdictsOnly:
    """The offline judge without ``score_columns``: the reward takes its verdicts."""

    name = "clinical"

    def __init__(self) -> None:
        self._judge = OfflineClinicalJudge()

    def score_batch(self, candidates, references):
        return self._judge.score_batch(candidates, references)

    def signature(self) -> str:
        return self._judge.signature()


class Columns:
    """A scorer that offers ``score_columns`` returning what it is given."""

    name = "fixed"

    def __init__(self, scores: object) -> None:
        self.scores = scores

    def score_columns(self, candidates, references):
        return self.scores

    def score_batch(self, candidates, references):  # (never called: columns come first)
        raise AssertionError("score_batch called")

    def signature(self) -> str:
        return "fixed"


@pytest.fixture(scope="module")
def sentences(iu_pairs: tuple[list[str], list[str]]) -> list[str]:
    hyps, refs = iu_pairs
    return sorted({s.strip() + "." for text in hyps + refs for s in text.split(".") if s.strip()})


def _batch(sentences: list[str], seed: int) -> tuple[list[str], list[str]]:
    """GRPO-shaped: 6 references with 5 completions each, reports recombined from real
    sentences, a fifth of the completions without tags."""
    rng = random.Random(seed)
    completions, references = [], []
    for _ in range(6):
        reference = " ".join(rng.sample(sentences, 3))
        for _ in range(5):
            finding = " ".join(rng.sample(sentences, rng.randint(1, 4)))
            tags = f"<think>x</think><finding>{finding}</finding><impression>ok</impression>"
            completions.append(tags if rng.random() < 0.8 else finding)
            references.append(reference)
    return completions, references


@pytest.mark.parametrize("kernel", [True, False])
@pytest.mark.parametrize("step", [0, 40, 10_000])
def test_columns_give_the_rows_the_verdicts_give(sentences: list[str], kernel: bool,
                                                 step: int) -> None:
    completions, references = _batch(sentences, step + kernel)
    with judge_path(kernel):
        by_columns = score_batch(completions, references, step=step, config=RewardConfig())
        by_verdicts = score_batch(completions, references, step=step,
                                  config=RewardConfig(semantic=VerdictsOnly()))
    assert by_columns == by_verdicts  # every field, floats bit for bit, errors None
    assert all(row.semantic_error is None for row in by_columns)
    assert {type(row.semantic) for row in by_columns} == {float}
    assert len({row.semantic for row in by_columns}) > 5  # (the judge tells these apart)


def test_the_async_path_takes_the_columns_too(sentences: list[str]) -> None:
    completions, references = _batch(sentences, 7)
    rows = asyncio.run(ascore_batch(completions, references, step=3))
    assert rows == score_batch(completions, references, step=3,
                               config=RewardConfig(semantic=VerdictsOnly()))


@pytest.mark.parametrize("kernel", [True, False])
def test_score_columns_are_the_verdicts_numbers(sentences: list[str], kernel: bool) -> None:
    completions, references = _batch(sentences, 11)
    judge = OfflineClinicalJudge()
    with judge_path(kernel):
        columns = judge.score_columns(completions, references)
        verdicts = judge.score_batch(completions, references)
    assert columns.dtype == np.float64 and columns.shape == (len(completions), 3)
    assert columns.tolist() == [[v.accuracy, v.relevance, v.completeness] for v in verdicts]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.5, 1.5])
def test_a_score_outside_the_unit_interval_is_named(bad: float) -> None:
    scores = np.full((2, 3), 0.5)
    scores[1, 2] = bad
    config = RewardConfig(semantic=Columns(scores))
    with pytest.raises(ValueError, match=r"completeness of pair 1 must be a finite number in "
                                         r"\[0, 1\], got "):
        score_batch(["No effusion."] * 2, ["No effusion."] * 2, config=config)


@pytest.mark.parametrize("scores", [np.zeros((3, 3)), np.zeros((2, 2)),
                                    np.zeros((2, 3), np.float32), [[0.5] * 3] * 2])
def test_columns_of_the_wrong_shape_or_type_are_refused(scores: object) -> None:
    config = RewardConfig(semantic=Columns(scores))
    with pytest.raises(RuntimeError, match=r"score_columns must return a float64 array of "
                                           r"shape \(2, 3\)"):
        score_batch(["No effusion."] * 2, ["No effusion."] * 2, config=config)
