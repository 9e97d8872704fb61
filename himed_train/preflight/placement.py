"""Where each role runs: training processes, generation (colocated vLLM, a vLLM server or
transformers) and the verifier, against the batch arithmetic and the GPUs visible here."""

from __future__ import annotations

from urllib.parse import urlparse

from himed_train.batch import batch_problems
from himed_train.config import TrainConfig
from himed_train.preflight.probes import CudaInfo
from himed_train.preflight.results import CheckResult, fail, ok, warn

__all__ = ["is_loopback", "generation_server", "batch_checks", "placement_checks"]

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def is_loopback(url_or_host: str) -> bool:
    """Whether a URL (or bare host) points at this machine.

    Examples:
        >>> is_loopback("http://127.0.0.1:8000/v1"), is_loopback("http://verifier-node:8000/v1")
        (True, False)
    """
    host = urlparse(url_or_host).hostname if "://" in url_or_host else url_or_host
    return (host or "").lower() in _LOOPBACK or (host or "").startswith("127.")


def generation_server(config: TrainConfig) -> str:
    """The ``host:port`` (or base URL) TRL's server mode connects to.

    Examples:
        >>> from himed_train.config import TrainConfig
        >>> generation_server(TrainConfig(data={"dataset": "iu_xray", "paths": {}}))
        '0.0.0.0:8000'
    """
    extra = config.grpo.extra
    if extra.get("vllm_server_base_url"):
        return str(extra["vllm_server_base_url"])
    return f"{extra.get('vllm_server_host', '0.0.0.0')}:{extra.get('vllm_server_port', 8000)}"


def batch_checks(config: TrainConfig) -> list[CheckResult]:
    """The batch arithmetic for ``grpo.num_processes`` training processes.

    Examples:
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {}})
        >>> batch_checks(cfg)[0].detail
        '32 prompts x 16 generations = 512 completions per step = 8 processes x 8 per device x 8 accumulation'
    """
    g = config.grpo
    problems = batch_problems(g, g.num_processes)
    if problems:
        return [fail("plan/batch", p) for p in problems]
    return [ok("plan/batch", (
        f"{g.prompts_per_step} prompts x {g.num_generations} generations = "
        f"{g.prompts_per_step * g.num_generations} completions per step = {g.num_processes} "
        f"processes x {g.per_device_train_batch_size} per device x "
        f"{g.gradient_accumulation_steps} accumulation"
    ))]  # fmt: skip


def _gpu_rows(config: TrainConfig, cuda: CudaInfo) -> list[CheckResult]:
    launch, n = config.launch, config.grpo.num_processes
    if n % launch.nodes:
        return [fail("plan/gpus", (
            f"grpo.num_processes {n} does not split evenly over launch.nodes {launch.nodes}"
        ))]  # fmt: skip
    train_here = n // launch.nodes
    need = train_here + launch.generation_gpus + launch.verifier_gpus
    parts = f"{train_here} training + {launch.generation_gpus} generation + " \
            f"{launch.verifier_gpus} verifier = {need}"  # fmt: skip
    rows: list[CheckResult] = []
    if need > launch.gpus_per_node:
        rows.append(fail("plan/gpus", f"node 0 needs {parts} GPUs, has {launch.gpus_per_node}"))
    elif need < launch.gpus_per_node:
        rows.append(warn("plan/gpus", f"node 0: {parts} of {launch.gpus_per_node} GPUs: "
                                      f"{launch.gpus_per_node - need} idle"))  # fmt: skip
    else:
        rows.append(ok("plan/gpus", f"node 0: {parts} of {launch.gpus_per_node} GPUs"))
    if cuda.gpu_count == 0:
        rows.append(fail("gpus/visible", f"no CUDA GPU visible here (the plan needs {need} "
                                          "on this node)"))  # fmt: skip
    elif cuda.gpu_count < need:
        rows.append(fail("gpus/visible", f"{cuda.gpu_count} GPU(s) visible, the plan needs {need}"))
    else:
        names = sorted({g.name for g in cuda.gpus})
        rows.append(ok("gpus/visible", f"{cuda.gpu_count} x {', '.join(names)} ({cuda.source})"))
    return rows


