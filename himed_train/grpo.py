"""GRPO with the HiMed reward on a Qwen2.5-VL policy (TRL ``GRPOTrainer``).

``make_grpo_trainer`` is shared by the real run (:func:`run_grpo`) and the CPU smoke run, so
the smoke run exercises the same wiring. Needs torch, transformers and TRL.
"""

from __future__ import annotations

import logging
from typing import Any

from himed_train.attention import resolve_attn_implementation
from himed_train.batch import reconcile_world_size, world_size_from_env
from himed_train.config import ModelSection, TrainConfig

__all__ = ["make_grpo_config", "make_grpo_trainer", "model_init_kwargs", "run_grpo"]

log = logging.getLogger("himed_train")


def model_init_kwargs(model: ModelSection) -> dict[str, Any]:
    """``from_pretrained`` keyword arguments TRL uses for the policy and reference model."""
    kwargs: dict[str, Any] = {"dtype": model.dtype}
    attn = resolve_attn_implementation(model.attn_implementation)  # flash-attn or sdpa
    if attn is not None:
        kwargs["attn_implementation"] = attn
    if model.trust_remote_code:
        kwargs["trust_remote_code"] = True
    return kwargs


def make_grpo_config(trl_kwargs: dict[str, Any], model: ModelSection | None = None) -> Any:
    """A ``trl.GRPOConfig``; an unknown key fails naming ``grpo.extra``."""
    from trl import GRPOConfig

    kwargs = dict(trl_kwargs)
    if model is not None:
        kwargs.setdefault("model_init_kwargs", model_init_kwargs(model))
    try:
        return GRPOConfig(**kwargs)
    except TypeError as err:
        raise TypeError(
            f"grpo settings rejected by trl.GRPOConfig (check grpo.extra): {err}"
        ) from err


def make_grpo_trainer(
    *,
    model: Any,
    processor: Any,
    dataset: Any,
    reward: Any,
    args: Any,
    callbacks: list | None = None,
) -> Any:
    """The ``GRPOTrainer`` with the HiMed reward as its only reward function."""
    from trl import GRPOTrainer

    return GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=callbacks,
    )


def run_grpo(config: TrainConfig) -> Any:
    """Train with the configuration's GRPO section; returns the trainer after ``train()``."""
    from himed_train.callbacks import reward_timing_callback
    from himed_train.data.from_config import build_dataset
    from himed_train.processing import load_processor
    from himed_train.reward_setup import build_reward
    from himed_train.warmup import warm_up_reward

    # Refuse (or adjust loudly) before any model is loaded when the launcher's process
    # count would change how many prompts one optimizer step holds.
    section = reconcile_world_size(
        config.grpo, world_size_from_env(), config.launch.world_size_mismatch
    )
    warm_up_reward()
    reward = build_reward(config.reward)
    dataset = build_dataset(config.data, kind="grpo")
    log.info("GRPO dataset: %d prompts from %s", len(dataset), config.data.dataset)
    processor = load_processor(
        config.model.name_or_path,
        min_pixels=config.model.min_pixels,
        max_pixels=config.model.max_pixels,
        trust_remote_code=config.model.trust_remote_code,
    )
    args = make_grpo_config(section.to_trl_kwargs(), config.model)
    trainer = make_grpo_trainer(
        model=config.model.name_or_path, processor=processor, dataset=dataset,
        reward=reward, args=args, callbacks=[reward_timing_callback(reward.log_prefix)],
    )  # fmt: skip
    trainer.train()
    trainer.save_model(section.output_dir)
    return trainer
