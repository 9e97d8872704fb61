"""verl step-aware reward managers, run against a stand-in for verl (verl is not installed).

The stand-in reproduces what the managers rely on: a ``DataProto`` with ``batch`` (tensors,
here numpy), ``non_tensor_batch`` (numpy object arrays) and ``meta_info``, and verl's naive
managers, which decode each response and call ``compute_score(data_source=, solution_str=,
ground_truth=, extra_info=)``, putting ``score["score"]`` on the last response token
(verl/workers/reward_manager/naive.py, verl/experimental/reward_loop/reward_manager/naive.py).
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections import defaultdict

import numpy as np
import pytest

import himed_rewards as hr
from himed_rewards.integrations import verl as verl_adapter
from himed_rewards.integrations import verl_manager


class StandInTokenizer:
    """Word-level tokenizer: ids index into a vocabulary built on the fly."""

    def __init__(self):
        self.vocab: list[str] = ["<pad>"]

    def encode(self, text: str) -> list[int]:
        ids = []
        for word in text.split(" "):
            if word not in self.vocab:
                self.vocab.append(word)
            ids.append(self.vocab.index(word))
        return ids

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return " ".join(self.vocab[int(i)] for i in ids if int(i) != 0)


class StandInDataProto:
    def __init__(self, batch, non_tensor_batch, meta_info):
        self.batch, self.non_tensor_batch, self.meta_info = batch, non_tensor_batch, meta_info

    def __len__(self):
        return len(next(iter(self.batch.values())))

    def __getitem__(self, i):
        if isinstance(i, slice):
            return StandInDataProto(
                {k: v[i] for k, v in self.batch.items()},
                {k: v[i] for k, v in self.non_tensor_batch.items()},
                self.meta_info,
            )
        return types.SimpleNamespace(
            batch={k: v[i] for k, v in self.batch.items()},
            non_tensor_batch={k: v[i] for k, v in self.non_tensor_batch.items()},
        )


def make_batch(tokenizer, prompts, responses, references, *, extra_infos=None, meta_info=None):
    p_len = max(len(tokenizer.encode(p)) for p in prompts)
    r_len = max(len(tokenizer.encode(r)) for r in responses)
    prompt_ids = np.zeros((len(prompts), p_len), dtype=np.int64)
    response_ids = np.zeros((len(prompts), r_len), dtype=np.int64)
    mask = np.zeros((len(prompts), p_len + r_len), dtype=np.int64)
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        pi, ri = tokenizer.encode(p), tokenizer.encode(r)
        prompt_ids[i, p_len - len(pi) :] = pi  # verl left-pads prompts
        response_ids[i, : len(ri)] = ri  # and right-pads responses
        mask[i, p_len - len(pi) : p_len + len(ri)] = 1
    non_tensor = {
        "data_source": np.array(["iu_xray"] * len(prompts), dtype=object),
        "reward_model": np.array([{"ground_truth": ref} for ref in references], dtype=object),
    }
    if extra_infos is not None:
        non_tensor["extra_info"] = np.array(extra_infos, dtype=object)
    return StandInDataProto(
        {"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask},
        non_tensor,
        dict(meta_info or {}),
    )


class StandInNaiveRewardManager:
    """verl's classic NaiveRewardManager, reduced to what it does with compute_score."""

    def __init__(self, tokenizer, num_examine, compute_score=None, reward_fn_key="data_source"):
        self.tokenizer, self.compute_score, self.reward_fn_key = (
            tokenizer,
            compute_score,
            reward_fn_key,
        )

    def __call__(self, data, return_dict=False):
        reward = np.zeros(data.batch["responses"].shape, dtype=np.float32)
        extra = defaultdict(list)
        for i in range(len(data)):
            item = data[i]
            p_len = item.batch["prompts"].shape[-1]
            valid = int(item.batch["attention_mask"][p_len:].sum())
            response = self.tokenizer.decode(item.batch["responses"][:valid])
            extra_info = item.non_tensor_batch.get("extra_info", {})
            score = self.compute_score(
                data_source=item.non_tensor_batch[self.reward_fn_key],
                solution_str=response,
                ground_truth=item.non_tensor_batch["reward_model"]["ground_truth"],
                extra_info=extra_info,
            )
            reward[i, valid - 1] = score["score"]
            for key, value in score.items():
                extra[key].append(value)
        return {"reward_tensor": reward, "reward_extra_info": extra} if return_dict else reward


class StandInRewardLoopManager:
    """verl's reward-loop NaiveRewardManager: one sample per ``run_single``."""

    def __init__(self, config, tokenizer, compute_score=None, *_):
        self.tokenizer, self.compute_score = tokenizer, compute_score

    async def run_single(self, data):
        assert len(data) == 1
        item = data[0]
        valid = int(item.batch["attention_mask"][-item.batch["responses"].shape[-1] :].sum())
        result = self.compute_score(
            data_source=item.non_tensor_batch["data_source"],
            solution_str=self.tokenizer.decode(item.batch["responses"][:valid]),
            ground_truth=item.non_tensor_batch["reward_model"]["ground_truth"],
            extra_info=item.non_tensor_batch.get("extra_info", {}),
        )
        return {"reward_score": result["score"], "reward_extra_info": result}


