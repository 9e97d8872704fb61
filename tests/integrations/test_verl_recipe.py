"""The verl recipe (himed_train/configs/verl_grpo_qwen2_5_vl_3b.{yaml,sh}) against verl 0.9.1.

The YAML is composed with Hydra on top of verl's own ``ppo_trainer.yaml`` (the installed
wheel), every key it sets is checked to exist in verl's config (or in the dataclass its
``_target_`` names), verl's ``validate_config`` and config dataclasses accept the result, and
the hyperparameters equal the TRL recipe's. The launch script runs through verl's real entry
point, ``python -m verl.trainer.main_ppo``, with Hydra's ``--cfg job`` (print, do not train).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("verl", reason="verl is not installed (pip install --no-deps verl==0.9.1)")

from omegaconf import OmegaConf  # noqa: E402  (a verl dependency)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "himed_train" / "configs"
RECIPE = CONFIGS / "verl_grpo_qwen2_5_vl_3b.yaml"
SCRIPT = CONFIGS / "verl_grpo_qwen2_5_vl_3b.sh"
TRL_RECIPE = CONFIGS / "grpo_qwen2_5_vl_3b.yaml"
DATA = ["data.train_files=/data/train.parquet", "data.val_files=/data/val.parquet"]


import verl_support as support  # noqa: E402  (this folder is on sys.path: conftest.py)


def _compose_recipe(overrides=()):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return compose(config_name=RECIPE.stem, overrides=[*DATA, *overrides])


def _leaves(node, prefix=""):
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, path + ".")
        else:
            yield path


def _declared_by_target(base, path: str) -> bool:
    """True when the key is a field of the dataclass that the parent node's _target_ names."""
    parent, _, key = path.rpartition(".")
    target = OmegaConf.select(base, f"{parent}._target_") if parent else None
    if not target:
        return False
    module, _, name = target.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return key in {f.name for f in dataclasses.fields(cls)}


def test_every_key_of_the_recipe_exists_in_verls_trainer_config():
    base = support.compose_verl_config([])
    recipe = yaml.safe_load(RECIPE.read_text())
    keys = list(_leaves({k: v for k, v in recipe.items() if k not in ("hydra", "defaults")}))
    assert len(keys) > 30
    unknown = [
        k
        for k in keys
        if OmegaConf.select(base, k, default="<absent>") == "<absent>"
        and not _declared_by_target(base, k)
    ]
    assert unknown == []


def test_the_recipe_is_the_papers_setting_and_verl_accepts_it():
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    config = _compose_recipe()
    trl = yaml.safe_load(TRL_RECIPE.read_text())["grpo"]
    assert config.data.train_batch_size == trl["prompts_per_step"] == 32
    assert config.actor_rollout_ref.rollout.n == trl["num_generations"] == 16
    actor = config.actor_rollout_ref.actor
    assert actor.optim.lr == trl["learning_rate"] == 1e-6
    assert actor.clip_ratio_low == actor.clip_ratio_high == trl["epsilon"] == 0.2
    assert actor.use_kl_loss and actor.kl_loss_coef == trl["beta"] == 0.1
    assert actor.ppo_mini_batch_size == config.data.train_batch_size  # one update per step
    assert actor.ppo_epochs == trl["num_iterations"] == 1
    assert config.algorithm.adv_estimator == "grpo"
    assert config.reward.custom_reward_function.path == "pkg://himed_rewards.integrations.verl"
    assert config.reward.reward_manager.name == "HimedRewardLoopManager"
    # verl's own checks and dataclasses (as main_ppo runs them before training)
    validate_config(
        config,
        use_reference_policy=need_reference_policy(config),
        use_critic=need_critic(config),
    )
    assert not need_critic(config)
    # (verl 0.9.1's RewardConfig fails omega_conf_to_dataclass even on its own defaults, so
    # the reward node is checked by resolve_reward_manager_cls below instead)
    for node in (actor, config.actor_rollout_ref.rollout, config.algorithm):
        omega_conf_to_dataclass(node)


def test_the_recipes_reward_manager_loads_through_verl(tmp_path):
    from verl.trainer.ppo.reward import resolve_reward_manager_cls

    from himed_rewards.integrations import verl_manager

    assert resolve_reward_manager_cls(_compose_recipe()) is verl_manager.HimedRewardLoopManager


def test_the_legacy_trainers_agent_loop_manager_refuses_the_v1_trainer():
    from verl.utils.import_utils import load_class_from_fqn

    fqn = "himed_rewards.integrations.verl_agent_loop.HimedAgentLoopManager"
    cls = load_class_from_fqn(fqn, "AgentLoopManager")
    config = _compose_recipe([f"+actor_rollout_ref.rollout.agent.agent_loop_manager_class={fqn}"])
    with pytest.raises(ValueError, match="trainer.use_v1=false"):
        cls(config=config, llm_client=None)


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["v1", "legacy"])
def test_the_launch_script_runs_verls_entry_point(tmp_path, trainer):
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "REWARD_CONFIG": str(tmp_path / "reward.yaml"),
        "HIMED_REWARDS_STEP_FILE": str(tmp_path / "step.json"),
        "HIMED_VERL_TRAINER": trainer,
        "PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), "--cfg", "job"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    config = yaml.safe_load(done.stdout)
    assert config["data"]["train_files"] == f"{tmp_path}/train.parquet"
    assert config["actor_rollout_ref"]["rollout"]["n"] == 16
    reward = config["reward"]
    assert reward["custom_reward_function"]["reward_kwargs"]["config"] == env["REWARD_CONFIG"]
    env_vars = config["ray_kwargs"]["ray_init"]["runtime_env"]["env_vars"]
    assert env_vars["HIMED_REWARDS_STEP_FILE"] == env["HIMED_REWARDS_STEP_FILE"]
    agent = config["actor_rollout_ref"]["rollout"]["agent"]
    if trainer == "legacy":
        assert config["trainer"]["use_v1"] is False
        assert agent["agent_loop_manager_class"].endswith("HimedAgentLoopManager")
    else:
        assert config["trainer"]["use_v1"] is True
        assert "agent_loop_manager_class" not in agent
