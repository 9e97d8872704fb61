"""The GRPO batch arithmetic: one optimizer step must hold ``prompts_per_step`` whole groups.

One step sees ``prompts_per_step * num_generations`` completions, split over ``world_size``
training processes x ``per_device_train_batch_size`` x gradient accumulation. TRL 1.16's
``GRPOConfig.__post_init__`` adds its own rules on the generation batch (which defaults to
``per_device_train_batch_size * world_size * gradient_accumulation_steps``): it must divide
by ``num_generations``; an explicit ``generation_batch_size`` must divide by the global batch
``per_device_train_batch_size * world_size``; ``generation_batch_size`` and
``steps_per_generation`` are mutually exclusive; with evaluation on, the global eval batch
must divide by the evaluation group size; ``auto_find_batch_size`` is refused.
:func:`batch_problems` reproduces them for any world size, so a plan for 8 GPUs is
checked on a laptop. No torch or TRL here.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from typing import Literal

from himed_train.config import GRPOSection

__all__ = ["batch_problems", "divisor_hint", "world_size_from_env", "reconcile_world_size"]

log = logging.getLogger("himed_train")


def divisor_hint(completions: int, per_device: int) -> str:
    """Which process counts can split ``completions`` with ``per_device`` per process.

    Examples:
        >>> divisor_hint(512, 8)
        'process counts that divide 64 (512 / 8): 1, 2, 4, 8, 16, 32, 64'
    """
    if completions % per_device:
        return f"{per_device} per device does not divide {completions} completions"
    quota = completions // per_device
    counts = [n for n in range(1, quota + 1) if quota % n == 0]
    return f"process counts that divide {quota} ({completions} / {per_device}): " + ", ".join(
        str(n) for n in counts
    )


def batch_problems(section: GRPOSection, world_size: int) -> list[str]:
    """Every reason the section's batch cannot run on ``world_size`` training processes
    (empty when it can). Messages name the numbers involved and what would fit.

    Examples:
        >>> batch_problems(GRPOSection(), 8)
        []
        >>> print(batch_problems(GRPOSection(), 6)[0])  # doctest: +ELLIPSIS
        grpo: 32 prompts x 16 generations = 512 completions per step cannot be split over 6
        training processes x 8 per device (48 per micro-step): 512 has no factor 3; ...
    """
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive int, got {world_size!r}")
    problems: list[str] = []
    completions = section.prompts_per_step * section.num_generations
    per_device = section.per_device_train_batch_size
    global_batch = per_device * world_size
    if completions % global_batch:
        missing = global_batch // math.gcd(completions, global_batch)
        problems.append(
            f"grpo: {section.prompts_per_step} prompts x {section.num_generations} generations "
            f"= {completions} completions per step cannot be split over {world_size} training "
            f"processes x {per_device} per device ({global_batch} per micro-step): "
            f"{completions} has no factor {missing}; {divisor_hint(completions, per_device)}"
        )
        return problems
    accumulation = completions // global_batch
    extra = section.extra
    generation_batch = extra.get("generation_batch_size")
    steps_per_generation = extra.get("steps_per_generation")
    if generation_batch is not None and steps_per_generation is not None:
        problems.append(
            "grpo.extra: generation_batch_size and steps_per_generation cannot both be set "
            "(TRL 1.16 GRPOConfig)"
        )
    elif generation_batch is not None:
        if generation_batch % global_batch:
            problems.append(
                f"grpo.extra.generation_batch_size ({generation_batch}) must be divisible by the "
                f"global batch per_device_train_batch_size x processes ({global_batch}) "
                "(TRL 1.16 GRPOConfig)"
            )
    else:
        steps = accumulation if steps_per_generation is None else steps_per_generation
        generation_batch = global_batch * steps
    if generation_batch is not None and generation_batch % section.num_generations:
        problems.append(
            f"TRL 1.16: generation_batch_size ({generation_batch}) must be divisible by "
            f"num_generations ({section.num_generations}): every group must be whole"
        )
    if extra.get("auto_find_batch_size"):
        problems.append("grpo.extra.auto_find_batch_size: TRL 1.16 GRPO refuses it")
    if extra.get("eval_strategy", "no") != "no":
        eval_group = extra.get("num_generations_eval") or section.num_generations
        eval_batch = extra.get("per_device_eval_batch_size", 8) * world_size
        if eval_batch % eval_group:
            problems.append(
                f"TRL 1.16: the global eval batch ({eval_batch}) must be divisible by the "
                f"evaluation group size ({eval_group})"
            )
    return problems


def world_size_from_env() -> int:
    """The number of training processes the launcher started (``WORLD_SIZE``, set by
    ``accelerate launch`` and ``torchrun``; 1 for a plain ``python`` run).

    Examples:
        >>> isinstance(world_size_from_env(), int)
        True
    """
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be an integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"WORLD_SIZE must be >= 1, got {value}")
    return value


def reconcile_world_size(
    section: GRPOSection, world_size: int, policy: Literal["adjust", "error"] = "adjust"
) -> GRPOSection:
    """The section to train with on ``world_size`` processes, refusing loudly when one
    optimizer step could no longer hold ``prompts_per_step`` prompts.

    With ``policy="adjust"`` a different world size changes ``num_processes`` (and so the
    gradient accumulation) with a warning; with ``"error"`` any difference is refused.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     four = reconcile_world_size(GRPOSection(), 4)
        >>> four.num_processes, four.gradient_accumulation_steps
        (4, 16)
        >>> reconcile_world_size(GRPOSection(), 8) == GRPOSection()
        True
    """
    if policy not in ("adjust", "error"):
        raise ValueError(f"policy must be 'adjust' or 'error', got {policy!r}")
    problems = batch_problems(section, world_size)
    if world_size == section.num_processes:
        if problems:
            raise ValueError("; ".join(problems))
        return section
    planned = (
        f"the launcher started {world_size} training process(es) but grpo.num_processes is "
        f"{section.num_processes}"
    )
    if policy == "error":
        raise ValueError(
            f"{planned} (launch.world_size_mismatch: error); fix the accelerate "
            "--num_processes or grpo.num_processes"
        )
    if problems:
        raise ValueError(f"{planned}, and the batch does not fit: " + "; ".join(problems))
    adjusted = section.model_copy(update={"num_processes": world_size})
    message = (
        f"{planned}: gradient_accumulation_steps {section.gradient_accumulation_steps} -> "
        f"{adjusted.gradient_accumulation_steps}, so one step still holds "
        f"{section.prompts_per_step} prompts x {section.num_generations} generations"
    )
    log.warning(message)
    warnings.warn(message, stacklevel=2)
    return adjusted
