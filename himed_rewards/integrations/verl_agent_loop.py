"""verl agent-loop manager for verl's legacy trainer: carries the step to the reward, logs it.

Only for ``trainer.use_v1=false`` (``verl/trainer/main_ppo_v0.py``, ``RayPPOTrainer``): verl
0.9's default v1 trainer already sends ``global_steps`` with every prompt, read by
:class:`~himed_rewards.integrations.verl_manager.HimedRewardLoopManager`, and needs its own
TransferQueue agent-loop manager, so this class refuses to start under it.

Why it is needed (verl 0.9.1, read from the published wheel): ``RayPPOTrainer.fit`` puts the
step in ``gen_batch.meta_info["global_steps"]`` and calls
``AgentLoopManager.generate_sequences``; each ``AgentLoopWorker`` passes every sample's
``non_tensor_batch`` fields as keyword arguments to the agent loop and, in
``AgentLoopWorker._compute_score``, builds the per-sample reward batch from those keywords
*without* ``meta_info``. So ``meta_info`` never reaches the ``RewardLoopWorker`` actor that
calls ``compute_score``, and verl's trainer logs no ``reward_extra_info`` in its training
metrics (only ``val-aux/...`` after validation, and rollout dumps).

:class:`HimedAgentLoopManager` is verl's own ``AgentLoopManager`` with one change around
``generate_sequences`` (verl's hook for this class:
``actor_rollout_ref.rollout.agent.agent_loop_manager_class``, a fully qualified name):

* before: :func:`stamp_global_step` copies ``meta_info["global_steps"]`` into a per-sample
  ``non_tensor_batch["global_steps"]`` column (verl does the same with its ``priority``
  column) and, when rewards stream from the agent loop (verl's default, no colocated reward
  model), into a copy of each sample's ``extra_info["global_step"]``, which verl's own
  ``naive`` reward manager hands to ``compute_score``. When ``$HIMED_REWARDS_STEP_FILE`` is
  set it also publishes the step there (:func:`himed_rewards.integrations.step.publish_step`)
  for reward code that reads neither.
* after: :func:`reward_metrics` averages every numeric ``reward_extra_info`` column of the
  rollout (``alpha1``, ``alpha2``, ``token``, ``concept``, ``semantic``...) into the output's
  ``meta_info["timing"]``, the one dict of the rollout that the trainer logs each step:
  they appear as ``timing_s/himed_reward/<key>/mean``.

verl is imported only when the class is first looked up (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np

from himed_rewards.integrations.step import STEP_FILE_ENV, coerce_step, publish_step
from himed_rewards.integrations.verl_manager import STEP_KEY, extra_info_with_steps

__all__ = [  # noqa: F822 (the class is built on first access)
    "stamp_global_step",
    "reward_metrics",
    "make_agent_loop_manager",
    "HimedAgentLoopManager",
    "METRIC_PREFIX",
]

METRIC_PREFIX = "himed_reward/"
_built: dict[str, type] = {}


def stamp_global_step(batch: Any, *, into_extra_info: bool = True) -> int | None:
    """Copy ``batch.meta_info["global_steps"]`` into per-sample columns; return the step.

    Adds ``non_tensor_batch["global_steps"]`` (int64, one per sample) and, with
    ``into_extra_info``, replaces ``non_tensor_batch["extra_info"]`` by copies of its dicts
    with ``"global_step"`` added (the caller's dicts are never mutated: verl's ``repeat``
    shares one dict between the G samples of a prompt). Returns None and changes nothing
    when ``meta_info`` has no step.

    Examples:
        >>> class Batch:  # the attributes of a verl DataProto this function touches
        ...     meta_info = {"global_steps": 12}
        ...     non_tensor_batch = {"extra_info": np.array([{"index": 3}, None], dtype=object)}
        ...     def __len__(self):
        ...         return 2
        >>> batch = Batch()
        >>> stamp_global_step(batch)
        12
        >>> batch.non_tensor_batch["global_steps"].tolist(), list(batch.non_tensor_batch["extra_info"])
        ([12, 12], [{'index': 3, 'global_step': 12}, {'global_step': 12}])
    """
    raw = (batch.meta_info or {}).get(STEP_KEY)
    if raw is None:
        return None
    step = coerce_step(raw, name=f"meta_info['{STEP_KEY}']")
    n = len(batch)
    non_tensor = batch.non_tensor_batch
    non_tensor[STEP_KEY] = np.full(n, step, dtype=np.int64)
    if into_extra_info:
        non_tensor["extra_info"] = extra_info_with_steps(non_tensor.get("extra_info"), [step] * n)
    if os.environ.get(STEP_FILE_ENV, "").strip():
        publish_step(step)
    return step


def reward_metrics(output: Any) -> dict[str, float]:
    """Means of the numeric ``reward_extra_info`` columns of a rollout output.

    The columns are those verl names in ``output.meta_info["reward_extra_keys"]`` (set when
    the agent loop computed the rewards); non-numeric columns are skipped. Keys are
    ``himed_reward/<column>/mean``.

    Examples:
        >>> class Output:
        ...     meta_info = {"reward_extra_keys": ["alpha1", "semantic_error"]}
        ...     non_tensor_batch = {"alpha1": np.array([0.5, 0.5]),
        ...                         "semantic_error": np.array(["", ""], dtype=object)}
        >>> reward_metrics(Output())
        {'himed_reward/alpha1/mean': 0.5}
    """
    out: dict[str, float] = {}
    for key in (output.meta_info or {}).get("reward_extra_keys", []):
        values = output.non_tensor_batch.get(key)
        if values is None or len(values) == 0:
            continue
        try:
            column = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if column.ndim == 1 and np.isfinite(column).all():
            out[f"{METRIC_PREFIX}{key}/mean"] = float(column.mean())
    return out


def _streams_rewards(manager: Any) -> bool:
    # verl 0.9: reward_loop_worker_handles is set when the agent loop scores each sample
    # itself; then the rollout output does not carry the input columns back, so a changed
    # extra_info cannot clash with the trainer's copy in DataProto.union.
    return getattr(manager, "reward_loop_worker_handles", None) is not None


def _refuse_v1_trainer(config: Any) -> None:
    # verl 0.9's default trainer (trainer.use_v1=true) needs its TransferQueue manager
    # (AgentLoopManagerTQ) and already hands global_steps to the reward worker.
    trainer = config.get("trainer", {}) if hasattr(config, "get") else {}
    if trainer.get("use_v1", False):
        raise ValueError(
            "HimedAgentLoopManager is for verl's legacy trainer (trainer.use_v1=false). "
            "verl's v1 trainer already hands global_steps to the reward worker: drop "
            "actor_rollout_ref.rollout.agent.agent_loop_manager_class and set "
            "reward.reward_manager.source=importlib, reward.reward_manager.module.path="
            "pkg://himed_rewards.integrations.verl_manager, "
            "reward.reward_manager.name=HimedRewardLoopManager"
        )


def _after(output: Any) -> Any:
    metrics = reward_metrics(output)
    if metrics:
        output.meta_info.setdefault("timing", {}).update(metrics)
    return output


def make_agent_loop_manager(base: type, name: str = "HimedAgentLoopManager") -> type:
    """Subclass verl's ``AgentLoopManager`` so ``generate_sequences`` stamps the step first
    and adds the reward means to the output's timing dict after.

    verl 0.9 declares ``generate_sequences`` ``async`` under ``verl.utils.ray_utils.auto_await``
    (awaited inside a loop, run to completion when called plainly); the subclass keeps that
    calling convention. A plain (synchronous) base stays synchronous:

    Examples:
        >>> class Batch:
        ...     meta_info = {"global_steps": 3}
        ...     non_tensor_batch = {}
        ...     def __len__(self):
        ...         return 2
        >>> class Manager:  # the members of verl's AgentLoopManager that the subclass wraps
        ...     reward_loop_worker_handles = None
        ...     def __init__(self, config):
        ...         self.config = config
        ...     def generate_sequences(self, prompts):
        ...         return prompts
        >>> Himed = make_agent_loop_manager(Manager, "Himed")
        >>> Himed({"trainer": {"use_v1": False}}).generate_sequences(Batch()).non_tensor_batch
        {'global_steps': array([3, 3])}
        >>> Himed({"trainer": {"use_v1": True}})
        Traceback (most recent call last):
        ...
        ValueError: HimedAgentLoopManager is for verl's legacy trainer (trainer.use_v1=false)...
    """
    original = base.generate_sequences
    if inspect.iscoroutinefunction(inspect.unwrap(original)):
        from verl.utils.ray_utils import auto_await

        @auto_await
        async def generate_sequences(self: Any, prompts: Any) -> Any:
            stamp_global_step(prompts, into_extra_info=_streams_rewards(self))
            output = original(self, prompts)
            if inspect.isawaitable(output):
                output = await output
            return _after(output)

    else:

        def generate_sequences(self: Any, prompts: Any) -> Any:  # type: ignore[misc]
            stamp_global_step(prompts, into_extra_info=_streams_rewards(self))
            return _after(original(self, prompts))

    def __init__(self: Any, config: Any, *args: Any, **kwargs: Any) -> None:
        _refuse_v1_trainer(config)
        base.__init__(self, config, *args, **kwargs)

    generate_sequences.__doc__ = original.__doc__
    members = {
        "__init__": __init__,
        "generate_sequences": generate_sequences,
        "__module__": __name__,
        "__doc__": (
            f"verl's {base.__module__}.{base.__qualname__} that hands the trainer step to the "
            "reward (non_tensor_batch['global_steps'], extra_info['global_step']) and logs the "
            "means of the reward's extra info."
        ),
    }
    return type(name, (base,), members)


def __getattr__(name: str) -> type:
    if name != "HimedAgentLoopManager":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _built:
        try:
            from verl.experimental.agent_loop import AgentLoopManager
        except ImportError as exc:
            raise ImportError(
                f"{name} subclasses verl's verl.experimental.agent_loop.AgentLoopManager; "
                f"install verl (0.9.x) to use it ({exc})"
            ) from exc
        _built[name] = make_agent_loop_manager(AgentLoopManager, name)
    return _built[name]
