"""Run every preflight check on one config file; dispatch on its kind (himed_train or verl)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from himed_train.config import TrainConfig
from himed_train.preflight.accelerate_file import (
    accelerate_checks,
    read_accelerate_file,
    resolve_path,
)
from himed_train.preflight.data_reward import data_checks, reward_checks
from himed_train.preflight.endpoint import verifier_checks
from himed_train.preflight.memory import memory_checks
from himed_train.preflight.packages import installed_version, package_checks
from himed_train.preflight.placement import placement_checks
from himed_train.preflight.probes import CudaInfo, probe_cuda
from himed_train.preflight.results import CheckResult, fail
from himed_train.preflight.verl_recipe import is_verl_recipe, read_verl_script, verl_checks

__all__ = ["read_raw", "config_kind", "run_preflight", "preflight_config"]


def read_raw(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed YAML/JSON mapping of a config file (``ValueError`` when it is not one).

    Examples:
        >>> from importlib import resources
        >>> configs = Path(str(resources.files("himed_train").joinpath("configs")))
        >>> sorted(read_raw(configs / "grpo_qwen2_5_vl_3b.yaml"))
        ['data', 'grpo', 'launch', 'model', 'reward', 'sft']
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"config: no such file {str(file)!r}")
    if file.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ValueError(f"config must be a .yaml, .yml or .json file, got {str(file)!r}")
    text = file.read_text(encoding="utf-8")
    try:
        raw = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ValueError(f"{file}: not valid {file.suffix[1:].upper()}: {err}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{file}: the top level must be a mapping")
    return raw


def config_kind(raw: dict[str, Any]) -> str:
    """``"verl"`` for a verl recipe, else ``"himed"`` (a ``himed_train`` config).

    Examples:
        >>> config_kind({"actor_rollout_ref": {}}), config_kind({"data": {}, "grpo": {}})
        ('verl', 'himed')
    """
    return "verl" if is_verl_recipe(raw) else "himed"


def preflight_config(
    config: TrainConfig,
    *,
    base: Path = Path("."),
    probe: Callable[[], CudaInfo] = probe_cuda,
    accelerate_config: str | os.PathLike[str] | None = None,
    version_of: Callable[[str], str | None] = installed_version,
) -> list[CheckResult]:
    """Every check for a ``himed_train`` GRPO config; ``base`` resolves relative paths.

    ``probe`` reports the CUDA build and the visible GPUs (tests inject one); everything
    else is real: installed packages, files, the verifier endpoint, the reward.

    Examples:
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {}},
        ...                   reward={"judge": "none"}, grpo={"use_vllm": False})
        >>> results = preflight_config(cfg, probe=lambda: CudaInfo(None))
        >>> [r.detail for r in results if r.name == "gpus/visible"]
        ['no CUDA GPU visible here (the plan needs 8 on this node)']
    """
    cuda = probe()
    results: list[CheckResult] = []
    accel_path = accelerate_config or config.launch.accelerate_config
    accel = None
    if accel_path is not None:
        try:
            accel = read_accelerate_file(resolve_path(accel_path, base))
        except (OSError, ValueError) as err:
            results.append(fail("launch/accelerate", str(err)))
    results += package_checks(config, accel, cuda, version_of=version_of)
    if accel is not None or accel_path is None:
        results += accelerate_checks(config, accel)
    results += placement_checks(config, cuda)
    results += memory_checks(config, accel, cuda)
    results += verifier_checks(config.reward)
    data_rows, reference = data_checks(config)
    results += data_rows
    results += reward_checks(config, reference)
    return results


def run_preflight(
    path: str | os.PathLike[str],
    *,
    probe: Callable[[], CudaInfo] = probe_cuda,
    accelerate_config: str | os.PathLike[str] | None = None,
    version_of: Callable[[str], str | None] = installed_version,
) -> list[CheckResult]:
    """Check the plan in ``path`` (a ``himed_train`` config, a verl recipe YAML, or a verl
    launch script ``.sh`` read as its Hydra overrides).

    A file that does not validate raises ``ValueError`` with pydantic's message.

    Examples:
        >>> import tempfile
        >>> recipe = Path(tempfile.mkdtemp()) / "verl.yaml"
        >>> _ = recipe.write_text("actor_rollout_ref: {rollout: {n: 16}}")
        >>> [r.name for r in run_preflight(recipe, probe=lambda: CudaInfo(None))][-2:]
        ['plan/batch', 'plan/paper']
    """
    if Path(path).suffix == ".sh":  # a verl launch script: its Hydra overrides
        return verl_checks(read_verl_script(path), probe(), version_of=version_of)
    raw = read_raw(path)
    if config_kind(raw) == "verl":
        return verl_checks(raw, probe(), version_of=version_of)
    config = TrainConfig.model_validate(raw)
    return preflight_config(
        config, base=Path(path).parent, probe=probe,
        accelerate_config=accelerate_config, version_of=version_of,
    )  # fmt: skip
