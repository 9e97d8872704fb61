"""The training configuration: one YAML file, validated by pydantic, for both stages.

The defaults reproduce the paper's GRPO setting (Qwen2.5-VL-3B-Instruct, learning rate 1e-6,
mini-batch 32 prompts, G = 16 completions per prompt, clip epsilon 0.2, KL beta 0.1, reward
schedule T = 10k steps with alpha_min 0.1, qwen3-30b-a3b verifier behind an
OpenAI-compatible URL). TRL 1.16's own defaults differ (``beta=0.0``, ``loss_type="dapo"``),
so :meth:`GRPOSection.to_trl_kwargs` always sets them explicitly.

This module needs neither torch nor TRL; ``himed_train.grpo`` turns the sections into
``trl.GRPOConfig`` / ``trl.SFTConfig``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from himed_train.data.records import DEFAULT_THINK
from himed_train.prompts import SYSTEM_PROMPT, USER_INSTRUCTION

__all__ = [
    "ModelSection",
    "DataSection",
    "VerifierSection",
    "ScheduleSection",
    "RewardSection",
    "GRPOSection",
    "SFTSection",
    "LaunchSection",
    "TrainConfig",
    "load_config",
    "REMOVED_TRL_ARGS",
]

#: GRPOConfig arguments that TRL 1.16 no longer accepts, with what to use instead.
REMOVED_TRL_ARGS = {
    "max_prompt_length": "TRL 1.16 removed it: truncate prompts in the dataset instead",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSection(_Section):
    """The policy model and how its images are sized."""

    name_or_path: str = "Qwen/Qwen2.5-VL-3B-Instruct"
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    attn_implementation: str | None = None
    min_pixels: PositiveInt = 128 * 28 * 28
    max_pixels: PositiveInt = 1024 * 28 * 28
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _pixels_ordered(self) -> ModelSection:
        if self.min_pixels > self.max_pixels:
            raise ValueError(
                f"model.min_pixels ({self.min_pixels}) must be <= "
                f"model.max_pixels ({self.max_pixels})"
            )
        return self


class DataSection(_Section):
    """Which dataset builder reads which files (``paths`` are the builder's file arguments)."""

    dataset: Literal["iu_xray", "mimic_cxr", "chexpert_plus", "padchest_gr"]
    paths: dict[str, str]
    split: str = "train"
    max_samples: PositiveInt | None = None
    missing_images: Literal["error", "skip"] = "error"
    options: dict[str, Any] = Field(default_factory=dict)
    system_prompt: str | None = SYSTEM_PROMPT
    instruction: str = USER_INSTRUCTION


class VerifierSection(_Section):
    """The LLM verifier (semantic judge) behind an OpenAI-compatible URL."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "qwen3-30b-a3b"
    api_key_env: str | None = None
    timeout: PositiveFloat = 30.0
    max_retries: int = Field(2, ge=0)
    concurrency: PositiveInt = 64
    dialect: Literal["openai", "llama_cpp"] = "openai"
    on_failure: Literal["skip", "raise"] | float = "skip"
    max_tokens: PositiveInt = 512
    cache_path: str | None = None
    extra_body: dict[str, Any] | None = Field(
        default_factory=lambda: {"chat_template_kwargs": {"enable_thinking": False}}
    )

    @model_validator(mode="after")
    def _url(self) -> VerifierSection:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"reward.verifier.base_url must be an http(s) URL, got {self.base_url!r}"
            )
        return self


class ScheduleSection(_Section):
    """The linear schedule that moves weight from the low-level to the semantic reward."""

    T: PositiveInt = 10_000
    alpha_min: float = Field(0.1, ge=0.0, le=1.0)


class RewardSection(_Section):
    """How the HiMed reward is built: base file, schedule, semantic judge, sync or async."""

    config_file: str | None = None
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    judge: Literal["llm", "offline", "none"] = "llm"
    verifier: VerifierSection = Field(default_factory=VerifierSection)
    use_async: bool = True
    workers: PositiveInt = 1  # processes per training rank that score its batch (ParallelScorer)


class GRPOSection(_Section):
    """GRPO hyper-parameters; ``extra`` passes any other ``trl.GRPOConfig`` field through.

    ``prompts_per_step`` is the paper's mini-batch (prompts per optimizer step); each prompt
    gets ``num_generations`` completions, so one step sees ``prompts_per_step *
    num_generations`` completions, split over ``num_processes * per_device_train_batch_size``
    and gradient accumulation.
    """

    output_dir: str = "outputs/himed-grpo"
    learning_rate: PositiveFloat = 1e-6
    prompts_per_step: PositiveInt = 32
    num_generations: int = Field(16, ge=2)
    num_processes: PositiveInt = 8
    per_device_train_batch_size: PositiveInt = 8
    epsilon: PositiveFloat = 0.2
    beta: float = Field(0.1, ge=0.0)
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo"] = (
        "grpo"
    )
    scale_rewards: Literal["group", "batch", "none"] = "group"
    num_iterations: PositiveInt = 1
    max_completion_length: PositiveInt = 1024
    temperature: PositiveFloat = 1.0
    num_train_epochs: PositiveFloat = 1.0
    max_steps: int = -1
    warmup_steps: float = Field(0.0, ge=0.0)  # int: steps; float in [0, 1): ratio (transformers 5)
    lr_scheduler_type: str = "constant"
    use_vllm: bool = True
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_gpu_memory_utilization: float = Field(0.4, gt=0.0, le=1.0)
    bf16: bool = True
    gradient_checkpointing: bool = True
    logging_steps: PositiveInt = 1
    save_steps: PositiveInt = 500
    seed: int = 42
    report_to: list[str] = Field(default_factory=lambda: ["none"])
    log_completions: bool = True
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _batch_geometry(self) -> GRPOSection:
        for key in self.extra:
            if key in REMOVED_TRL_ARGS:
                raise ValueError(f"grpo.extra.{key}: {REMOVED_TRL_ARGS[key]}")
            if key in type(self).model_fields and key != "extra":
                raise ValueError(f"grpo.extra.{key} duplicates the grpo.{key} field; set it there")
        # Imported here: himed_train.batch builds on this module (TRL 1.16's batch rules).
        from himed_train.batch import batch_problems

        problems = batch_problems(self, self.num_processes)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def gradient_accumulation_steps(self) -> int:
        """Micro-batches per optimizer step so one step holds ``prompts_per_step`` groups."""
        return (self.prompts_per_step * self.num_generations) // (
            self.num_processes * self.per_device_train_batch_size
        )

    def to_trl_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``trl.GRPOConfig`` (every paper setting explicit).

        Examples:
            >>> kw = GRPOSection().to_trl_kwargs()
            >>> kw["beta"], kw["loss_type"], kw["epsilon"], kw["num_generations"]
            (0.1, 'grpo', 0.2, 16)
            >>> kw["gradient_accumulation_steps"], kw["per_device_train_batch_size"]
            (8, 8)
        """
        own = self.model_dump(exclude={"prompts_per_step", "num_processes", "extra"})
        own["gradient_accumulation_steps"] = self.gradient_accumulation_steps
        own["remove_unused_columns"] = False  # the reward needs the `reference` column
        return {**own, **self.extra}


class SFTSection(_Section):
    """Cold-start SFT (``trl.SFTTrainer``) on the same data, targets in the tagged layout."""

    output_dir: str = "outputs/himed-sft"
    learning_rate: PositiveFloat = 1e-5
    num_train_epochs: PositiveFloat = 1.0
    max_steps: int = -1
    per_device_train_batch_size: PositiveInt = 4
    gradient_accumulation_steps: PositiveInt = 1
    max_length: PositiveInt | None = 2048
    warmup_steps: float = Field(0.03, ge=0.0)  # int: steps; float in [0, 1): ratio (transformers 5)
    lr_scheduler_type: str = "cosine"
    bf16: bool = True
    gradient_checkpointing: bool = True
    logging_steps: PositiveInt = 10
    save_steps: PositiveInt = 500
    seed: int = 42
    report_to: list[str] = Field(default_factory=lambda: ["none"])
    think: str = DEFAULT_THINK
    extra: dict[str, Any] = Field(default_factory=dict)

    def to_trl_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``trl.SFTConfig``.

        Examples:
            >>> SFTSection().to_trl_kwargs()["completion_only_loss"]
            True
        """
        own = self.model_dump(exclude={"think", "extra"})
        own["completion_only_loss"] = True  # learn the report, not the instruction
        own["remove_unused_columns"] = False
        return {**own, **self.extra}


class LaunchSection(_Section):
    """Where each role of a GRPO run lives; read by ``himed-train check`` and at launch.

    The training processes (``grpo.num_processes``) take GPUs of ``nodes`` nodes;
    ``generation_gpus`` (``trl vllm-serve``, for ``grpo.vllm_mode: server``) and
    ``verifier_gpus`` (the verifier's server) sit on the first node beside them.
    ``verifier_placement`` says where the verifier runs: ``auto`` reads it from
    ``reward.verifier.base_url`` (a loopback URL is this node), ``remote`` is another node or
    an external endpoint even behind a loopback URL (an SSH tunnel), ``local`` this node. Model sizes default to a table of
    known models (``himed_train.preflight.memory``); set ``*_params_b`` (billions) for
    others. ``world_size_mismatch`` is what ``himed-train grpo`` does when the launcher
    started a different number of processes than ``grpo.num_processes``: ``adjust`` the
    gradient accumulation so one step still holds ``prompts_per_step`` prompts (with a
    warning), or ``error``; a split that cannot hold them is refused either way.

    Examples:
        >>> LaunchSection().world_size_mismatch, LaunchSection().gpus_per_node
        ('adjust', 8)
    """

    accelerate_config: str | None = None
    nodes: PositiveInt = 1
    gpus_per_node: PositiveInt = 8
    gpu_memory_gib: PositiveFloat = 80.0
    generation_gpus: int = Field(0, ge=0)
    verifier_gpus: int = Field(0, ge=0)
    verifier_placement: Literal["auto", "local", "remote"] = "auto"
    policy_params_b: PositiveFloat | None = None
    verifier_params_b: PositiveFloat | None = None
    world_size_mismatch: Literal["adjust", "error"] = "adjust"


class TrainConfig(_Section):
    """The whole file: ``model``, ``data``, ``reward``, ``grpo``, ``sft`` and ``launch``.

    Examples:
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {"annotation_path": "a.json",
        ...                                                         "images_dir": "img"}})
        >>> cfg.model.name_or_path, cfg.reward.schedule.T, cfg.reward.verifier.model
        ('Qwen/Qwen2.5-VL-3B-Instruct', 10000, 'qwen3-30b-a3b')
    """

    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection
    reward: RewardSection = Field(default_factory=RewardSection)
    grpo: GRPOSection = Field(default_factory=GRPOSection)
    sft: SFTSection = Field(default_factory=SFTSection)
    launch: LaunchSection = Field(default_factory=LaunchSection)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """Read a YAML (``.yaml``/``.yml``) or JSON file; relative data paths stay as written."""
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"config: no such file {str(file)!r}")
        text = file.read_text(encoding="utf-8")
        if file.suffix.lower() == ".json":
            raw = json.loads(text)
        elif file.suffix.lower() in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        else:
            raise ValueError(f"config must be a .yaml, .yml or .json file, got {str(file)!r}")
        if not isinstance(raw, dict):
            raise ValueError(f"{file}: the top level must be a mapping, got {type(raw).__name__}")
        return cls.model_validate(raw)

    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write YAML or JSON (by suffix); ``from_file`` reads it back to an equal config."""
        file = Path(path)
        data = self.model_dump(mode="json")
        if file.suffix.lower() == ".json":
            file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        else:
            file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def load_config(path: str | os.PathLike[str]) -> TrainConfig:
    """Shorthand for :meth:`TrainConfig.from_file`."""
    return TrainConfig.from_file(path)
