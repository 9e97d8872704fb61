"""The HiMed reward in verl 0.9's default (v1) rollout: TransferQueue, real Ray actors.

verl's v1 trainer (``trainer.use_v1=true``, the default) sends prompts to
``AgentLoopManagerTQ``; its ``AgentLoopWorkerTQ`` Ray actors run the agent loop, score each
sample through the ``RewardLoopWorker`` actor, and put the result in TransferQueue, where the
trainer reads it. All of that is verl's code from the installed wheel; the prompt batch is
built as ``trainer/ppo/v1/trainer_base.py`` builds it (``collate_fn``, ``uid``,
``tu.get_tensordict``, ``tu.assign_non_tensor_data(batch, "global_steps", step)``, the
pending-prompt tags). Only the LLM is replaced by the canned agent loop of
``verl_support``. The reward is configured with ``HimedRewardLoopManager`` and nothing else
of ours: the step must arrive through verl's own per-prompt field.
"""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

pytest.importorskip("verl", reason="verl is not installed (pip install --no-deps verl==0.9.1)")
ray = pytest.importorskip("ray", reason="verl's rollout needs ray")
tq = pytest.importorskip(
    "transfer_queue",
    reason="verl 0.9's v1 trainer needs TransferQueue (pip install --no-deps TransferQueue==0.1.11)",
)

import verl_support as support  # noqa: E402  (this folder is on sys.path: conftest.py)

import himed_rewards as hr  # noqa: E402

G, REPORTS = support.G, support.REPORTS  # samples per prompt; (reference, G answers)


@pytest.fixture(scope="module")
def v1_rollout(tmp_path_factory):
    from verl.experimental.reward_loop import RewardLoopManager
    from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopManagerTQ

    tmp = tmp_path_factory.mktemp("verl_v1")
    config = support.canned_rollout_config(
        tmp,
        [
            "transfer_queue.enable=true",  # what TaskRunnerV1.run sets
            "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
        ],
    )
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": support.actor_pythonpath()}},
    )
    try:
        tq.init(config.transfer_queue)
        rewards = RewardLoopManager(config=config, rm_resource_pool=None)
        manager = AgentLoopManagerTQ.create(
            config=config,
            llm_client=None,
            teacher_client=None,
            reward_loop_worker_handles=rewards.reward_loop_workers,
        )
        yield manager, config
    finally:
        try:
            tq.close()
        finally:
            ray.shutdown()


def _v1_step(manager, step: int, timeout_s: float = 120.0):
    """trainer_base.py: _fetch_one_gen_batch, _next_train_batch, _submit_batch_to_rollout
    (sync mode); then the trainer's read of the finished samples from TransferQueue."""
    from verl.utils import tensordict_utils as tu

    batch_dict = support.collated_reports()
    batch_dict["uid"] = np.array([str(uuid.uuid4()) for _ in REPORTS], dtype=object)
    batch = tu.get_tensordict(batch_dict)
    tu.assign_non_tensor_data(batch, "global_steps", step)
    tags = [{"is_prompt": True, "status": "pending", "global_steps": step} for _ in REPORTS]
    tq.kv_batch_put(keys=list(batch["uid"]), partition_id="train", tags=tags)
    manager.generate_sequences(batch)

    uids = list(batch["uid"])
    keys = [f"{uid}_{session}_0" for uid in uids for session in range(G)]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return uids, tq.kv_batch_get(
                keys=keys,
                partition_id="train",
                select_fields=["rm_scores", "responses", "reward_model", "extra_fields"],
            )
        except ValueError:  # not all samples finished yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize(("step", "alpha1"), [(0, 1.0), (5000, 0.5), (20000, 0.1)])
def test_v1_trainer_hands_the_step_to_himed_reward_loop_manager(v1_rollout, step, alpha1):
    from verl.utils import hf_tokenizer

    manager, config = v1_rollout
    _, data = _v1_step(manager, step)
    # read as trainer_base.py reads them (data.pop(...).tolist())
    extra = [field["reward_extra_info"] for field in data.pop("extra_fields").tolist()]
    assert [e["alpha1"] for e in extra] == pytest.approx([alpha1] * len(extra))
    assert [e["alpha2"] for e in extra] == pytest.approx([1 - alpha1] * len(extra))

    tokenizer = hf_tokenizer(config.actor_rollout_ref.model.path)
    decoded = [tokenizer.decode(r, skip_special_tokens=True) for r in data["responses"].unbind(0)]
    refs = [rm["ground_truth"] for rm in data.pop("reward_model").tolist()]
    expected = hr.score_batch(decoded, refs, step=step)
    scores = [float(s.sum()) for s in data["rm_scores"].unbind(0)]
    assert scores == pytest.approx([b.total for b in expected], rel=1e-5)
    assert [e["semantic"] for e in extra] == pytest.approx([b.semantic for b in expected])
