"""verl reward managers that hand the training step to ``compute_score`` via ``extra_info``.

verl keeps the step in ``DataProto.meta_info["global_steps"]`` (set by
``verl/trainer/ppo/ray_trainer.py`` on every generation batch) and, in some pipelines, per
sample in ``non_tensor_batch["global_steps"]``; its reward managers never pass it to the
reward function (``verl/workers/reward_manager/naive.py``,
``verl/experimental/reward_loop/reward_manager/naive.py``; volcengine/verl b178a3c). The
subclasses here copy it into each sample's ``extra_info["global_step"]`` and then run verl's
own naive manager unchanged, so HiMed-RL's curriculum (alpha1/alpha2 over steps) follows
training.

verl is imported only when a class is first looked up (PEP 562 ``__getattr__``), so this
module imports without verl. Configuration::

    # classic reward managers (verl/trainer/ppo/reward.py:load_reward_manager)
    reward.reward_manager.source=importlib
    reward.reward_manager.module.path=pkg://himed_rewards.integrations.verl_manager
    reward.reward_manager.name=HimedRewardManager
    # reward loop (verl/experimental/reward_loop/reward_loop.py)
    reward_model.reward_loop_source=importlib
    reward_model.reward_loop_module_path=pkg://himed_rewards.integrations.verl_manager
    reward_model.reward_loop_class_name=HimedRewardLoopManager
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The two manager classes are built on first access (module __getattr__), hence the noqa.
__all__ = [  # noqa: F822
    "inject_global_step",
    "make_step_aware",
    "HimedRewardManager",
    "HimedRewardLoopManager",
]

STEP_KEY = "global_steps"  # verl's name, in meta_info and (per sample) in non_tensor_batch
EXTRA_INFO_KEY = "global_step"  # what himed_rewards.integrations.verl.compute_score reads

# Lazily built classes: name -> (module of verl's base class, base class name).
_LAZY_BASES = {
    "HimedRewardManager": ("verl.workers.reward_manager.naive", "NaiveRewardManager"),
    "HimedRewardLoopManager": (
        "verl.experimental.reward_loop.reward_manager.naive",
        "NaiveRewardManager",
    ),
}
_built: dict[str, type] = {}


def inject_global_step(data: Any) -> bool:
    """Copy the step of each sample of a verl ``DataProto`` into its ``extra_info``.

    The per-sample ``non_tensor_batch["global_steps"]`` wins over the batch-wide
    ``meta_info["global_steps"]``. Each ``extra_info`` is copied, never mutated, since verl
    may share one dict between samples. Returns False (and changes nothing) when no step is
    known.

    Examples:
        >>> class Batch:  # the three attributes of a DataProto this function touches
        ...     def __init__(self):
        ...         self.non_tensor_batch = {"extra_info": np.array([{"i": 0}, None], dtype=object)}
        ...         self.meta_info = {"global_steps": 7}
        ...     def __len__(self):
        ...         return 2
        >>> batch = Batch()
        >>> inject_global_step(batch)
        True
        >>> list(batch.non_tensor_batch["extra_info"])
        [{'i': 0, 'global_step': 7}, {'global_step': 7}]
    """
    n = len(data)
    non_tensor = data.non_tensor_batch
    if STEP_KEY in non_tensor:
        steps = list(non_tensor[STEP_KEY])
    elif STEP_KEY in (data.meta_info or {}):
        steps = [data.meta_info[STEP_KEY]] * n
    else:
        return False
    if len(steps) != n:
        raise ValueError(f"non_tensor_batch['{STEP_KEY}'] has {len(steps)} items for {n} samples")
    old = non_tensor.get("extra_info")
    new = np.empty(n, dtype=object)
    for i in range(n):
        info = old[i] if old is not None else None
        new[i] = {**(dict(info) if info else {}), EXTRA_INFO_KEY: steps[i]}
    non_tensor["extra_info"] = new
    return True


def make_step_aware(base: type, name: str = "HimedRewardManager") -> type:
    """Subclass a verl naive reward manager so it injects the step before scoring.

    A reward-loop manager (one with ``async run_single``) gets the injection there; a classic
    one (``__call__(data, return_dict=False)``) gets it in ``__call__``.
    """
    if hasattr(base, "run_single"):

        async def run_single(self: Any, data: Any) -> Any:
            inject_global_step(data)
            return await base.run_single(self, data)

        members: dict[str, Any] = {"run_single": run_single}
    else:

        def __call__(self: Any, data: Any, return_dict: bool = False) -> Any:
            inject_global_step(data)
            return base.__call__(self, data, return_dict)

        members = {"__call__": __call__}
    members["__module__"] = __name__
    members["__doc__"] = (
        f"verl's {base.__module__}.{base.__qualname__} that copies the training step into "
        f"extra_info['{EXTRA_INFO_KEY}'] before calling compute_score."
    )
    return type(name, (base,), members)


def __getattr__(name: str) -> type:
    if name not in _LAZY_BASES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _built:
        import importlib

        module_name, base_name = _LAZY_BASES[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ImportError(
                f"{name} subclasses verl's {module_name}.{base_name}; install verl to use it "
                f"({exc})"
            ) from exc
        _built[name] = make_step_aware(getattr(module, base_name), name)
    return _built[name]
