"""The preflight for a verl GRPO recipe (a Hydra YAML with ``actor_rollout_ref``).

verl splits each step's ``data.train_batch_size`` prompts x ``rollout.n`` completions into
mini-batches of ``actor.ppo_mini_batch_size`` prompts; each worker's share of one
mini-batch (``ppo_mini_batch_size * n / world``) must be a positive whole number divisible
by ``ppo_micro_batch_size_per_gpu``. Values that Hydra fills at launch (``${...}``) are
reported as not checkable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from himed_train.preflight.packages import installed_version
from himed_train.preflight.probes import CudaInfo
from himed_train.preflight.results import CheckResult, fail, ok, warn

__all__ = ["is_verl_recipe", "verl_checks"]

#: The paper's GRPO values, as verl names them.
PAPER = {
    "data.train_batch_size": 32,
    "actor_rollout_ref.rollout.n": 16,
    "actor_rollout_ref.actor.optim.lr": 1e-6,
    "actor_rollout_ref.actor.clip_ratio": 0.2,
    "actor_rollout_ref.actor.kl_loss_coef": 0.1,
}


def is_verl_recipe(raw: dict[str, Any]) -> bool:
    """Whether a parsed YAML is a verl recipe rather than a ``himed_train`` config.

    Examples:
        >>> is_verl_recipe({"actor_rollout_ref": {}, "trainer": {}}), is_verl_recipe({"grpo": {}})
        (True, False)
    """
    return "actor_rollout_ref" in raw


def _get(raw: dict[str, Any], dotted: str) -> Any:
    node: Any = raw
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _int(raw: dict[str, Any], dotted: str) -> int | None:
    value = _get(raw, dotted)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def verl_checks(
    raw: dict[str, Any],
    cuda: CudaInfo,
    *,
    version_of: Callable[[str], str | None] = installed_version,
) -> list[CheckResult]:
    """Packages, batch arithmetic, the paper's values and the GPUs for a verl recipe."""
    results: list[CheckResult] = []
    for dist in ("verl", "ray"):
        found = version_of(dist)
        results.append(ok(f"packages/{dist}", found) if found
                       else fail(f"packages/{dist}", f"not installed: pip install {dist}"))  # fmt: skip
    if _get(raw, "actor_rollout_ref.rollout.name") == "vllm":
        found = version_of("vllm")
        results.append(ok("packages/vllm", found) if found
                       else fail("packages/vllm", "rollout.name is vllm but vLLM is not installed"))  # fmt: skip

    keys = {
        "prompts": "data.train_batch_size",
        "n": "actor_rollout_ref.rollout.n",
        "mini": "actor_rollout_ref.actor.ppo_mini_batch_size",
        "micro": "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu",
        "gpus": "trainer.n_gpus_per_node",
        "nodes": "trainer.nnodes",
    }
    values = {k: _int(raw, v) for k, v in keys.items()}
    missing = [keys[k] for k, v in values.items() if v is None]
    if missing:
        results.append(warn("plan/batch", f"not checkable (absent or filled at launch): {missing}"))
    else:
        results.append(_batch_row(**values))  # type: ignore[arg-type]

    off = [f"{k}={_get(raw, k)!r} (paper {v})" for k, v in PAPER.items() if _get(raw, k) != v]
    results.append(warn("plan/paper", "; ".join(off)) if off
                   else ok("plan/paper", "32 prompts x 16, lr 1e-6, clip 0.2, KL 0.1"))  # fmt: skip

    need = values["gpus"]
    if need is not None:
        if cuda.gpu_count < need:
            results.append(fail("gpus/visible", (
                f"{cuda.gpu_count} GPU(s) visible, trainer.n_gpus_per_node is {need}"
            )))  # fmt: skip
        else:
            results.append(ok("gpus/visible", f"{cuda.gpu_count} GPU(s) visible"))
    return results


def _batch_row(prompts: int, n: int, mini: int, micro: int, gpus: int, nodes: int) -> CheckResult:
    world = gpus * nodes
    if prompts % mini:
        return fail("plan/batch", (
            f"data.train_batch_size {prompts} is not a multiple of ppo_mini_batch_size {mini}"
        ))  # fmt: skip
    if (mini * n) % world or (mini * n) // world == 0:
        return fail("plan/batch", (
            f"ppo_mini_batch_size {mini} x rollout.n {n} = {mini * n} completions do not split "
            f"over {world} GPUs"
        ))  # fmt: skip
    per_gpu = mini * n // world
    if per_gpu % micro:
        return fail("plan/batch", (
            f"{per_gpu} completions per GPU per mini-batch is not a multiple of "
            f"ppo_micro_batch_size_per_gpu {micro}"
        ))  # fmt: skip
    return ok("plan/batch", (
        f"{prompts} prompts x {n} = {prompts * n} completions per step; mini-batches of {mini} "
        f"prompts = {per_gpu} per GPU x {world} GPUs, micro-batch {micro}"
    ))  # fmt: skip
