"""The CPU smoke run (`himed-train smoke`) and the tiny offline Qwen2.5-VL it trains."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import himed_rewards as hr

ROOT = Path(__file__).resolve().parents[2]
_MISSING = [
    m for m in ("torch", "transformers", "trl", "datasets") if importlib.util.find_spec(m) is None
]
needs_train_stack = pytest.mark.skipif(
    bool(_MISSING), reason=f"train extra not installed (missing {_MISSING}): run .ci/setup_train.sh"
)
pytestmark = [pytest.mark.train, needs_train_stack]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "himed_train", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
    )  # fmt: skip


def test_smoke_two_steps_train_the_model_offline():
    started = time.perf_counter()
    done = run_cli("smoke", "--steps", "2")
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"steps", "reward_token", "reward_concept", "reward_format",
                            "reward_semantic", "alpha1", "params_changed"}  # fmt: skip
    assert summary["steps"] == 2
    assert summary["params_changed"] is True
    for key in ("reward_token", "reward_concept", "reward_semantic"):
        assert isinstance(summary[key], float) and summary[key] >= 0.0, key
    assert -1.0 <= summary["reward_format"] <= 1.0  # Eq. 7: +1 well formed, -1 otherwise
    assert summary["reward_semantic"] <= 3.0  # accuracy + relevance + completeness
    # TRL scores the second step's completions at global_step 1.
    assert summary["alpha1"] == pytest.approx(hr.LinearSchedule(T=10_000, alpha_min=0.1).alpha1(1))
    assert 50_000 <= summary["n_params"] <= 150_000
    assert summary["reward_compute_seconds"] > 0.0
    assert "reward compute" in done.stderr  # the per-step timing line
    print(f"smoke: {elapsed:.1f} s wall, summary {summary}")


def test_smoke_schedule_moves_alpha_and_sync_form_works():
    done = run_cli(
        "smoke", "--steps", "3", "--schedule-t", "2", "--sync", "--max-completion-length", "12"
    )
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 3
    assert summary["alpha1"] == pytest.approx(hr.LinearSchedule(T=2, alpha_min=0.1).alpha1(2))


def test_smoke_rejects_bad_arguments():
    done = run_cli("smoke", "--num-generations", "1")
    assert done.returncode == 2
    assert "num_generations must be an int >= 2" in done.stderr
    done = run_cli("smoke", "--vllm")
    assert done.returncode == 2
    assert "use_vllm needs device='cuda'" in done.stderr


def test_gpu_smoke_script_dry_run_prints_one_json_line():
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_smoke.sh"), "--dry-run"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    (line,) = done.stdout.strip().splitlines()
    summary = json.loads(line)
    assert (summary["steps"], summary["device"], summary["dtype"]) == (3, "cpu", "float32")
    assert summary["generation"] == "transformers" and summary["peak_gpu_memory_gib"] is None
    for level in ("token", "concept", "format", "semantic", "total"):
        assert isinstance(summary[f"mean_{level}"], float), level
    assert summary["step_seconds"] > 0 and summary["params_changed"] is True
    assert 0.99 < summary["alpha1"] <= 1.0


def test_tiny_model_processor_and_tokenizer():
    import torch
    from PIL import Image

    from himed_train.smoke import smoke_references
    from himed_train.tiny import (
        ANSWER_TAGS,
        build_tiny_model,
        build_tiny_processor,
        build_tiny_tokenizer,
    )

    tokenizer = build_tiny_tokenizer(smoke_references())
    text = "<think> The lungs are clear . </think>"
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text
    assert all(tokenizer.convert_tokens_to_ids(t) != tokenizer.unk_token_id for t in ANSWER_TAGS)
    processor = build_tiny_processor(tokenizer)

    def encode(size):
        return processor.apply_chat_template(
            [[{"role": "user", "content": [{"type": "image", "image": Image.new("RGB", size)},
                                           {"type": "text", "text": "Write the report."}]}]],
            add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt",
        )  # fmt: skip

    batch = encode((56, 56))
    assert batch["image_grid_thw"].tolist() == [[1, 4, 4]]  # four 14-px patches a side
    assert (batch["input_ids"] == processor.image_token_id).sum().item() == 4  # 2x2 merged
    big = encode((600, 400))  # any input is brought down to at most 56 * 56 pixels
    assert big["image_grid_thw"].prod().item() * 14 * 14 <= 56 * 56
    model = build_tiny_model(tokenizer, seed=0)
    assert 50_000 <= sum(p.numel() for p in model.parameters()) <= 150_000
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == batch["input_ids"].shape[1] + 5 or out[0, -1] == tokenizer.eos_token_id


def test_image_only_processor_saves_and_loads_back(tmp_path):
    from PIL import Image

    from himed_train.processing import has_torchvision, load_processor, save_processor
    from himed_train.smoke import smoke_references
    from himed_train.tiny import build_tiny_processor, build_tiny_tokenizer

    if has_torchvision():
        pytest.skip("torchvision is installed: AutoProcessor path, not the image-only one")
    processor = build_tiny_processor(build_tiny_tokenizer(smoke_references()))
    save_processor(processor, str(tmp_path))
    loaded = load_processor(str(tmp_path), min_pixels=56 * 56, max_pixels=56 * 56)
    assert loaded.tokenizer.padding_side == "left"
    content = [
        {"type": "image", "image": Image.new("RGB", (56, 56))},
        {"type": "text", "text": "Write the report."},
    ]
    conversation = [[{"role": "user", "content": content}]]
    kwargs = {"add_generation_prompt": True, "tokenize": True, "return_dict": True}
    before = processor.apply_chat_template(conversation, **kwargs)
    after = loaded.apply_chat_template(conversation, **kwargs)
    assert after["input_ids"] == before["input_ids"]
    assert after["image_grid_thw"].tolist() == before["image_grid_thw"].tolist()
