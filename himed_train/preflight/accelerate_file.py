"""Read an ``accelerate launch --config_file`` YAML and compare it with the plan."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from himed_train.config import TrainConfig
from himed_train.preflight.results import CheckResult, fail, ok, skip, warn

__all__ = ["AccelerateFile", "resolve_path", "read_accelerate_file", "accelerate_checks"]


@dataclass(frozen=True)
class AccelerateFile:
    """The fields of an accelerate config that decide the launch."""

    path: Path
    num_processes: int
    num_machines: int
    distributed_type: str
    mixed_precision: str
    zero_stage: int | None
    offload_optimizer: bool
    offload_params: bool

    @property
    def deepspeed(self) -> bool:
        """True when accelerate launches through DeepSpeed."""
        return self.distributed_type == "DEEPSPEED"


def resolve_path(value: str | os.PathLike[str], base: Path) -> Path:
    """``value`` as written when absolute or present from here, else next to ``base``.

    Examples:
        >>> resolve_path("/abs/x.yaml", Path("/cfg")).as_posix()
        '/abs/x.yaml'
        >>> resolve_path("no-such-file.yaml", Path("/cfg")).as_posix()
        '/cfg/no-such-file.yaml'
    """
    path = Path(value)
    if path.is_absolute() or path.exists():
        return path
    return base / path


def _deepspeed_json(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    ds = raw.get("deepspeed_config") or {}
    file = ds.get("deepspeed_config_file")
    if not file:
        return ds
    import json

    data = json.loads(resolve_path(file, base).read_text(encoding="utf-8"))
    zero = data.get("zero_optimization", {})
    return {
        "zero_stage": zero.get("stage"),
        "offload_optimizer_device": (zero.get("offload_optimizer") or {}).get("device", "none"),
        "offload_param_device": (zero.get("offload_param") or {}).get("device", "none"),
    }


def read_accelerate_file(path: str | os.PathLike[str]) -> AccelerateFile:
    """Parse an accelerate YAML; a missing or malformed file raises ``ValueError``.

    Examples:
        >>> from importlib import resources
        >>> configs = Path(str(resources.files("himed_train").joinpath("configs")))
        >>> f = read_accelerate_file(configs / "accelerate_zero3_1gpu_offload.yaml")
        >>> f.num_processes, f.deepspeed, f.zero_stage, f.offload_optimizer
        (1, True, 3, True)
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"launch.accelerate_config: no such file {str(file)!r}")
    raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{file}: an accelerate config must be a mapping")
    ds = _deepspeed_json(raw, file.parent) if raw.get("distributed_type") == "DEEPSPEED" else {}
    try:
        return AccelerateFile(
            path=file,
            num_processes=int(raw.get("num_processes", 1)),
            num_machines=int(raw.get("num_machines", 1)),
            distributed_type=str(raw.get("distributed_type", "NO")),
            mixed_precision=str(raw.get("mixed_precision", "no")),
            zero_stage=int(ds["zero_stage"]) if ds.get("zero_stage") is not None else None,
            offload_optimizer=ds.get("offload_optimizer_device", "none") not in ("none", None),
            offload_params=ds.get("offload_param_device", "none") not in ("none", None),
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"{file}: {err}") from err


def accelerate_checks(config: TrainConfig, accel: AccelerateFile | None) -> list[CheckResult]:
    """The accelerate file against ``grpo.num_processes``, ``launch.nodes`` and ``grpo.bf16``.

    Examples:
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {}})
        >>> accelerate_checks(cfg, None)[0].status
        'skip'
    """
    name = "launch/accelerate"
    if accel is None:
        return [skip(name, "no launch.accelerate_config: processes come from the command line")]
    results = []
    grpo, launch = config.grpo, config.launch
    if accel.num_processes != grpo.num_processes:
        results.append(fail(name, (
            f"{accel.path.name}: num_processes {accel.num_processes} != grpo.num_processes "
            f"{grpo.num_processes}; the run would launch {accel.num_processes} training processes"
        )))  # fmt: skip
    if accel.num_machines != launch.nodes:
        results.append(fail(name, (
            f"{accel.path.name}: num_machines {accel.num_machines} != launch.nodes {launch.nodes}"
        )))  # fmt: skip
    if grpo.bf16 and accel.mixed_precision != "bf16":
        results.append(warn(name, (
            f"{accel.path.name}: mixed_precision {accel.mixed_precision!r} but grpo.bf16 is true"
        )))  # fmt: skip
    if not results:
        zero = f", ZeRO-{accel.zero_stage}" if accel.zero_stage is not None else ""
        offload = ", optimizer offloaded to CPU" if accel.offload_optimizer else ""
        results.append(ok(name, (
            f"{accel.path.name}: {accel.distributed_type}{zero}{offload}, "
            f"{accel.num_processes} process(es) on {accel.num_machines} machine(s)"
        )))  # fmt: skip
    return results
