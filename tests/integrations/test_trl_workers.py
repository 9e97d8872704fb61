"""TRL 1.16 with ``HimedReward(workers=2)``: GRPOTrainer's own ``_calculate_rewards`` (sync and
async rewards) gives the same rewards as one process, on a GRPO-sized batch. The trainer is a
real ``GRPOTrainer`` with the attributes that method reads; only model loading is skipped."""

from __future__ import annotations

import collections

import pytest

trl = pytest.importorskip("trl", reason="TRL is not installed (extra 'train')")
accelerate = pytest.importorskip("accelerate", reason="accelerate is not installed")

import himed_rewards as hr  # noqa: E402
from himed_train.rewards import AsyncHimedReward, HimedReward  # noqa: E402


def test_two_workers_give_trl_the_same_rewards_as_one_process(tmp_path, iu_pairs):
    from transformers import TrainerState
    from trl.trainer.utils import shutdown_event_loop_in_daemon, start_event_loop_in_daemon

    trainer = trl.GRPOTrainer.__new__(trl.GRPOTrainer)
    trainer.args = trl.GRPOConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    trainer.accelerator = accelerate.Accelerator(cpu=True)
    rewards_funcs = [HimedReward(name="one"),
                     HimedReward(name="two", log_prefix="two", workers=2),
                     AsyncHimedReward(name="two_async", log_prefix="two_async", workers=2)]
    trainer.reward_funcs = rewards_funcs
    trainer.reward_processing_classes = [None] * 3
    trainer.reward_func_names = ["one", "two", "two_async"]
    trainer.state = TrainerState()
    trainer.state.global_step = 3_000
    trainer.environments = None
    trainer._pending_metrics = collections.defaultdict(list)
    trainer._pending_extra_logs = collections.defaultdict(list)
    thread, trainer.async_loop, ready = start_event_loop_in_daemon()
    ready.wait()
    preds, refs = zip(*iu_pairs, strict=True)
    completions = [p for p in preds for _ in range(8)]  # 24 references x 8 = 192 completions
    references = [r for r in refs for _ in range(8)]
    inputs = [{"prompt": "p", "reference": r} for r in references]
    try:
        rewards = trainer._calculate_rewards(inputs, ["p"] * len(inputs), completions,
                                             [[1]] * len(inputs))
        stats = rewards_funcs[1].scorer().last_stats
    finally:
        shutdown_event_loop_in_daemon(thread, trainer.async_loop)
        for func in rewards_funcs:
            func.close()
    assert rewards[:, 1].tolist() == rewards[:, 0].tolist() == rewards[:, 2].tolist()
    expected = [b.total for b in hr.score_batch(completions, references, step=3_000)]
    assert rewards[:, 0].tolist() == pytest.approx(expected, rel=1e-6)
    assert stats.pairs == 192 and len(stats.chunks) == 2
    assert trainer._pending_metrics["two/alpha1"] == [pytest.approx(0.7)]