def _generation_row(config: TrainConfig) -> CheckResult:
    g, launch = config.grpo, config.launch
    if not g.use_vllm:
        return ok("plan/generation", "transformers generate() on each training process (no vLLM)")
    if g.vllm_mode == "colocate":
        row = (f"vLLM colocated in each of the {g.num_processes} training processes "
               f"({g.vllm_gpu_memory_utilization:.0%} of each GPU)")  # fmt: skip
        if launch.generation_gpus:
            return warn("plan/generation", row + f"; launch.generation_gpus "
                                                 f"{launch.generation_gpus} stay idle")  # fmt: skip
        return ok("plan/generation", row)
    where = generation_server(config)
    host = where.split("://")[-1].rsplit(":", 1)[0]
    if launch.generation_gpus:
        if not is_loopback(host):
            return warn("plan/generation", (
                f"launch.generation_gpus {launch.generation_gpus} on this node, but TRL "
                f"connects to {where}"
            ))  # fmt: skip
        return ok("plan/generation", (
            f"vLLM server mode: trl vllm-serve on {launch.generation_gpus} GPU(s) of node 0, "
            f"TRL connects to {where}"
        ))  # fmt: skip
    if is_loopback(host):
        return fail("plan/generation", (
            f"grpo.vllm_mode is server at {where} but launch.generation_gpus is 0: no GPU runs "
            "trl vllm-serve on this node"
        ))  # fmt: skip
    return ok("plan/generation", f"vLLM server mode: a remote trl vllm-serve at {where}")


def _verifier_row(config: TrainConfig) -> CheckResult:
    reward, launch = config.reward, config.launch
    if reward.judge == "offline":
        return ok("plan/verifier", "offline clinical judge inside the reward (CPU, no server)")
    if reward.judge == "none":
        return ok("plan/verifier", "no semantic level (reward.judge: none)")
    url = reward.verifier.base_url
    placement = launch.verifier_placement
    local = is_loopback(url) if placement == "auto" else placement == "local"
    if local:
        if launch.verifier_gpus == 0:
            return fail("plan/verifier", (
                f"the verifier at {url} runs on this node but launch.verifier_gpus is 0: "
                "every GPU is taken by training; serve the verifier on another node / endpoint "
                "or reserve GPUs for it"
            ))  # fmt: skip
        return ok("plan/verifier", (
            f"{reward.verifier.model} served on {launch.verifier_gpus} GPU(s) of node 0 at {url}"
        ))  # fmt: skip
    if launch.verifier_gpus:
        return warn("plan/verifier", (
            f"launch.verifier_gpus {launch.verifier_gpus} reserved here but the verifier is "
            f"at {url}"
        ))  # fmt: skip
    return ok("plan/verifier", f"{reward.verifier.model} at {url}: another node or endpoint")


def placement_checks(config: TrainConfig, cuda: CudaInfo) -> list[CheckResult]:
    """Batch arithmetic, GPU counts per node, generation and verifier placement.

    Examples:
        >>> from himed_train.preflight.probes import GpuInfo
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {}})
        >>> rows = placement_checks(cfg, CudaInfo("12.8", [GpuInfo("H100", 79.2)] * 8))
        >>> [(r.name, r.status) for r in rows]  # doctest: +NORMALIZE_WHITESPACE
        [('plan/batch', 'ok'), ('plan/gpus', 'ok'), ('gpus/visible', 'ok'),
         ('plan/generation', 'ok'), ('plan/verifier', 'FAIL')]
    """
    return [
        *batch_checks(config),
        *_gpu_rows(config, cuda),
        _generation_row(config),
        _verifier_row(config),
    ]
