"""The verl adapters through verl 0.9.1's own loaders, reward managers and ``DataProto``.

Everything verl-side is the installed wheel: the trainer config composed with Hydra,
``resolve_reward_manager_cls`` / ``load_reward_manager`` / ``load_extern_object`` (the loaders
behind ``reward.reward_manager`` and ``reward.custom_reward_function``), the
``RewardLoopWorker`` that runs them (in-process here; ``test_verl_rollout.py`` runs it as a
Ray actor), and the classic managers 0.9 still ships. Each batch carries the step only where
verl itself puts it (``meta_info["global_steps"]``) or where ``HimedAgentLoopManager`` does
(``non_tensor_batch["global_steps"]``, ``extra_info["global_step"]``).
"""

from __future__ import annotations

import numpy as np
import pytest

from himed_rewards.integrations import verl_agent_loop, verl_manager

pytest.importorskip("verl", reason="verl is not installed (pip install --no-deps verl==0.9.1)")

import torch  # noqa: E402  (verl depends on torch)
import verl_support as support  # noqa: E402  (this folder is on sys.path: conftest.py)
from verl import DataProto  # noqa: E402

import himed_rewards as hr  # noqa: E402
from himed_rewards.integrations import verl as verl_adapter  # noqa: E402

REPORTS = [  # (reference, response)
    ("Heart size normal. No pleural effusion.", "Normal heart. No effusion."),
    ("Small left pleural effusion.", "Left pleural effusion is present."),
    ("No pneumothorax or effusion.", "No pneumothorax."),
]
MANAGER_KEYS = [
    "reward.reward_manager.source=importlib",
    "reward.reward_manager.module.path=pkg://himed_rewards.integrations.verl_manager",
]
FUNCTION_KEYS = [
    "reward.custom_reward_function.path=pkg://himed_rewards.integrations.verl",
    "reward.custom_reward_function.name=compute_score",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    texts = [t for pair in REPORTS for t in pair] + ["Describe the chest X-ray."]
    return support.build_tiny_model_dir(tmp_path_factory.mktemp("verl") / "model", texts)


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from verl.utils import hf_tokenizer

    return hf_tokenizer(str(model_dir))


def _config(model_dir, *keys):
    return support.compose_verl_config([f"actor_rollout_ref.model.path={model_dir}", *keys])


def _batch(tokenizer, *, meta_info=None, steps=None, extra_infos=None) -> DataProto:
    """A reward batch shaped as verl's agent loop builds it (left-padded prompts,
    right-padded responses, ``reward_model.ground_truth``, ``extra_info``)."""
    prompt = tokenizer.encode("Describe the chest X-ray.")
    responses = [tokenizer.encode(r) for _, r in REPORTS]
    width = max(map(len, responses))
    response_ids = torch.zeros(len(REPORTS), width, dtype=torch.long)
    mask = torch.zeros(len(REPORTS), len(prompt) + width, dtype=torch.long)
    for i, ids in enumerate(responses):
        response_ids[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(prompt) + len(ids)] = 1
    prompts = torch.tensor([prompt] * len(REPORTS))
    non_tensor = {
        "data_source": np.array(["iu_xray"] * len(REPORTS), dtype=object),
        "reward_model": np.array([{"ground_truth": ref} for ref, _ in REPORTS], dtype=object),
        "extra_info": np.array(
            extra_infos or [{"index": i} for i in range(len(REPORTS))], dtype=object
        ),
    }
    if steps is not None:
        non_tensor["global_steps"] = np.asarray(steps, dtype=np.int64)
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": response_ids,
            "attention_mask": mask,
            "input_ids": torch.cat([prompts, response_ids], dim=1),
        },
        non_tensors=non_tensor,
        meta_info=dict(meta_info or {}),
    )


def _expected(tokenizer, batch, steps):
    decoded = [tokenizer.decode(ids, skip_special_tokens=True) for ids in batch.batch["responses"]]
    refs = [ref for ref, _ in REPORTS]
    return [
        hr.score_batch([d], [r], step=s)[0] for d, r, s in zip(decoded, refs, steps, strict=True)
    ]


def test_verls_loader_finds_compute_score_by_pkg_path():
    from verl.utils.import_utils import load_extern_object

    fn = load_extern_object("pkg://himed_rewards.integrations.verl", "compute_score")
    assert fn is verl_adapter.compute_score


