"""Cold-start SFT wiring: IU X-ray-layout files -> SFT rows -> TRL SFTTrainer on the tiny model."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from himed_train.config import DataSection, SFTSection

_MISSING = [
    m for m in ("torch", "transformers", "trl", "datasets") if importlib.util.find_spec(m) is None
]
pytestmark = [
    pytest.mark.train,
    pytest.mark.skipif(bool(_MISSING), reason=f"train extra not installed (missing {_MISSING})"),
]


def test_sft_two_steps_on_the_tiny_model(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    import torch
    from PIL import Image

    from himed_train.data.from_config import build_dataset
    from himed_train.data.records import DEFAULT_THINK
    from himed_train.sft import make_sft_config, make_sft_trainer
    from himed_train.smoke import smoke_references
    from himed_train.tiny import build_tiny_model, build_tiny_processor, build_tiny_tokenizer

    references = smoke_references()[:4]
    annotation = {"train": [], "val": [], "test": []}
    for i, report in enumerate(references):
        (tmp_path / "images" / f"CXR{i}").mkdir(parents=True)
        Image.new("RGB", (56, 56), (40 * i, 0, 0)).save(tmp_path / "images" / f"CXR{i}" / "0.png")
        annotation["train"].append(
            {"id": f"CXR{i}", "report": report, "image_path": [f"CXR{i}/0.png"]}
        )
    (tmp_path / "annotation.json").write_text(json.dumps(annotation))
    section = DataSection(dataset="iu_xray", paths={
        "annotation_path": str(tmp_path / "annotation.json"),
        "images_dir": str(tmp_path / "images")})  # fmt: skip
    dataset = build_dataset(section, kind="sft", think=DEFAULT_THINK)
    assert len(dataset) == 4 and dataset[0]["completion"][0]["content"].startswith("<think>")

    torch.set_num_threads(1)
    tokenizer = build_tiny_tokenizer([*references, DEFAULT_THINK])
    model = build_tiny_model(tokenizer, seed=1)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    model.save_pretrained(tmp_path / "init")
    sft = SFTSection(
        output_dir=str(tmp_path / "out"), learning_rate=1e-2, max_steps=2, warmup_steps=0,
        per_device_train_batch_size=2, bf16=False, gradient_checkpointing=False, logging_steps=1,
        extra={"use_cpu": True, "save_strategy": "no", "disable_tqdm": True,
               "model_init_kwargs": {"dtype": "float32"}},
    )  # fmt: skip
    trainer = make_sft_trainer(
        model=str(tmp_path / "init"), processor=build_tiny_processor(tokenizer), dataset=dataset,
        args=make_sft_config(sft.to_trl_kwargs()),
    )  # fmt: skip
    trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert trainer.state.global_step == 2 and len(losses) == 2
    assert all(math.isfinite(x) and x > 0 for x in losses)
    final = trainer.model.state_dict()
    assert any(not torch.equal(initial[k], final[k]) for k in initial)
