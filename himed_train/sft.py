"""Cold-start SFT (TRL ``SFTTrainer``) on the same data, targets in the tagged layout.

Teaches the policy the ``<think>`` / ``<finding>`` / ``<impression>`` layout before GRPO,
so the format reward is reachable from the first GRPO step. Needs torch, transformers, TRL.
"""

from __future__ import annotations

import logging
from typing import Any

from himed_train.config import ModelSection, TrainConfig

__all__ = ["make_sft_config", "make_sft_trainer", "run_sft"]

log = logging.getLogger("himed_train")


def make_sft_config(trl_kwargs: dict[str, Any], model: ModelSection | None = None) -> Any:
    """A ``trl.SFTConfig``; an unknown key fails naming ``sft.extra``."""
    from trl import SFTConfig

    from himed_train.grpo import model_init_kwargs

    kwargs = dict(trl_kwargs)
    if model is not None:
        kwargs.setdefault("model_init_kwargs", model_init_kwargs(model))
    try:
        return SFTConfig(**kwargs)
    except TypeError as err:
        raise TypeError(f"sft settings rejected by trl.SFTConfig (check sft.extra): {err}") from err


def make_sft_trainer(*, model: Any, processor: Any, dataset: Any, args: Any) -> Any:
    """The ``SFTTrainer`` on prompt-completion rows with images."""
    from trl import SFTTrainer

    return SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor)


def run_sft(config: TrainConfig) -> Any:
    """Train with the configuration's SFT section; returns the trainer after ``train()``."""
    from himed_train.data.from_config import build_dataset
    from himed_train.processing import load_processor, save_processor

    dataset = build_dataset(config.data, kind="sft", think=config.sft.think)
    log.info("SFT dataset: %d studies from %s", len(dataset), config.data.dataset)
    processor = load_processor(
        config.model.name_or_path,
        min_pixels=config.model.min_pixels,
        max_pixels=config.model.max_pixels,
        trust_remote_code=config.model.trust_remote_code,
    )
    args = make_sft_config(config.sft.to_trl_kwargs(), config.model)
    trainer = make_sft_trainer(
        model=config.model.name_or_path, processor=processor, dataset=dataset, args=args
    )
    trainer.train()
    trainer.save_model(config.sft.output_dir)
    save_processor(processor, config.sft.output_dir)  # GRPO starts from this folder
    return trainer
