"""Installed packages against the plan: torch's CUDA build, TRL, DeepSpeed, flash-attn, vLLM.

Versions come from package metadata, so nothing heavy (vLLM, DeepSpeed) is imported.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable

from himed_train.attention import FLASH_IMPLEMENTATIONS
from himed_train.config import TrainConfig
from himed_train.preflight.accelerate_file import AccelerateFile
from himed_train.preflight.probes import CudaInfo
from himed_train.preflight.results import CheckResult, fail, ok, skip, warn

__all__ = ["VLLM_SUPPORTED", "TRL_SERIES", "installed_version", "base_version", "package_checks"]

#: The vLLM range TRL 1.16 supports (``trl/import_utils.py``, ``is_vllm_available``: it
#: compares the base version, so ``0.24.0+cu129`` counts as 0.24.0). Outside it TRL only
#: warns, then fails deep inside weight syncing; the preflight refuses instead.
VLLM_SUPPORTED = ("0.22.0", "0.31.0")
#: The TRL series himed_train is written against (the ``train`` extra pins ``trl==1.16.*``).
TRL_SERIES = "1.16"

_INSTALL_GPU = "pip install 'himed-rewards[gpu]'"


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None.

    Examples:
        >>> installed_version("no-such-distribution-himed") is None
        True
    """
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def base_version(version: str) -> tuple[int, ...]:
    """The release numbers of a version, local and pre-release parts dropped.

    Examples:
        >>> base_version("0.24.0+cu129"), base_version("2.13.0+cpu"), base_version("0.31.0rc1")
        ((0, 24, 0), (2, 13, 0), (0, 31, 0))
    """
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    if match is None:
        raise ValueError(f"not a version: {version!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def _pad(v: tuple[int, ...]) -> tuple[int, ...]:
    return v + (0,) * (3 - len(v))


def package_checks(
    config: TrainConfig,
    accel: AccelerateFile | None,
    cuda: CudaInfo,
    *,
    version_of: Callable[[str], str | None] = installed_version,
) -> list[CheckResult]:
    """One row per package the plan needs (``skip`` for those it does not).

    Examples:
        >>> from himed_train.preflight.probes import CudaInfo
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {}})
        >>> rows = package_checks(cfg, None, CudaInfo("12.8"),
        ...                       version_of={"vllm": "0.33.0"}.get)
        >>> [(r.name, r.status) for r in rows if r.name in ("packages/trl", "packages/vllm")]
        [('packages/trl', 'FAIL'), ('packages/vllm', 'FAIL')]
    """
    results: list[CheckResult] = []
    torch = version_of("torch")
    if torch is None:
        results.append(fail("packages/torch", "not installed: pip install 'himed-rewards[train]'"))
    elif cuda.torch_cuda is None:
        results.append(fail("packages/torch", (
            f"torch {torch} is a CPU build (torch.version.cuda is None): install a CUDA build"
        )))  # fmt: skip
    else:
        results.append(ok("packages/torch", f"torch {torch}, CUDA {cuda.torch_cuda}"))

    for dist in ("transformers", "accelerate"):
        found = version_of(dist)
        results.append(
            ok(f"packages/{dist}", found)
            if found
            else fail(f"packages/{dist}", "not installed: pip install 'himed-rewards[train]'")
        )

    trl = version_of("trl")
    if trl is None:
        results.append(fail("packages/trl", "not installed: pip install 'himed-rewards[train]'"))
    elif base_version(trl)[:2] != base_version(TRL_SERIES):
        results.append(fail("packages/trl", f"trl {trl}; himed_train needs trl=={TRL_SERIES}.*"))
    else:
        results.append(ok("packages/trl", trl))

    needs_deepspeed = accel is not None and accel.deepspeed
    deepspeed = version_of("deepspeed")
    if not needs_deepspeed:
        results.append(skip("packages/deepspeed", "the accelerate config does not use DeepSpeed"))
    elif deepspeed is None:
        results.append(fail("packages/deepspeed", (
            f"{accel.path.name} launches DeepSpeed but it is not installed: {_INSTALL_GPU}"
        )))  # fmt: skip
    else:
        results.append(ok("packages/deepspeed", deepspeed))

    attn = config.model.attn_implementation
    flash = version_of("flash-attn") or version_of("flash_attn")
    if attn not in FLASH_IMPLEMENTATIONS:
        results.append(skip("packages/flash-attn", f"model.attn_implementation is {attn!r}"))
    elif flash is None:
        results.append(warn("packages/flash-attn", (
            f"{attn} requested, flash-attn not installed: the policy loads with sdpa "
            "(pip install 'himed-rewards[flash]' for flash-attn)"
        )))  # fmt: skip
    else:
        results.append(ok("packages/flash-attn", flash))

    results.append(_vllm_check(config, version_of("vllm")))
    return results


def _vllm_check(config: TrainConfig, vllm: str | None) -> CheckResult:
    name = "packages/vllm"
    low, high = VLLM_SUPPORTED
    if not config.grpo.use_vllm:
        return skip(name, "grpo.use_vllm is false: generation runs in transformers")
    if vllm is None:
        return fail(name, (
            f"grpo.use_vllm is true ({config.grpo.vllm_mode} mode) but vLLM is not installed: "
            f"{_INSTALL_GPU} (vLLM {low} to {high})"
        ))  # fmt: skip
    if not _pad(base_version(low)) <= _pad(base_version(vllm)) <= _pad(base_version(high)):
        return fail(name, (
            f"vllm {vllm} is outside the range TRL 1.16 supports ({low} to {high}): "
            f"pip install 'vllm>={low},<={high}'"
        ))  # fmt: skip
    return ok(name, f"{vllm} (TRL 1.16 supports {low} to {high})")
