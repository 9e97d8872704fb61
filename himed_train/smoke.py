"""``himed-train smoke``: a few GRPO steps on CPU, fully offline, with the whole HiMed reward.

A tiny random Qwen2.5-VL (:mod:`himed_train.tiny`) learns from synthetic 56 x 56 images made
in memory, with the bundled synthetic reports as references and the offline clinical judge
as the semantic level. The point is the wiring (dataset -> processor -> generation -> reward
-> GRPO loss -> optimizer), not learning anything: the JSON summary says whether training
changed the weights and what each reward level averaged. Needs torch, transformers and TRL.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from himed_train.prompts import build_prompt, plain_reference

__all__ = ["synthetic_reports", "example_pairs", "smoke_references", "run_smoke", "OFFLINE_ENV"]

log = logging.getLogger("himed_train")

#: Set before transformers / datasets / huggingface_hub are imported: no download, ever.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def synthetic_reports() -> list[dict[str, str]]:
    """The bundled synthetic reports (``himed_train/assets/synthetic_reports.json``).

    Examples:
        >>> reports = synthetic_reports()
        >>> len(reports) >= 4 and {"id", "findings", "impression"} <= set(reports[0])
        True
    """
    text = resources.files("himed_train").joinpath("assets/synthetic_reports.json").read_text()
    return list(json.loads(text)["reports"])


def example_pairs() -> list[dict[str, str]]:
    """The example (reference, completion) pairs bundled with ``himed_rewards``, or ``[]``
    when this ``himed_rewards`` has none.

    Examples:
        >>> all({"reference", "completion"} <= set(p) for p in example_pairs())
        True
    """
    try:
        source = resources.files("himed_rewards").joinpath("data/examples/pairs.json")
        text = source.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return []
    return list(json.loads(text)["pairs"])


def smoke_references() -> list[str]:
    """Distinct references for the smoke run: the bundled example pairs' references, then
    the synthetic reports of ``himed_train/assets``.

    Examples:
        >>> refs = smoke_references()
        >>> len(refs) == len(set(refs)) and len(refs) >= 8
        True
    """
    texts = [p["reference"] for p in example_pairs()]
    texts += [plain_reference(r["findings"], r["impression"]) for r in synthetic_reports()]
    return list(dict.fromkeys(texts))


def _smoke_dataset(n_rows: int, seed: int) -> Any:
    """``n_rows`` prompts, each one random 56 x 56 image, references cycling the examples."""
    import numpy as np
    from datasets import Dataset
    from PIL import Image

    from himed_train.tiny import IMAGE_SIZE

    rng = np.random.default_rng(seed)
    references = smoke_references()
    rows = []
    for i in range(n_rows):
        pixels = rng.integers(0, 256, size=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        rows.append(
            {
                "prompt": build_prompt(),
                "images": [Image.fromarray(pixels)],
                "reference": references[i % len(references)],
            }
        )
    return Dataset.from_list(rows)


def _last_logged(history: list[dict[str, Any]], key: str) -> float | None:
    values = [entry[key] for entry in history if key in entry]
    return float(values[-1]) if values else None


def _mean_logged(history: list[dict[str, Any]], key: str) -> float | None:
    values = [float(entry[key]) for entry in history if key in entry]
    return sum(values) / len(values) if values else None


def run_smoke(
    steps: int = 2,
    *,
    seed: int = 0,
    prompts_per_step: int = 2,
    num_generations: int = 4,
    max_completion_length: int = 24,
    schedule_t: int = 10_000,
    use_async: bool = True,
    device: str = "cpu",
    use_vllm: bool = False,
) -> dict[str, Any]:
    """Run ``steps`` GRPO steps and return the summary printed as JSON.

    ``device="cpu"`` trains in float32 single-threaded; ``"cuda"`` trains on the first GPU
    in bfloat16, generating with colocated vLLM when ``use_vllm`` (else transformers).

    Keys: ``steps``, ``reward_token``, ``reward_concept``, ``reward_format``,
    ``reward_semantic``, ``reward_total``, ``alpha1`` (all as logged at the last step),
    ``mean_token``, ``mean_concept``, ``mean_format``, ``mean_semantic``, ``mean_total``
    (means over the logged steps), ``reward_compute_seconds`` (mean per step),
    ``warmup_seconds``, ``params_changed``, ``n_params``, ``device``, ``dtype``,
    ``generation``, ``step_seconds`` (training time per step), ``peak_gpu_memory_gib``
    (``None`` on CPU) and ``seconds`` (wall time of the whole run).
    """
    for name, value in (("steps", steps), ("prompts_per_step", prompts_per_step),
                        ("max_completion_length", max_completion_length),
                        ("schedule_t", schedule_t)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if (
        isinstance(num_generations, bool)
        or not isinstance(num_generations, int)
        or num_generations < 2
    ):
        raise ValueError(
            f"num_generations must be an int >= 2 (GRPO needs a group), got {num_generations!r}"
        )
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if use_vllm and device != "cuda":
        raise ValueError("use_vllm needs device='cuda' (vLLM generates on a GPU)")
    os.environ.update(OFFLINE_ENV)
    started = time.perf_counter()

    import torch

    # The tiny model's matrices are a few dozen wide: a second thread only adds sync cost
    # (about 10x slower per matmul on a busy 2-core machine), so stay single-threaded.
    torch.set_num_threads(1)
    on_gpu = device == "cuda"
    if on_gpu:
        if not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no CUDA GPU")
        torch.cuda.reset_peak_memory_stats()
    dtype = "bfloat16" if on_gpu else "float32"

    from himed_train.callbacks import reward_timing_callback
    from himed_train.config import GRPOSection, RewardSection, ScheduleSection
    from himed_train.grpo import make_grpo_config, make_grpo_trainer
    from himed_train.reward_setup import build_reward
    from himed_train.tiny import build_tiny_model, build_tiny_processor, build_tiny_tokenizer
    from himed_train.warmup import warm_up_reward

    warmup_seconds = warm_up_reward()
    # Vocabulary: every reference and example completion, so sampled words are report words.
    corpus = smoke_references() + [p["completion"] for p in example_pairs()]
    tokenizer = build_tiny_tokenizer(corpus)
    processor = build_tiny_processor(tokenizer)
    model = build_tiny_model(tokenizer, seed=seed)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    dataset = _smoke_dataset(prompts_per_step * steps, seed)
    reward = build_reward(
        RewardSection(judge="offline", schedule=ScheduleSection(T=schedule_t), use_async=use_async)
    )

    with tempfile.TemporaryDirectory(prefix="himed-smoke-") as tmp:
        # beta > 0 makes TRL load a reference model *by path*, so the policy starts from disk.
        init_dir = Path(tmp) / "init"
        model.save_pretrained(init_dir)
        if use_vllm:  # vLLM loads the tokenizer and image processor from the model folder
            from himed_train.processing import save_processor

            save_processor(processor, str(init_dir))
        section = GRPOSection(
            output_dir=str(Path(tmp) / "out"),
            learning_rate=1e-2,  # large on purpose: a visible update within two steps
            prompts_per_step=prompts_per_step,
            num_generations=num_generations,
            num_processes=1,
            per_device_train_batch_size=prompts_per_step * num_generations,
            max_completion_length=max_completion_length,
            max_steps=steps,
            use_vllm=use_vllm,
            vllm_mode="colocate",
            vllm_gpu_memory_utilization=0.2,
            bf16=on_gpu,
            gradient_checkpointing=False,
            log_completions=False,
            seed=seed,
            extra={
                "use_cpu": not on_gpu,
                "save_strategy": "no",
                "disable_tqdm": True,
                "dataloader_num_workers": 0,
                "model_init_kwargs": {"dtype": dtype},
                **({"vllm_max_model_length": 512} if use_vllm else {}),
            },
        )
        trainer = make_grpo_trainer(
            model=str(init_dir),
            processor=processor,
            dataset=dataset,
            reward=reward,
            args=make_grpo_config(section.to_trl_kwargs()),
            callbacks=[reward_timing_callback(reward.log_prefix)],
        )
        output = trainer.train()
        final = trainer.model.state_dict()
        # compare in the dtype trained in (bf16 on GPU): loading alone must not count
        params_changed = any(
            not torch.equal(initial[k].to(final[k].dtype), final[k].cpu()) for k in initial
        )
        history = list(trainer.state.log_history)
        global_step = int(trainer.state.global_step)

    times = [e["himed/compute_seconds"] for e in history if "himed/compute_seconds" in e]
    runtime = float(output.metrics.get("train_runtime", 0.0))
    peak = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None
    means = {
        f"mean_{level}": _mean_logged(history, f"himed/{level}")
        for level in ("token", "concept", "format", "semantic", "total")
    }
    return {
        "steps": global_step,
        "reward_token": _last_logged(history, "himed/token"),
        "reward_concept": _last_logged(history, "himed/concept"),
        "reward_format": _last_logged(history, "himed/format"),
        "reward_semantic": _last_logged(history, "himed/semantic"),
        "reward_total": _last_logged(history, "himed/total"),
        "alpha1": _last_logged(history, "himed/alpha1"),
        **means,
        "reward_compute_seconds": sum(times) / len(times) if times else None,
        "warmup_seconds": round(warmup_seconds, 3),
        "params_changed": params_changed,
        "n_params": sum(p.numel() for p in model.parameters()),
        "device": device,
        "dtype": dtype,
        "generation": "vllm" if use_vllm else "transformers",
        "step_seconds": round(runtime / global_step, 4) if global_step else None,
        "peak_gpu_memory_gib": None if peak is None else round(peak, 4),
        "seconds": round(time.perf_counter() - started, 2),
    }
