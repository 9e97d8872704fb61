"""The TRL reward-callable contract of himed_train.rewards.HimedReward / AsyncHimedReward."""

from __future__ import annotations

import asyncio
import math
import pickle
import subprocess
import sys
from types import SimpleNamespace

import pytest

import himed_rewards as hr
from himed_train.rewards import LOGGED_FIELDS, AsyncHimedReward, HimedReward, completion_text

GOOD = (
    "<think>Heart enlarged, fluid at the left base.</think>"
    "<finding>Mild cardiomegaly. Small left pleural effusion.</finding>"
    "<impression>Cardiomegaly with small effusion.</impression>"
)
BAD = "the the the"
REFERENCE = "The heart is mildly enlarged. Small left pleural effusion. Impression: cardiomegaly."


def offline_config(**schedule: float) -> hr.RewardConfig:
    from himed_rewards.clinical import OfflineClinicalJudge

    return hr.RewardConfig(
        schedule=hr.LinearSchedule(**({"T": 100, "alpha_min": 0.1} | schedule)),
        semantic=OfflineClinicalJudge(),
    )


class Recorder:
    """Collects what the reward sends to TRL's log_metric / log_extra."""

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = {}
        self.extra: dict[str, list] = {}

    def log_metric(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)

    def log_extra(self, column: str, values: list) -> None:
        self.extra.setdefault(column, []).extend(values)


def trl_kwargs(completions, references, **more):
    """What GRPOTrainer._calculate_rewards passes (minus the trainer-bound callables)."""
    return {
        "prompts": [[{"role": "user", "content": "Write the report."}]] * len(completions),
        "completions": completions,
        "completion_ids": [[1, 2, 3]] * len(completions),
        "reference": references,
        "study_id": [f"s{i}" for i in range(len(completions))],
        **more,
    }


def test_name_and_pickle_round_trip():
    reward = HimedReward(offline_config(), name="himed_rl")
    clone = pickle.loads(pickle.dumps(reward))
    assert reward.__name__ == clone.__name__ == "himed_rl"
    assert clone.reference_column == "reference"
    assert clone(completions=[GOOD], reference=[REFERENCE]) == reward(
        completions=[GOOD], reference=[REFERENCE]
    )


def test_trl_names_and_async_detection():
    utils = pytest.importorskip("trl.trainer.utils", reason="trl is not installed")
    assert utils.get_callable_name(HimedReward(name="himed")) == "himed"
    assert not utils.is_async_callable(HimedReward())
    assert utils.is_async_callable(AsyncHimedReward())


def test_totals_match_score_batch_and_step_comes_from_trainer_state():
    config = offline_config()
    reward = HimedReward(config)
    completions, refs = [GOOD, BAD], [REFERENCE, REFERENCE]
    for step in (0, 50, 500):
        state = SimpleNamespace(global_step=step)
        got = reward(**trl_kwargs(completions, refs), trainer_state=state)
        expected = [b.total for b in hr.score_batch(completions, refs, step=step, config=config)]
        assert got == expected
    assert got[0] > got[1]  # the well-formed, matching report is rewarded more


def test_trainer_state_absent_means_step_zero():
    config = offline_config()
    reward = HimedReward(config)
    rec = Recorder()
    got = reward(**trl_kwargs([GOOD], [REFERENCE]), log_metric=rec.log_metric)
    assert got == [hr.score_batch([GOOD], [REFERENCE], step=0, config=config)[0].total]
    assert rec.metrics["himed/alpha1"] == [config.schedule.alpha1(0)]


def test_log_metric_gets_the_mean_of_every_level_and_alpha():
    config = offline_config()
    reward = HimedReward(config, log_prefix="hm")
    rec = Recorder()
    completions, refs = [GOOD, BAD, GOOD[:40]], [REFERENCE] * 3
    reward(
        **trl_kwargs(completions, refs),
        trainer_state=SimpleNamespace(global_step=30),
        log_metric=rec.log_metric,
        log_extra=rec.log_extra,
    )
    breakdowns = hr.score_batch(completions, refs, step=30, config=config)
    for field in (
        "token",
        "concept",
        "format",
        "low_level",
        "semantic",
        "alpha1",
        "alpha2",
        "total",
    ):
        values = [getattr(b, field) for b in breakdowns]
        assert rec.metrics[f"hm/{field}"] == [pytest.approx(math.fsum(values) / len(values))]
    assert rec.metrics["hm/alpha1"] == [pytest.approx(config.schedule.alpha1(30))]
    assert set(rec.metrics) <= {f"hm/{f}" for f in LOGGED_FIELDS} | {
        "hm/missing_total",
        "hm/compute_seconds",
    }
    assert rec.metrics["hm/compute_seconds"][0] >= 0.0
    assert rec.metrics["hm/missing_total"] == [0.0]
    assert rec.extra["hm_total"] == [b.total for b in breakdowns]
    assert reward.last_compute_seconds == rec.metrics["hm/compute_seconds"][0]


