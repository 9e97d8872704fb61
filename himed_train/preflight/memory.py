"""GPU memory per role, estimated from the model sizes before any model is loaded.

Per training GPU, with bf16 mixed precision (the DeepSpeed layout): weights 2 B/param,
gradients 2 B/param, Adam state with fp32 master weights 12 B/param; ZeRO-3 shards all of
them over the training processes (ZeRO-2: gradients and optimizer; ZeRO-1: optimizer), an
optimizer offloaded to CPU costs no GPU memory; the reference model (``beta > 0``) adds
2 B/param, sharded like the weights; colocated vLLM takes
``vllm_gpu_memory_utilization`` of the GPU. What is left must hold the activations.
A vLLM server (generation or verifier) holds 2 B/param split over its tensor-parallel GPUs
inside its default 0.9 memory share; what is left is its KV cache.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from himed_train.config import TrainConfig
from himed_train.preflight.accelerate_file import AccelerateFile
from himed_train.preflight.probes import CudaInfo
from himed_train.preflight.results import CheckResult, fail, ok, skip, warn

__all__ = [
    "KNOWN_PARAMS_B",
    "params_billions",
    "trainer_memory_gib",
    "server_kv_gib",
    "memory_checks",
]

#: Parameter counts (billions) of the models the shipped layouts name, by lower-case basename.
KNOWN_PARAMS_B = {
    "qwen2.5-vl-3b-instruct": 3.75,
    "qwen2.5-vl-7b-instruct": 8.29,
    "qwen3-30b-a3b": 30.53,
    "qwen3-30b-a3b-instruct-2507": 30.53,
}
_GIB = 2**30
_SERVE_SHARE = 0.9  # vLLM's default gpu_memory_utilization
_MIN_FREE_SHARE = 0.10  # below this the activations / KV cache will not fit


def _safetensors_params(files: list[Path]) -> int:
    total = 0
    for file in files:
        with file.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            count = 1
            for dim in entry["shape"]:
                count *= int(dim)
            total += count
    return total


def params_billions(name_or_path: str, override: float | None = None) -> tuple[float | None, str]:
    """``(billions, where the number came from)``: the override, the safetensors headers of a
    local folder, or :data:`KNOWN_PARAMS_B`; ``(None, why)`` when none applies.

    Examples:
        >>> params_billions("Qwen/Qwen2.5-VL-3B-Instruct")
        (3.75, 'known size of Qwen2.5-VL-3B-Instruct')
        >>> params_billions("my/model")[0] is None
        True
    """
    if override is not None:
        return float(override), "set in launch"
    folder = Path(name_or_path)
    if folder.is_dir():
        files = sorted(folder.glob("*.safetensors"))
        if files:
            return _safetensors_params(files) / 1e9, f"safetensors headers in {folder}"
    base = name_or_path.rstrip("/").rsplit("/", 1)[-1]
    if base.lower() in KNOWN_PARAMS_B:
        return KNOWN_PARAMS_B[base.lower()], f"known size of {base}"
    return None, f"unknown size of {name_or_path!r}: set launch.*_params_b"


def trainer_memory_gib(
    params_b: float, config: TrainConfig, accel: AccelerateFile | None, gpu_gib: float
) -> dict[str, float]:
    """GiB per training GPU for each part, as described in the module docstring.

    Examples:
        >>> from himed_train.config import TrainConfig
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {}})
        >>> parts = trainer_memory_gib(3.75, cfg, None, 80.0)
        >>> round(parts["optimizer"], 1), parts["vllm"]
        (41.9, 32.0)
    """
    grpo = config.grpo
    n = grpo.num_processes
    stage = accel.zero_stage if accel is not None and accel.deepspeed else None
    stage = stage or 0
    p = params_b * 1e9 / _GIB
    parts = {
        "weights": 2 * p / (n if stage >= 3 else 1),
        "gradients": 2 * p / (n if stage >= 2 else 1),
        "optimizer": 0.0 if accel is not None and accel.offload_optimizer
        else 12 * p / (n if stage >= 1 else 1),
        "reference": (2 * p / (n if stage >= 3 else 1)) if grpo.beta > 0 else 0.0,
        "vllm": grpo.vllm_gpu_memory_utilization * gpu_gib
        if grpo.use_vllm and grpo.vllm_mode == "colocate" else 0.0,
    }  # fmt: skip
    return parts


def server_kv_gib(params_b: float, gpus: int, gpu_gib: float) -> tuple[float, float]:
    """``(weights per GPU, KV cache left per GPU)`` in GiB for a bf16 vLLM server.

    Examples:
        >>> weights, kv = server_kv_gib(30.53, 2, 80.0)
        >>> round(weights, 1), round(kv, 1)
        (28.4, 43.6)
    """
    weights = 2 * params_b * 1e9 / _GIB / gpus
    return weights, _SERVE_SHARE * gpu_gib - weights


def _gpu_gib(config: TrainConfig, cuda: CudaInfo) -> tuple[float, str]:
    if cuda.min_memory_gib is not None:
        return cuda.min_memory_gib, "measured"
    return config.launch.gpu_memory_gib, "assumed: launch.gpu_memory_gib"


def _server_row(name: str, label: str, params: tuple[float | None, str], gpus: int,
                gpu_gib: float) -> CheckResult:  # fmt: skip
    billions, source = params
    if billions is None:
        return warn(name, source)
    weights, kv = server_kv_gib(billions, gpus, gpu_gib)
    detail = (
        f"{label} {billions:.2f}B ({source}) on {gpus} GPU(s): {weights:.1f} GiB weights + "
        f"{kv:.1f} GiB KV cache per GPU of {gpu_gib:.0f}"
    )
    return fail(name, detail + ": too little KV cache") if kv < _MIN_FREE_SHARE * gpu_gib \
        else ok(name, detail)  # fmt: skip


def memory_checks(
    config: TrainConfig, accel: AccelerateFile | None, cuda: CudaInfo
) -> list[CheckResult]:
    """One row per role that holds GPU memory: trainer, generation server, verifier.

    Examples:
        >>> from himed_train.preflight.probes import CudaInfo
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {}})
        >>> [(r.name, r.status) for r in memory_checks(cfg, None, CudaInfo(None))]
        [('memory/trainer', 'FAIL'), ('memory/verifier', 'skip')]
    """
    gpu_gib, how = _gpu_gib(config, cuda)
    launch = config.launch
    results: list[CheckResult] = []
    if cuda.min_memory_gib is not None and cuda.min_memory_gib < 0.95 * launch.gpu_memory_gib:
        results.append(warn("memory/gpus", (
            f"the plan assumes {launch.gpu_memory_gib:.0f} GiB per GPU, the smallest visible "
            f"GPU has {cuda.min_memory_gib:.1f} GiB"
        )))  # fmt: skip
    policy = params_billions(config.model.name_or_path, launch.policy_params_b)
    if policy[0] is None:
        results.append(warn("memory/trainer", policy[1]))
    else:
        parts = trainer_memory_gib(policy[0], config, accel, gpu_gib)
        used = sum(parts.values())
        left = gpu_gib - used
        shown = ", ".join(f"{k} {v:.1f}" for k, v in parts.items() if v)
        detail = (
            f"policy {policy[0]:.2f}B ({policy[1]}): {shown} = {used:.1f} GiB per training "
            f"GPU; {left:.1f} of {gpu_gib:.0f} GiB ({how}) left for activations"
        )
        if left < _MIN_FREE_SHARE * gpu_gib:
            results.append(fail("memory/trainer", detail + ": does not fit"))
        elif left < 0.25 * gpu_gib:
            results.append(warn("memory/trainer", detail + ": tight"))
        else:
            results.append(ok("memory/trainer", detail))
    if config.grpo.use_vllm and config.grpo.vllm_mode == "server" and launch.generation_gpus:
        results.append(_server_row("memory/generation", "trl vllm-serve: policy", policy,
                                   launch.generation_gpus, gpu_gib))  # fmt: skip
    if config.reward.judge != "llm":
        results.append(skip("memory/verifier", f"reward.judge is {config.reward.judge!r}"))
    elif launch.verifier_gpus == 0:
        results.append(skip("memory/verifier", "no GPU of this node serves the verifier"))
    else:
        verifier = params_billions(config.reward.verifier.model, launch.verifier_params_b)
        results.append(_server_row("memory/verifier", "verifier", verifier,
                                   launch.verifier_gpus, gpu_gib))  # fmt: skip
    return results
