"""The HiMed reward: equations, schedule, semantic on/off/failure, bad input, batch == single."""

from __future__ import annotations

import asyncio
import math
import pickle

import pytest

import himed_rewards as hr
from himed_rewards import RewardConfig, score, score_batch, total_reward
from himed_rewards.examples import example_pairs
from himed_rewards.judge.verdict import SemanticVerdict
from himed_rewards.metrics import meteor, rouge_l, sentence_bleu

GOOD = ("<think>no acute findings</think>\n<finding>The lungs are clear. No pleural effusion."
        "</finding>\n<impression>No acute disease.</impression>")
REF = "The lungs are clear. There is no pleural effusion or pneumothorax."
OFF = RewardConfig(semantic=None)


class FixedJudge:
    """A semantic scorer returning fixed axes (or failing), to test the composition."""

    name = "fixed"

    def __init__(self, values=(1.0, 0.5, 0.25), fail=False):
        self.values, self.fail, self.calls = values, fail, 0

    def signature(self) -> str:
        return f"fixed:{self.values}:{self.fail}"

    def score_batch(self, candidates, references):
        self.calls += 1
        if self.fail:
            return [SemanticVerdict.failed("timeout", source="fixed") for _ in candidates]
        return [SemanticVerdict(*self.values, source="fixed") for _ in candidates]


def test_levels_follow_the_equations():
    b = score(GOOD, REF, config=OFF)
    report = hr.extract_report(GOOD)
    assert report == "The lungs are clear. No pleural effusion.\nNo acute disease."
    assert b.token == pytest.approx(sentence_bleu(report, [REF], tokenize="default"), abs=1e-12)
    assert b.rouge_l == pytest.approx(rouge_l(report, REF, tokenize="default"), abs=1e-12)
    assert b.meteor == pytest.approx(meteor(report, REF), abs=1e-12)
    assert b.concept_base == pytest.approx(b.rouge_l + b.meteor)
    assert b.concept == pytest.approx(b.concept_base + b.keyword_bonus)
    assert b.keyword_bonus == pytest.approx(min(0.05 * len(b.matched_keywords), 0.25))
    assert b.format == 1.0
    assert b.low_level == pytest.approx(b.token + b.concept + b.format)
    assert (b.semantic, b.alpha1, b.alpha2, b.total) == (None, 1.0, 0.0, b.low_level)


def test_weights_and_schedule_mix_the_semantic_level():
    judge = FixedJudge()
    cfg = RewardConfig(semantic=judge, w_token=2.0, w_concept=0.5, w_format=0.0,
                       schedule=hr.LinearSchedule(T=1000, alpha_min=0.2))
    for step, alpha1 in ((0, 1.0), (500, 0.5), (900, 0.2), (10_000, 0.2)):
        b = score(GOOD, REF, step=step, config=cfg)
        assert b.low_level == pytest.approx(2.0 * b.token + 0.5 * b.concept)
        assert b.semantic == pytest.approx(1.75)
        assert (b.semantic_accuracy, b.semantic_relevance, b.semantic_completeness) == (1.0, 0.5, 0.25)
        assert b.alpha1 == pytest.approx(alpha1) and b.alpha2 == pytest.approx(1 - alpha1)
        assert b.total == pytest.approx(alpha1 * b.low_level + (1 - alpha1) * 1.75)


def test_failed_judge_gives_none_total_with_the_reason():
    b = score(GOOD, REF, step=5000, config=RewardConfig(semantic=FixedJudge(fail=True)))
    assert b.total is None and b.semantic is None and b.semantic_error == "timeout"
    assert math.isfinite(b.low_level)


def test_default_semantic_is_the_offline_clinical_judge():
    b = score(GOOD, REF, step=5000)
    assert RewardConfig().semantic.name == "clinical"
    assert 0.0 <= b.semantic <= 3.0 and b.alpha1 == pytest.approx(0.5)
    assert b.total == pytest.approx(0.5 * b.low_level + 0.5 * b.semantic)


def test_batch_equals_single_and_groups_share_references():
    pairs = example_pairs()
    completions = [p.completion for p in pairs] * 3
    references = [p.reference for p in pairs] * 3
    batch = score_batch(completions, references, step=3000)
    for c, r, b in zip(completions, references, batch, strict=True):
        assert score(c, r, step=3000) == b
    judge = FixedJudge()
    score_batch(completions, references, config=RewardConfig(semantic=judge))
    assert judge.calls == 1  # one judge call per batch


