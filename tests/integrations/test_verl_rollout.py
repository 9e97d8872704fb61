"""The HiMed reward inside verl 0.9's own rollout: real Ray actors, real agent/reward loops.

What runs is verl's code from the installed wheel: ``RewardLoopManager`` (it starts the
``RewardLoopWorker`` Ray actor, which loads ``compute_score`` through verl's
``load_reward_manager`` from ``reward.custom_reward_function``), ``AgentLoopManager.create``
through verl's ``load_class_from_fqn`` of
``actor_rollout_ref.rollout.agent.agent_loop_manager_class`` (our ``HimedAgentLoopManager``
or verl's own), verl's ``AgentLoopWorker`` Ray actor (it builds the per-sample reward batch in
``_compute_score``), and the lines of ``RayPPOTrainer.fit`` around generation, replayed
verbatim (``_get_gen_batch``, ``meta_info["global_steps"]``, ``repeat``, ``union``,
``extract_reward``, ``compute_timing_metrics``). Only the LLM is replaced: the agent loop
answers with canned reports (``verl_support.CannedReportAgentLoop``), since no vLLM server runs
on CPU. Nothing handed to verl carries the step except ``meta_info["global_steps"]``, where
the trainer puts it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("verl", reason="verl is not installed (pip install --no-deps verl==0.9.1)")
ray = pytest.importorskip("ray", reason="verl's rollout needs ray")

import verl_support as support  # noqa: E402  (this folder is on sys.path: conftest.py)

import himed_rewards as hr  # noqa: E402

G, REPORTS = support.G, support.REPORTS  # samples per prompt; (reference, G answers)
HIMED_MANAGER = "himed_rewards.integrations.verl_agent_loop.HimedAgentLoopManager"
VERL_MANAGER = "verl.experimental.agent_loop.AgentLoopManager"


def _config(tmp: Path, manager_fqn: str):
    return support.canned_rollout_config(
        tmp,
        [
            # the legacy trainer (RayPPOTrainer) whose lines _trainer_step replays
            "trainer.use_v1=false",
            f"+actor_rollout_ref.rollout.agent.agent_loop_manager_class={manager_fqn}",
        ],
    )


@pytest.fixture(scope="module")
def verl_rollout(tmp_path_factory):
    """Ray, verl's reward-loop workers, and a factory of agent-loop managers."""
    from verl.experimental.reward_loop import RewardLoopManager
    from verl.utils.import_utils import load_class_from_fqn

    tmp = tmp_path_factory.mktemp("verl")
    step_file = tmp / "step.json"
    # Env vars reach verl's actors through Ray's runtime_env (in a verl run:
    # +ray_kwargs.ray_init.runtime_env.env_vars.NAME=VALUE). The step file is set for the
    # actors only, so publishing to it is the only way it can matter.
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {
                "PYTHONPATH": support.actor_pythonpath(),
                "HIMED_REWARDS_STEP_FILE": str(step_file),
            }
        },
    )
    try:
        config = _config(tmp, HIMED_MANAGER)
        rewards = RewardLoopManager(config=config, rm_resource_pool=None)
        managers = {}

        def manager(fqn: str):
            if fqn not in managers:
                cfg = _config(tmp, fqn)
                cls = load_class_from_fqn(
                    cfg.actor_rollout_ref.rollout.agent.agent_loop_manager_class,
                    "AgentLoopManager",
                )
                managers[fqn] = cls.create(
                    config=cfg,
                    llm_client=None,
                    teacher_client=None,
                    reward_loop_worker_handles=rewards.reward_loop_workers,
                )
            return managers[fqn]

        yield manager, config, step_file
    finally:
        ray.shutdown()


def _trainer_step(manager, step: int, *, v1_step_field: bool = False):
    """RayPPOTrainer.fit (verl 0.9.1, ray_trainer.py 1477-1568) around generation.

    ``v1_step_field`` adds what verl's v1 trainer adds to every prompt instead
    (``trainer/ppo/v1/trainer_base.py:1493``, ``assign_non_tensor_data(batch, "global_steps",
    step)``), which its ``AgentLoopWorkerTQ`` hands to the agent loop as a keyword, as verl's
    ``AgentLoopWorker`` does with every non-tensor column.
    """
    from verl import DataProto
    from verl.trainer.ppo.metric_utils import compute_timing_metrics
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from verl.trainer.ppo.reward import extract_reward

    batch = DataProto.from_single_dict(support.collated_reports())
    batch.non_tensor_batch["uid"] = np.array([str(uuid.uuid4()) for _ in REPORTS], dtype=object)
    gen_batch = RayPPOTrainer._get_gen_batch(None, batch)
    gen_batch.meta_info["global_steps"] = step
    if v1_step_field:
        gen_batch.non_tensor_batch["global_steps"] = np.full(len(gen_batch), step, dtype=object)
    gen_batch_output = gen_batch.repeat(repeat_times=G, interleave=True)
    output = manager.generate_sequences(gen_batch_output)
    timing_raw = dict(output.meta_info["timing"])
    output.meta_info.pop("timing", None)
    batch = batch.repeat(repeat_times=G, interleave=True)
    batch = batch.union(output)
    reward_tensor, extra = extract_reward(batch)
    return batch, reward_tensor, extra, compute_timing_metrics(batch, timing_raw)


