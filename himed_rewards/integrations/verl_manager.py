"""verl reward managers that copy the training step into each sample's ``extra_info``.

verl 0.9's trainers score through reward-loop managers only
(``verl/experimental/reward_loop/reward_manager``, loaded by
``verl/trainer/ppo/reward.py:load_reward_manager`` inside each ``RewardLoopWorker`` Ray actor
with ``config=, tokenizer=, compute_score=`` and, with a reward model, the router address).
None passes the step to ``compute_score``. :class:`HimedRewardLoopManager` is verl's own
reward-loop ``NaiveRewardManager`` plus one step before verl's ``run_single`` scores the
sample: it copies the step into ``extra_info["global_step"]``, taken from

* the per-sample ``non_tensor_batch["global_steps"]``: verl's v1 trainer (0.9's default) adds
  ``global_steps`` to every prompt (``trainer/ppo/v1/trainer_base.py``) and the agent loop
  forwards every prompt field into the reward batch (``AgentLoopWorker._compute_score``); under
  the legacy trainer :class:`~himed_rewards.integrations.verl_agent_loop.HimedAgentLoopManager`
  adds the same column;
* else ``meta_info["global_steps"]`` when the caller kept it (the legacy trainer's colocated
  reward-model path, ``RewardLoopManager.compute_rm_score``, chunks the trainer batch).

verl is imported only when a class is first looked up (PEP 562 ``__getattr__``), so this
module imports without verl. Configuration (verl 0.9.x)::

    reward.reward_manager.source=importlib
    reward.reward_manager.module.path=pkg://himed_rewards.integrations.verl_manager
    reward.reward_manager.name=HimedRewardLoopManager      # HimedRewardManager: same class

verl 0.9's legacy keys ``reward_model.reward_loop_source/_module_path/_class_name`` do not
load it: ``main_ppo`` ignores them, and the fully-async entry point's
``migrate_legacy_reward_impl`` copies the class name to ``reward.reward_manager.module.name``,
which ``resolve_reward_manager_cls`` never reads. ``HimedClassicRewardManager`` wraps verl's
classic ``verl/workers/reward_manager/naive.py`` (``__call__(data, return_dict)``), which 0.9's
trainers no longer call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# The manager classes are built on first access (module __getattr__), hence the noqa.
__all__ = [  # noqa: F822
    "inject_global_step",
    "make_step_aware",
    "HimedRewardLoopManager",
    "HimedRewardManager",
    "HimedClassicRewardManager",
]

STEP_KEY = "global_steps"  # verl's name, in meta_info and (per sample) in non_tensor_batch
EXTRA_INFO_KEY = "global_step"  # what himed_rewards.integrations.verl.compute_score reads

# Lazily built classes: name -> (module of verl's base class, base class name).
_LAZY_BASES = {
    "HimedRewardLoopManager": (
        "verl.experimental.reward_loop.reward_manager.naive",
        "NaiveRewardManager",
    ),
    "HimedClassicRewardManager": ("verl.workers.reward_manager.naive", "NaiveRewardManager"),
}
# The name earlier docs showed; verl 0.9 only builds reward-loop managers.
_ALIASES = {"HimedRewardManager": "HimedRewardLoopManager"}
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
    non_tensor["extra_info"] = extra_info_with_steps(non_tensor.get("extra_info"), steps)
    return True


def extra_info_with_steps(extra_info: Any, steps: Sequence[Any]) -> np.ndarray:
    """Copies of the per-sample ``extra_info`` dicts (None: empty) with ``"global_step"`` set
    to ``steps[i]``, as an object array.

    The caller's dicts are never mutated: verl's ``repeat`` shares one dict between the G
    samples of a prompt. ``extra_info`` None means no sample has one.

    Examples:
        >>> shared = {"index": 3}
        >>> list(extra_info_with_steps(np.array([shared, shared, None]), [7, 7, 7]))
        [{'index': 3, 'global_step': 7}, {'index': 3, 'global_step': 7}, {'global_step': 7}]
        >>> shared
        {'index': 3}
        >>> extra_info_with_steps(np.array(["x"], dtype=object), [7])
        Traceback (most recent call last):
        ...
        TypeError: non_tensor_batch['extra_info'][0] must be a dict or None, got 'x' (str)
    """
    new = np.empty(len(steps), dtype=object)
    for i, step in enumerate(steps):
        info = extra_info[i] if extra_info is not None else None
        if info is not None and not isinstance(info, Mapping):
            raise TypeError(
                f"non_tensor_batch['extra_info'][{i}] must be a dict or None, got {info!r} "
                f"({type(info).__name__})"
            )
        new[i] = {**(info or {}), EXTRA_INFO_KEY: step}
    return new


def make_step_aware(base: type, name: str = "HimedRewardLoopManager") -> type:
    """Subclass a verl naive reward manager so it injects the step before scoring.

    A reward-loop manager (one with ``async run_single``) gets the injection there; a classic
    one (``__call__(data, return_dict=False)``) gets it in ``__call__``.

    Examples:
        >>> import asyncio
        >>> class Batch:
        ...     meta_info = {}
        ...     non_tensor_batch = {"global_steps": np.array([5000]), "extra_info": np.array([None])}
        ...     def __len__(self):
        ...         return 1
        >>> class Naive:  # verl's reward-loop manager: scores data[0] with its extra_info
        ...     async def run_single(self, data):
        ...         return data.non_tensor_batch["extra_info"][0]
        >>> info = asyncio.run(make_step_aware(Naive)().run_single(Batch()))
        >>> list(info), int(info["global_step"])
        (['global_step'], 5000)
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
    name = _ALIASES.get(name, name)
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