def test_conversational_completions_score_like_plain_text():
    reward = HimedReward(offline_config())
    plain = reward(**trl_kwargs([GOOD, BAD], [REFERENCE] * 2))
    messages = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": BAD}]]
    parts = [
        [{"role": "assistant", "content": [{"type": "text", "text": GOOD}]}],
        [{"role": "assistant", "content": [{"type": "text", "text": BAD}]}],
    ]
    assert reward(**trl_kwargs(messages, [REFERENCE] * 2)) == plain
    assert reward(**trl_kwargs(parts, [REFERENCE] * 2)) == plain


def test_completion_text_ignores_non_assistant_turns():
    turns = [
        {"role": "assistant", "content": "<think>a</think>"},
        {"role": "tool", "content": "IGNORED"},
        {"role": "assistant", "content": "<finding>b</finding>"},
    ]
    assert completion_text(turns) == "<think>a</think><finding>b</finding>"


def test_failed_judge_gives_none_not_zero():
    from himed_rewards.judge import LLMJudge

    # Port 9 (discard) refuses connections: a real, fast judge failure.
    judge = LLMJudge(
        "http://127.0.0.1:9/v1", "nobody", timeout=2.0, max_retries=0, on_failure="skip"
    )
    try:
        config = hr.RewardConfig(semantic=judge)
        reward = HimedReward(config)
        rec = Recorder()
        got = reward(**trl_kwargs([GOOD, BAD], [REFERENCE] * 2), log_metric=rec.log_metric,
                     log_extra=rec.log_extra)  # fmt: skip
    finally:
        judge.close()
    assert got == [None, None]
    assert rec.metrics["himed/missing_total"] == [1.0]
    assert "himed/total" not in rec.metrics  # no mean of nothing, no invented 0
    assert "himed/token" in rec.metrics  # the low levels are still reported
    assert all(err for err in rec.extra["himed_semantic_error"])


def test_async_form_matches_sync_form():
    config = offline_config()
    kwargs = trl_kwargs([GOOD, BAD], [REFERENCE] * 2)
    state = SimpleNamespace(global_step=7)
    sync = HimedReward(config)(**kwargs, trainer_state=state)
    rec = Recorder()
    got = asyncio.run(
        AsyncHimedReward(config)(**kwargs, trainer_state=state, log_metric=rec.log_metric)
    )
    assert got == sync
    assert rec.metrics["himed/alpha1"] == [pytest.approx(config.schedule.alpha1(7))]


def test_workers_score_in_processes_like_one_process_and_pickle_without_them():
    config = offline_config()
    completions = [GOOD, BAD, GOOD.replace("left", "right")] * 64  # 192 >= MIN_PAIRS
    kwargs = trl_kwargs(completions, [REFERENCE] * 96 + [REFERENCE.replace("left", "right")] * 96)
    state = SimpleNamespace(global_step=30)
    serial = HimedReward(config)(**kwargs, trainer_state=state)
    reward = AsyncHimedReward(config, workers=2)
    try:
        assert asyncio.run(reward(**kwargs, trainer_state=state)) == serial
        scorer = reward.scorer()
        assert scorer.workers == 2 and scorer.last_stats.pairs == 192
        clone = pickle.loads(pickle.dumps(reward))
        assert clone._scorer is None and clone.workers == 2
    finally:
        reward.close()
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        HimedReward(config, workers=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"completions": [GOOD]}, TypeError, "missing dataset column 'reference'"),
        ({"completions": [GOOD], "reference": [REFERENCE] * 2}, ValueError, "one reference per"),
        ({"completions": [GOOD], "reference": REFERENCE}, ValueError, "one reference per"),
        ({"reference": [REFERENCE]}, TypeError, "completions is required"),
        ({"completions": [3], "reference": [REFERENCE]}, TypeError, "completion must be a str"),
        (
            {
                "completions": [GOOD],
                "reference": [REFERENCE],
                "trainer_state": SimpleNamespace(global_step=-1),
            },
            TypeError,
            "global_step",
        ),
    ],
)
def test_bad_input_is_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        HimedReward(offline_config())(**kwargs)


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="config must be a RewardConfig"):
        HimedReward({"w_token": 1.0})
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        HimedReward(name="")


def test_importing_the_reward_does_not_need_torch():
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['trl'] = None\n"
        "import himed_train.rewards, himed_train.config, himed_train.data\n"
        "import himed_train.reward_setup, himed_train.prompts\n"
        "assert 'torch' not in [m for m, v in sys.modules.items() if v is not None]\n"
        "print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