@pytest.fixture
def stand_in_verl(monkeypatch):
    """Put the stand-in where verl's modules would be; forget classes built from the real one."""
    modules = {
        "verl": types.ModuleType("verl"),
        "verl.workers": types.ModuleType("verl.workers"),
        "verl.workers.reward_manager": types.ModuleType("verl.workers.reward_manager"),
        "verl.workers.reward_manager.naive": types.ModuleType("verl.workers.reward_manager.naive"),
        "verl.experimental": types.ModuleType("verl.experimental"),
        "verl.experimental.reward_loop": types.ModuleType("verl.experimental.reward_loop"),
        "verl.experimental.reward_loop.reward_manager": types.ModuleType("x"),
        "verl.experimental.reward_loop.reward_manager.naive": types.ModuleType("y"),
    }
    modules["verl.workers.reward_manager.naive"].NaiveRewardManager = StandInNaiveRewardManager
    modules[
        "verl.experimental.reward_loop.reward_manager.naive"
    ].NaiveRewardManager = StandInRewardLoopManager
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(verl_manager, "_built", {})
    return modules


REPORTS = [
    (
        "Describe the chest X-ray.",
        "Heart size normal. No pleural effusion.",
        "Normal heart. No effusion.",
    ),
    (
        "Describe the chest X-ray.",
        "Small left pleural effusion.",
        "Left pleural effusion is present.",
    ),
    ("Findings?", "No pneumothorax.", "No pneumothorax or effusion."),
]


def test_module_imports_without_verl_and_names_it_when_a_class_is_needed(monkeypatch):
    monkeypatch.setitem(sys.modules, "verl", None)  # makes `import verl...` fail
    monkeypatch.setattr(verl_manager, "_built", {})
    with pytest.raises(ImportError, match="install verl"):
        verl_manager.HimedRewardManager  # noqa: B018
    with pytest.raises(AttributeError):
        verl_manager.NoSuchManager  # noqa: B018


def test_classic_manager_scores_with_the_batch_step(stand_in_verl):
    tokenizer = StandInTokenizer()
    prompts, responses, refs = zip(*REPORTS, strict=True)
    infos = [{"index": i} for i in range(3)]
    data = make_batch(
        tokenizer, prompts, responses, refs, extra_infos=infos, meta_info={"global_steps": 6000}
    )
    cls = verl_manager.HimedRewardManager
    assert issubclass(cls, StandInNaiveRewardManager)
    manager = cls(tokenizer, 0, compute_score=verl_adapter.compute_score)
    out = manager(data, return_dict=True)
    expected = hr.score_batch(list(responses), list(refs), step=6000)
    for i, breakdown in enumerate(expected):
        valid = len(responses[i].split(" "))
        assert out["reward_tensor"][i, valid - 1] == pytest.approx(breakdown.total, rel=1e-6)
        assert out["reward_tensor"][i].sum() == pytest.approx(breakdown.total, rel=1e-6)
    assert out["reward_extra_info"]["alpha1"] == pytest.approx([b.alpha1 for b in expected])
    assert infos == [{"index": 0}, {"index": 1}, {"index": 2}]  # the caller's dicts are untouched


def test_per_sample_steps_win_over_the_batch_step(stand_in_verl):
    tokenizer = StandInTokenizer()
    prompts, responses, refs = zip(*REPORTS, strict=True)
    data = make_batch(tokenizer, prompts, responses, refs, meta_info={"global_steps": 1})
    data.non_tensor_batch["global_steps"] = np.array([0, 5000, 10000], dtype=object)
    manager = verl_manager.HimedRewardManager(
        tokenizer, 0, compute_score=verl_adapter.compute_score
    )
    extra = manager(data, return_dict=True)["reward_extra_info"]
    expected = [
        hr.score_batch([r], [g], step=s)[0]
        for r, g, s in zip(responses, refs, (0, 5000, 10000), strict=True)
    ]
    assert extra["score"] == pytest.approx([b.total for b in expected])
    assert extra["alpha2"] == pytest.approx([b.alpha2 for b in expected])


def test_without_any_step_the_batch_is_scored_at_step_zero(stand_in_verl):
    tokenizer = StandInTokenizer()
    prompts, responses, refs = zip(*REPORTS, strict=True)
    data = make_batch(tokenizer, prompts, responses, refs)
    assert verl_manager.inject_global_step(data) is False
    manager = verl_manager.HimedRewardManager(
        tokenizer, 0, compute_score=verl_adapter.compute_score
    )
    extra = manager(data, return_dict=True)["reward_extra_info"]
    assert extra["score"] == pytest.approx(
        [b.total for b in hr.score_batch(list(responses), list(refs), step=0)]
    )


def test_reward_loop_manager_injects_in_run_single(stand_in_verl):
    tokenizer = StandInTokenizer()
    prompts, responses, refs = zip(*REPORTS, strict=True)
    data = make_batch(tokenizer, prompts, responses, refs, meta_info={"global_steps": 8000})
    cls = verl_manager.HimedRewardLoopManager
    assert issubclass(cls, StandInRewardLoopManager)
    manager = cls({}, tokenizer, verl_adapter.compute_score)

    async def run_all():
        return await asyncio.gather(
            *(manager.run_single(data[i : i + 1]) for i in range(len(data)))
        )

    results = asyncio.run(run_all())
    expected = hr.score_batch(list(responses), list(refs), step=8000)
    assert [r["reward_score"] for r in results] == pytest.approx([b.total for b in expected])


def test_step_array_of_the_wrong_length_is_refused():
    data = StandInDataProto({"responses": np.zeros((2, 1))}, {"global_steps": np.array([1])}, {})
    with pytest.raises(ValueError, match="1 items for 2 samples"):
        verl_manager.inject_global_step(data)
