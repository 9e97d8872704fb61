"""TRL 1.16: the schedule step reaches himed_train's rewards through GRPOTrainer's own
``_calculate_rewards`` (trl/trainer/grpo_trainer.py), which passes ``trainer_state=self.state``
and ``log_metric``, and awaits an instance whose ``__call__`` is async (``is_async_callable``,
trl/trainer/utils.py). The trainer object is a real ``GRPOTrainer`` with the attributes that
method reads; only model loading (``__init__``) is skipped."""

from __future__ import annotations

import collections

import pytest

trl = pytest.importorskip("trl", reason="TRL is not installed (extra 'train')")
accelerate = pytest.importorskip("accelerate", reason="accelerate is not installed")

import himed_rewards as hr  # noqa: E402
from himed_train.rewards import AsyncHimedReward, HimedReward  # noqa: E402


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    from transformers import TrainerState
    from trl.trainer.utils import shutdown_event_loop_in_daemon, start_event_loop_in_daemon

    trainer = trl.GRPOTrainer.__new__(trl.GRPOTrainer)
    out = tmp_path_factory.mktemp("grpo")
    trainer.args = trl.GRPOConfig(output_dir=str(out), report_to=[], use_cpu=True)
    trainer.accelerator = accelerate.Accelerator(cpu=True)
    trainer.reward_funcs = [
        HimedReward(name="himed"),
        AsyncHimedReward(name="himed_async", log_prefix="himed_async"),
    ]
    trainer.reward_processing_classes = [None, None]
    trainer.reward_func_names = ["himed", "himed_async"]
    trainer.state = TrainerState()
    trainer.environments = None
    thread, trainer.async_loop, ready = start_event_loop_in_daemon()
    ready.wait()
    yield trainer
    shutdown_event_loop_in_daemon(thread, trainer.async_loop)


@pytest.mark.parametrize(("global_step", "alpha1"), [(0, 1.0), (5_000, 0.5), (20_000, 0.1)])
def test_trainer_state_step_reaches_sync_and_async_rewards(trainer, iu_pairs, global_step, alpha1):
    trainer.state.global_step = global_step
    trainer._pending_metrics = collections.defaultdict(list)
    trainer._pending_extra_logs = collections.defaultdict(list)
    preds, refs = zip(*iu_pairs[:3], strict=True)
    inputs = [{"prompt": "p", "reference": r} for r in refs]
    rewards = trainer._calculate_rewards(inputs, ["p"] * 3, list(preds), [[1]] * 3)
    expected = [b.total for b in hr.score_batch(list(preds), list(refs), step=global_step)]
    assert rewards[:, 0].tolist() == pytest.approx(expected, rel=1e-6)
    assert rewards[:, 1].tolist() == pytest.approx(expected, rel=1e-6)  # the async one ran
    for prefix in ("himed", "himed_async"):
        assert trainer._pending_metrics[f"{prefix}/alpha1"] == [pytest.approx(alpha1)]
        assert trainer._pending_metrics[f"{prefix}/alpha2"] == [pytest.approx(1 - alpha1)]
        for level in ("token", "concept", "format", "low_level", "semantic"):
            assert f"{prefix}/{level}" in trainer._pending_metrics