def test_async_equals_sync():
    pairs = example_pairs()
    c, r = [p.completion for p in pairs], [p.reference for p in pairs]
    assert asyncio.run(hr.ascore_batch(c, r, step=10)) == score_batch(c, r, step=10)


def test_examples_order_as_a_clinician_would():
    by_id = {p.id: b for p, b in zip(example_pairs(), score_batch(
        [p.completion for p in example_pairs()], [p.reference for p in example_pairs()],
        step=5000), strict=True)}
    assert by_id["exact"].total > by_id["paraphrase"].total
    assert by_id["exact"].semantic > by_id["negation_flip"].semantic
    assert by_id["exact"].semantic > by_id["hallucination"].semantic
    assert by_id["bad_format"].format == -1.0
    assert by_id["keyword_stuffing"].keyword_bonus == 0.25  # the cap holds


@pytest.mark.parametrize(("completion", "reference", "error", "match"), [
    (None, REF, TypeError, "completion must be str, got NoneType"),
    (GOOD, 3, TypeError, "reference must be str, got int"),
    (b"bytes", REF, TypeError, "completion must be str, got bytes"),
])
def test_bad_single_input_names_the_argument(completion, reference, error, match):
    with pytest.raises(error, match=match):
        score(completion, reference)


def test_bad_batch_input():
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        score_batch([GOOD, GOOD], [REF])
    with pytest.raises(TypeError, match=r"completions\[1\] must be str, got int"):
        score_batch([GOOD, 1], [REF, REF])
    with pytest.raises(TypeError, match="completions must be a sequence of str"):
        score_batch(GOOD, [REF])
    # (every kind of item is named, with the semantic level off or on)
    for bad in (None, b"bytes", ["a list"]):
        for config in (RewardConfig(semantic=None), None):
            with pytest.raises(TypeError, match=rf"completions\[2\] must be str, got "
                                                rf"{type(bad).__name__}"):
                score_batch([GOOD, GOOD, bad], [REF] * 3, config=config)
    with pytest.raises(TypeError, match=r"references\[0\] must be str, got int"):
        score_batch([GOOD], [0])
    with pytest.raises(ValueError, match="step must be a non-negative int"):
        score(GOOD, REF, step=-3)
    with pytest.raises(TypeError, match="config must be a RewardConfig"):
        score(GOOD, REF, config={"w_token": 1})


def test_batch_accepts_any_sequence_and_leaves_it_alone():
    completions = [GOOD, "no tags", GOOD]
    given = list(completions)
    rows = score_batch(completions, [REF] * 3, config=RewardConfig(semantic=None))
    assert completions == given  # (never changed)
    assert score_batch(tuple(completions), (REF,) * 3, config=RewardConfig(semantic=None)) == rows


def test_empty_completion_is_finite_with_format_minus_one():
    b = score("", REF)
    assert b.format == -1.0 and b.token == 0.0 and math.isfinite(b.total)
    assert score_batch([], []) == []


def test_config_round_trips_and_pickles(tmp_path):
    cfg = RewardConfig(keyword_beta=0.1, schedule=hr.CosineSchedule(T=50, alpha_min=0.0),
                       keywords=("effusion", "pleural effusion"), keyword_grounded=True)
    for name in ("cfg.yaml", "cfg.json"):
        cfg.to_file(tmp_path / name)
        loaded = RewardConfig.from_file(tmp_path / name)
        assert loaded.signature() == cfg.signature()
    assert pickle.loads(pickle.dumps(score(GOOD, REF))) == score(GOOD, REF)
    b = score(GOOD, REF, config=cfg)
    assert set(b.matched_keywords) <= {"effusion", "pleural effusion"}


def test_total_reward_is_the_breakdown_total():
    assert total_reward(GOOD, REF, step=7) == score(GOOD, REF, step=7).total


def test_one_megabyte_completion_scores():
    import time

    big = "<think>" + "x " * 200_000 + "</think><finding>" + "lungs clear. " * 40_000 + "</finding>"
    start = time.perf_counter()
    b = score(big, REF)
    assert time.perf_counter() - start < 10  # generous here; benchmarks/ reports the real time
    assert math.isfinite(b.total) and b.format == -1.0
