"""What this machine has: the CUDA build of torch and the visible GPUs.

This is the only part of the preflight that needs a GPU to say anything, so it is one
function the checks receive (``probe=``): tests pass a :class:`CudaInfo` they built.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass, field

__all__ = ["GpuInfo", "CudaInfo", "probe_cuda"]


@dataclass(frozen=True)
class GpuInfo:
    """One visible GPU."""

    name: str
    memory_gib: float


@dataclass(frozen=True)
class CudaInfo:
    """torch's CUDA build (``None`` for a CPU build or no torch) and the visible GPUs.

    Examples:
        >>> CudaInfo("12.8", [GpuInfo("H100", 79.6)] * 8).gpu_count
        8
    """

    torch_cuda: str | None
    gpus: list[GpuInfo] = field(default_factory=list)
    source: str = "torch"

    @property
    def gpu_count(self) -> int:
        """How many GPUs are visible."""
        return len(self.gpus)

    @property
    def min_memory_gib(self) -> float | None:
        """The smallest GPU's memory (the one every estimate must fit), or None."""
        return min((g.memory_gib for g in self.gpus), default=None)


def _nvidia_smi() -> list[GpuInfo]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, _, mib = line.rpartition(",")
        try:
            gpus.append(GpuInfo(name.strip(), float(mib) / 1024))
        except ValueError:
            continue
    return gpus


def probe_cuda() -> CudaInfo:
    """The real probe: torch's CUDA build and devices, else ``nvidia-smi``'s list.

    Examples:
        >>> isinstance(probe_cuda(), CudaInfo)
        True
    """
    if importlib.util.find_spec("torch") is None:
        return CudaInfo(None, _nvidia_smi(), source="nvidia-smi (no torch)")
    import torch

    cuda = torch.version.cuda
    if cuda is None or not torch.cuda.is_available():
        return CudaInfo(cuda, _nvidia_smi() if cuda is None else [], source="torch")
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        gpus.append(GpuInfo(props.name, props.total_memory / 2**30))
    return CudaInfo(cuda, gpus, source="torch")