@pytest.mark.parametrize("name", ["HimedRewardLoopManager", "HimedRewardManager"])
def test_verls_resolver_loads_the_reward_loop_manager(model_dir, tokenizer, name):
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import load_reward_manager, resolve_reward_manager_cls

    config = _config(model_dir, *MANAGER_KEYS, f"reward.reward_manager.name={name}", *FUNCTION_KEYS)
    cls = resolve_reward_manager_cls(config)
    assert cls is verl_manager.HimedRewardLoopManager
    assert issubclass(cls, NaiveRewardManager)
    # verl 0.9 builds it with config=, tokenizer=, compute_score= (the 0.8-era crash)
    manager = load_reward_manager(config, tokenizer)
    assert isinstance(manager, cls)


@pytest.mark.parametrize("step", [0, 5000, 20000])
def test_reward_loop_worker_scores_with_the_step_the_agent_loop_stamped(model_dir, step):
    """RewardLoopWorker.compute_score_batch with our manager: the per-sample column that
    HimedAgentLoopManager adds is the step (no meta_info, as in verl's agent loop)."""
    from verl.experimental.reward_loop import RewardLoopWorker

    config = _config(
        model_dir,
        *MANAGER_KEYS,
        "reward.reward_manager.name=HimedRewardLoopManager",
        *FUNCTION_KEYS,
    )
    worker = RewardLoopWorker(config)
    data = _batch(worker.input_tokenizer, steps=[step] * len(REPORTS))
    results = worker.loop.run_until_complete(worker.compute_score_batch(data))
    expected = _expected(worker.input_tokenizer, data, [step] * len(REPORTS))
    assert [r["reward_score"] for r in results] == pytest.approx([b.total for b in expected])
    assert [r["reward_extra_info"]["alpha1"] for r in results] == pytest.approx(
        [b.alpha1 for b in expected]
    )
    assert {r["reward_extra_info"]["alpha1"] for r in results} == {
        hr.score_batch(["x"], ["x"], step=step)[0].alpha1
    }


def test_colocated_path_keeps_meta_info_and_per_sample_steps_win(model_dir):
    """RewardLoopManager.compute_rm_score chunks the trainer batch, meta_info included."""
    from verl.experimental.reward_loop import RewardLoopWorker

    config = _config(
        model_dir, *MANAGER_KEYS, "reward.reward_manager.name=HimedRewardManager", *FUNCTION_KEYS
    )
    worker = RewardLoopWorker(config)
    tok = worker.input_tokenizer
    batch_wide = _batch(tok, meta_info={"global_steps": 20000})
    results = worker.loop.run_until_complete(worker.compute_score_batch(batch_wide))
    assert [r["reward_extra_info"]["alpha1"] for r in results] == pytest.approx([0.1] * 3)
    mixed = _batch(tok, meta_info={"global_steps": 1}, steps=[0, 5000, 20000])
    results = worker.loop.run_until_complete(worker.compute_score_batch(mixed))
    expected = _expected(tok, mixed, [0, 5000, 20000])
    assert [r["reward_score"] for r in results] == pytest.approx([b.total for b in expected])


def test_verls_naive_manager_takes_the_step_from_extra_info(model_dir):
    """Without our manager (reward.reward_manager.name=naive, verl's default), the step
    arrives through extra_info, where HimedAgentLoopManager writes it when rewards stream."""
    from verl.experimental.reward_loop import RewardLoopWorker

    worker = RewardLoopWorker(_config(model_dir, *FUNCTION_KEYS))
    infos = [{"index": i, "global_step": 5000} for i in range(len(REPORTS))]
    data = _batch(worker.input_tokenizer, extra_infos=infos)
    results = worker.loop.run_until_complete(worker.compute_score_batch(data))
    assert [r["reward_extra_info"]["alpha1"] for r in results] == pytest.approx([0.5] * 3)


