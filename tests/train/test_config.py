"""Training configuration: the shipped files, the paper's values, and validation errors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from himed_train.config import GRPOSection, RewardSection, TrainConfig

CONFIGS = Path(str(resources.files("himed_train").joinpath("configs")))
DATA = {"dataset": "iu_xray", "paths": {"annotation_path": "a.json", "images_dir": "img"}}


def test_shipped_grpo_config_reproduces_the_paper():
    cfg = TrainConfig.from_file(CONFIGS / "grpo_qwen2_5_vl_3b.yaml")
    assert cfg.model.name_or_path == "Qwen/Qwen2.5-VL-3B-Instruct"
    g = cfg.grpo
    assert (g.learning_rate, g.prompts_per_step, g.num_generations) == (1e-6, 32, 16)
    assert (g.epsilon, g.beta, g.loss_type) == (0.2, 0.1, "grpo")
    assert (g.use_vllm, g.vllm_mode) == (True, "colocate")
    # 32 prompts x 16 completions per optimizer step over 8 GPUs x 8 per device:
    assert (
        g.gradient_accumulation_steps * g.num_processes * g.per_device_train_batch_size == 32 * 16
    )
    assert (cfg.reward.schedule.T, cfg.reward.schedule.alpha_min) == (10_000, 0.1)
    assert (cfg.reward.judge, cfg.reward.verifier.model) == ("llm", "qwen3-30b-a3b")
    assert cfg.reward.verifier.base_url.startswith("http")


def test_trl_kwargs_set_what_trl_defaults_differently():
    kwargs = GRPOSection().to_trl_kwargs()
    for key, value in {"beta": 0.1, "loss_type": "grpo", "epsilon": 0.2, "learning_rate": 1e-6,
                       "num_generations": 16, "remove_unused_columns": False}.items():  # fmt: skip
        assert kwargs[key] == value, key
    assert "max_prompt_length" not in kwargs and "prompts_per_step" not in kwargs


def test_shipped_sft_config_loads():
    cfg = TrainConfig.from_file(CONFIGS / "sft_qwen2_5_vl_3b.yaml")
    kwargs = cfg.sft.to_trl_kwargs()
    assert kwargs["completion_only_loss"] is True and kwargs["output_dir"] == "outputs/himed-sft"
    assert cfg.data.dataset == "mimic_cxr"


def test_accelerate_and_deepspeed_files_describe_zero3_on_8_gpus():
    acc = yaml.safe_load((CONFIGS / "accelerate_zero3_8gpu.yaml").read_text())
    assert acc["distributed_type"] == "DEEPSPEED" and acc["num_processes"] == 8
    assert acc["deepspeed_config"]["zero_stage"] == 3 and acc["mixed_precision"] == "bf16"
    ds = json.loads((CONFIGS / "deepspeed_zero3.json").read_text())
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


def test_round_trip_yaml_and_json(tmp_path: Path):
    cfg = TrainConfig(data=DATA, reward={"judge": "offline", "schedule": {"T": 500}})
    for name in ("c.yaml", "c.json"):
        cfg.to_file(tmp_path / name)
        assert TrainConfig.from_file(tmp_path / name) == cfg


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"grpo": {"prompts_per_step": 3}}, "cannot be split over 8 training processes"),
        ({"grpo": {"num_generations": 1}}, "greater than or equal to 2"),
        ({"grpo": {"extra": {"max_prompt_length": 512}}}, "TRL 1.16 removed it"),
        ({"grpo": {"extra": {"beta": 0.0}}}, "duplicates the grpo.beta field"),
        ({"grpo": {"loss_type": "ppo"}}, "loss_type"),
        ({"grpo": {"lerning_rate": 1e-6}}, "lerning_rate"),
        ({"reward": {"schedule": {"alpha_min": 1.5}}}, "alpha_min"),
        ({"reward": {"verifier": {"base_url": "localhost:8000"}}}, "http"),
        ({"reward": {"judge": "gpt"}}, "judge"),
        ({"model": {"min_pixels": 10, "max_pixels": 5}}, "min_pixels"),
        ({"data": {"dataset": "chexpert", "paths": {}}}, "dataset"),
    ],
)
def test_invalid_settings_are_rejected_by_name(change, match):
    raw = {"data": DATA} | change
    with pytest.raises(ValidationError, match=match):
        TrainConfig.model_validate(raw)


def test_from_file_errors(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        TrainConfig.from_file(tmp_path / "missing.yaml")
    (tmp_path / "c.toml").write_text("x = 1")
    with pytest.raises(ValueError, match=r"\.yaml, \.yml or \.json"):
        TrainConfig.from_file(tmp_path / "c.toml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="top level must be a mapping"):
        TrainConfig.from_file(tmp_path / "list.yaml")


def test_reward_section_builds_the_named_judge():
    from himed_train.reward_setup import build_reward, build_reward_config

    cfg = build_reward_config(RewardSection(judge="llm"))
    try:
        assert cfg.semantic.model == "qwen3-30b-a3b"
        assert cfg.semantic.base_url == "http://127.0.0.1:8000/v1"
    finally:
        cfg.semantic.close()
    assert build_reward_config(RewardSection(judge="none")).semantic is None
    reward = build_reward(RewardSection(judge="offline", schedule={"T": 50, "alpha_min": 0.2}))
    assert reward.config.schedule.alpha1(100) == 0.2
    assert type(reward).__name__ == "AsyncHimedReward"


def test_api_key_env_must_be_set(monkeypatch):
    from himed_train.reward_setup import build_reward_config

    monkeypatch.delenv("HIMED_TEST_KEY", raising=False)
    section = RewardSection(verifier={"api_key_env": "HIMED_TEST_KEY"})
    with pytest.raises(ValueError, match="HIMED_TEST_KEY"):
        build_reward_config(section)


@pytest.mark.train
def test_trl_accepts_the_shipped_settings():
    pytest.importorskip("trl", reason="trl (train extra) is not installed")
    from trl import GRPOConfig

    from himed_train.grpo import make_grpo_config
    from himed_train.sft import make_sft_config

    cfg = TrainConfig.from_file(CONFIGS / "grpo_qwen2_5_vl_3b.yaml")
    # bf16 needs a GPU; everything else must pass TRL's own validation as written.
    args = make_grpo_config({**cfg.grpo.to_trl_kwargs(), "bf16": False}, cfg.model)
    assert (args.beta, args.loss_type, args.epsilon, args.num_generations) == (0.1, "grpo", 0.2, 16)
    assert args.model_init_kwargs["dtype"] == "bfloat16"
    assert args.generation_batch_size % args.num_generations == 0
    assert GRPOConfig(output_dir="x", bf16=False).beta == 0.0  # why beta is always set
    sft = TrainConfig.from_file(CONFIGS / "sft_qwen2_5_vl_3b.yaml")
    assert make_sft_config(
        {**sft.sft.to_trl_kwargs(), "bf16": False}, sft.model
    ).completion_only_loss
    with pytest.raises(TypeError, match="grpo.extra"):
        make_grpo_config({**cfg.grpo.to_trl_kwargs(), "bf16": False, "no_such_option": 1})