def _expected(config, batch, step: int):
    from verl.utils import hf_tokenizer

    tokenizer = hf_tokenizer(config.actor_rollout_ref.model.path)
    decoded = [tokenizer.decode(ids, skip_special_tokens=True) for ids in batch.batch["responses"]]
    refs = [item["ground_truth"] for item in batch.non_tensor_batch["reward_model"]]
    return hr.score_batch(decoded, refs, step=step)


@pytest.mark.slow
@pytest.mark.parametrize(("step", "alpha1"), [(0, 1.0), (5000, 0.5), (20000, 0.1)])
def test_the_trainer_step_reaches_the_reward_and_verls_metrics(verl_rollout, step, alpha1):
    manager, config, _ = verl_rollout
    batch, reward_tensor, extra, metrics = _trainer_step(manager(HIMED_MANAGER), step)
    expected = _expected(config, batch, step)

    assert np.asarray(extra["alpha1"], dtype=float) == pytest.approx([alpha1] * len(expected))
    assert np.asarray(extra["alpha2"], dtype=float) == pytest.approx([1 - alpha1] * len(expected))
    assert reward_tensor.sum(-1).tolist() == pytest.approx([b.total for b in expected], rel=1e-5)
    for key in ("token", "concept", "semantic", "format", "low_level"):
        assert np.asarray(extra[key], dtype=float) == pytest.approx(
            [getattr(b, key) for b in expected]
        )
    # what verl's trainer logs each step (compute_timing_metrics over the rollout's timing)
    assert metrics["timing_s/himed_reward/alpha1/mean"] == pytest.approx(alpha1)
    assert metrics["timing_s/himed_reward/alpha2/mean"] == pytest.approx(1 - alpha1)
    for key in ("score", "token", "concept", "semantic", "format", "low_level"):
        values = [b.total if key == "score" else getattr(b, key) for b in expected]
        assert metrics[f"timing_s/himed_reward/{key}/mean"] == pytest.approx(np.mean(values))


@pytest.mark.slow
def test_verls_own_manager_drops_the_step_and_the_step_file_restores_it(verl_rollout):
    manager, config, step_file = verl_rollout
    from himed_rewards.integrations.step import publish_step

    plain = manager(VERL_MANAGER)
    # verl alone: meta_info["global_steps"] never reaches compute_score (scored at step 0)
    _, _, extra, metrics = _trainer_step(plain, 5000)
    assert set(np.asarray(extra["alpha1"], dtype=float)) == {1.0}
    assert not any(key.startswith("timing_s/himed_reward/") for key in metrics)
    # the trainer side publishes the step; the reward actors read the file
    publish_step(5000, step_file)
    _, _, extra, _ = _trainer_step(plain, 5000)
    assert set(np.asarray(extra["alpha1"], dtype=float)) == {0.5}


@pytest.mark.slow
@pytest.mark.parametrize(("step", "alpha1"), [(5000, 0.5), (20000, 0.1)])
def test_v1_trainers_per_prompt_step_reaches_the_reward_loop_manager(verl_rollout, step, alpha1):
    """verl's v1 trainer (0.9's default) passes global_steps with every prompt: with
    HimedRewardLoopManager no agent-loop manager of ours is needed (a published step file
    for 5000 exists from the test above: the framework's step wins over it)."""
    manager, config, _ = verl_rollout
    batch, reward_tensor, extra, _ = _trainer_step(manager(VERL_MANAGER), step, v1_step_field=True)
    expected = _expected(config, batch, step)
    assert set(np.asarray(extra["alpha1"], dtype=float)) == {alpha1}
    assert reward_tensor.sum(-1).tolist() == pytest.approx([b.total for b in expected], rel=1e-5)