def test_stamp_global_step_on_a_real_dataproto_survives_repeat_chunk_and_union(tokenizer):
    batch = _batch(tokenizer, meta_info={"global_steps": 5000})
    original = [dict(info) for info in batch.non_tensor_batch["extra_info"]]
    repeated = batch.repeat(repeat_times=2, interleave=True)  # shares the dicts, as verl does
    assert verl_agent_loop.stamp_global_step(repeated) == 5000
    assert repeated.non_tensor_batch["global_steps"].tolist() == [5000] * 6
    assert [i["global_step"] for i in repeated.non_tensor_batch["extra_info"]] == [5000] * 6
    assert list(batch.non_tensor_batch["extra_info"]) == original  # never mutated
    chunks = repeated.chunk(2)
    assert [c.non_tensor_batch["global_steps"].tolist() for c in chunks] == [[5000] * 3] * 2
    # the trainer's copy never had the column: union with the rollout output is accepted
    plain = batch.repeat(repeat_times=2, interleave=True)
    column_only = batch.repeat(repeat_times=2, interleave=True)
    verl_agent_loop.stamp_global_step(column_only, into_extra_info=False)
    assert plain.union(column_only).non_tensor_batch["global_steps"].tolist() == [5000] * 6
    assert verl_agent_loop.stamp_global_step(_batch(tokenizer)) is None


def test_classic_naive_manager_with_the_batch_step(tokenizer):
    """verl's classic manager (0.8's trainer path; 0.9 still ships it) via our subclass."""
    from verl.workers.reward_manager.naive import NaiveRewardManager

    cls = verl_manager.HimedClassicRewardManager
    assert issubclass(cls, NaiveRewardManager)
    manager = cls(tokenizer, 0, compute_score=verl_adapter.compute_score)
    data = _batch(tokenizer, meta_info={"global_steps": 5000})
    out = manager(data, return_dict=True)
    expected = _expected(tokenizer, data, [5000] * 3)
    assert out["reward_tensor"].sum(-1).tolist() == pytest.approx(
        [b.total for b in expected], rel=1e-5
    )
    assert out["reward_extra_info"]["alpha1"] == pytest.approx([0.5] * 3)


def test_classic_batch_manager_calls_compute_score_batch(tokenizer):
    from verl.workers.reward_manager.batch import BatchRewardManager

    manager = BatchRewardManager(tokenizer, 0, compute_score=verl_adapter.compute_score_batch)
    infos = [{"index": i, "global_step": 20000} for i in range(len(REPORTS))]
    data = _batch(tokenizer, extra_infos=infos)
    out = manager(data, return_dict=True)
    expected = _expected(tokenizer, data, [20000] * 3)
    assert out["reward_tensor"].sum(-1).tolist() == pytest.approx(
        [b.total for b in expected], rel=1e-5
    )
    assert out["reward_extra_info"]["alpha1"] == pytest.approx([0.1] * 3)


def test_non_dict_extra_info_in_a_batch_is_refused_by_name(tokenizer):
    data = _batch(tokenizer, meta_info={"global_steps": 3})
    data.non_tensor_batch["extra_info"][1] = "not a dict"
    with pytest.raises(TypeError, match=r"extra_info'\]\[1\] must be a dict"):
        verl_manager.inject_global_step(data)
    with pytest.raises(TypeError, match=r"extra_info'\]\[1\] must be a dict"):
        verl_agent_loop.stamp_global_step(data)


def test_step_array_of_the_wrong_length_is_refused(tokenizer):
    data = _batch(tokenizer)
    data.non_tensor_batch["global_steps"] = np.array([1], dtype=object)
    with pytest.raises(ValueError, match="1 items for 3 samples"):
        verl_manager.inject_global_step(data)


def test_bad_rows_fail_by_name_inside_verls_reward_worker(model_dir):
    from verl.experimental.reward_loop import RewardLoopWorker

    config = _config(
        model_dir,
        *MANAGER_KEYS,
        "reward.reward_manager.name=HimedRewardLoopManager",
        *FUNCTION_KEYS,
    )
    worker = RewardLoopWorker(config)
    tok = worker.input_tokenizer
    no_reference = _batch(tok, steps=[5000] * 3)
    no_reference.non_tensor_batch["reward_model"][0] = {"ground_truth": None}
    with pytest.raises(TypeError, match="ground_truth must be the reference report"):
        worker.loop.run_until_complete(worker.compute_score_batch(no_reference[0:1]))
    bad_info = _batch(tok, steps=[5000] * 3)
    bad_info.non_tensor_batch["extra_info"][2] = "index=2"
    with pytest.raises(TypeError, match=r"extra_info'\]\[0\] must be a dict"):
        worker.loop.run_until_complete(worker.compute_score_batch(bad_info[2:3]))
