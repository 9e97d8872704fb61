"""The preflight for a verl GRPO recipe (a Hydra YAML with ``actor_rollout_ref``).

verl splits each step's ``data.train_batch_size`` prompts x ``rollout.n`` completions into
mini-batches of ``actor.ppo_mini_batch_size`` prompts; each worker's share of one
mini-batch (``ppo_mini_batch_size * n / world``) must be a positive whole number divisible
by ``ppo_micro_batch_size_per_gpu``. Values that Hydra fills at launch (``${...}``) are
reported as not checkable. A launch script (``.sh``) is read as the Hydra overrides
(``key=value``) it passes, on top of the ``.yaml`` of the same name beside it if any.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from himed_train.preflight.packages import installed_version
from himed_train.preflight.probes import CudaInfo
from himed_train.preflight.results import CheckResult, fail, ok, warn

__all__ = ["is_verl_recipe", "hydra_overrides", "read_verl_script", "verl_checks"]

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


_OVERRIDE = re.compile(r"^\+{0,2}([A-Za-z_][\w.]*)=(.*)$")


def hydra_overrides(script: str) -> dict[str, Any]:
    """The nested mapping the ``key=value`` Hydra overrides of a launch script set.

    Examples:
        >>> script = "python3 -m verl.trainer.main_ppo data.train_batch_size=32 +trainer.nnodes=1"
        >>> hydra_overrides(script + " actor_rollout_ref.rollout.name='vllm'  # comment")
        {'data': {'train_batch_size': 32}, 'trainer': {'nnodes': 1},
         'actor_rollout_ref': {'rollout': {'name': 'vllm'}}}
    """
    nested: dict[str, Any] = {}
    text = script.replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split(" #", 1)[0]
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        for token in tokens:
            match = _OVERRIDE.match(token)
            if match is None:
                continue
            key, raw = match.groups()
            try:
                value = yaml.safe_load(raw) if raw else None
            except yaml.YAMLError:
                value = raw
            node = nested
            *parents, leaf = key.split(".")
            for part in parents:
                if not isinstance(node.get(part), dict):
                    node[part] = {}  # a later, deeper override wins over a scalar
                node = node[part]
            node[leaf] = value
    return nested


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_verl_script(path: str | Path) -> dict[str, Any]:
    """A verl recipe from a launch script: its ``.yaml`` sibling (if any) plus its overrides.

    Examples:
        >>> import tempfile
        >>> script = Path(tempfile.mkdtemp()) / "run.sh"
        >>> _ = script.write_text("python3 -m verl.trainer.main_ppo actor_rollout_ref.rollout.n=16")
        >>> read_verl_script(script)
        {'actor_rollout_ref': {'rollout': {'n': 16}}}
    """
    file = Path(path)
    base: dict[str, Any] = {}
    sibling = file.with_suffix(".yaml")
    if sibling.is_file():
        loaded = yaml.safe_load(sibling.read_text(encoding="utf-8"))
        base = loaded if isinstance(loaded, dict) else {}
    return _merge(base, hydra_overrides(file.read_text(encoding="utf-8")))


def _reward_function_row(raw: dict[str, Any]) -> CheckResult | None:
    fn = _get(raw, "reward.custom_reward_function") or _get(raw, "custom_reward_function")
    if not isinstance(fn, dict) or not fn.get("path"):
        return None
    where, name = str(fn["path"]), str(fn.get("name") or "compute_score")
    if where.startswith("pkg://"):
        module = where[len("pkg://"):]
        if importlib.util.find_spec(module) is None:
            return fail("reward/function", f"{where}: module {module!r} is not importable")
        if not callable(getattr(importlib.import_module(module), name, None)):
            return fail("reward/function", f"{where} has no function {name!r}")
        return ok("reward/function", f"{where}:{name}")
    if not Path(where).is_file():
        return fail("reward/function", f"custom_reward_function.path {where!r}: no such file")
    return ok("reward/function", f"{where}:{name}")


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

    reward_row = _reward_function_row(raw)
    if reward_row is not None:
        results.append(reward_row)

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
