"""``himed-train check``: validate a whole GRPO launch plan before a GPU hour is spent.

Packages (torch/CUDA, TRL, DeepSpeed, flash-attn or its sdpa fallback, vLLM in TRL 1.16's
range), the batch arithmetic against the processes, where generation and the verifier
run, GPU memory per role, the verifier endpoint (one real verdict), the dataset rows and
the reward. Only :func:`~himed_train.preflight.probes.probe_cuda` needs a GPU.
"""

from himed_train.preflight.probes import CudaInfo, GpuInfo, probe_cuda
from himed_train.preflight.results import CheckResult, failures, render_table
from himed_train.preflight.runner import config_kind, preflight_config, run_preflight

__all__ = [
    "CheckResult",
    "CudaInfo",
    "GpuInfo",
    "config_kind",
    "failures",
    "preflight_config",
    "probe_cuda",
    "render_table",
    "run_preflight",
]
