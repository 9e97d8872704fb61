"""What every framework adapter shares: config and step resolution, and flattening a breakdown.

The adapters are thin: each turns a framework's call convention into one call of the public
``himed_rewards.score_batch`` / ``ascore_batch`` and turns the breakdowns back into the
framework's return shape. They never score anything themselves.

Frameworks call a module-level function without our config, so the config comes from, in
order: an explicit ``config=`` keyword (a ``RewardConfig`` or a YAML/JSON path; verl's
``reward_kwargs`` and EasyR1's ``reward_function_kwargs`` can pass it), then the
``HIMED_REWARDS_CONFIG`` environment variable (a path), then the library defaults.

A reward that is ``None`` (the semantic judge failed and the failure policy is ``"skip"``)
cannot be handed to a trainer that needs one number per sample, and inventing 0 or NaN would
corrupt advantages silently. What happens instead is the explicit ``missing`` policy
(keyword ``missing=``, else ``$HIMED_REWARDS_MISSING``, else ``"impute"``):

* ``"impute"`` (default): the sample's semantic score is the mean semantic score of the other
  samples *with the same reference* in the same call (its GRPO group: it then adds no semantic
  advantage inside the group); if none of those has a verdict, the mean of every sample of the
  call that has one; if no sample of the call has a verdict, the sample's total is its
  low-level reward (``alpha1 = 1``): with a constant semantic score for the whole group, a
  group-normalised advantage depends on the low-level reward only, so this is the simplest
  value that changes no advantage. Every imputed sample is flagged (``semantic_imputed = 1``
  in the adapters' per-sample logs) and logged with its ``semantic_error`` (logger
  ``himed_rewards.integrations``, WARNING).
* ``"raise"``: :class:`MissingRewardError` (the behaviour before the policy existed).
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import himed_rewards as hr
from himed_rewards.integrations.step import resolve_training_step
from himed_rewards.rewards.config import PRESETS

if TYPE_CHECKING:
    from himed_rewards import RewardBreakdown, RewardConfig

__all__ = [
    "CONFIG_ENV",
    "STEP_ENV",
    "MISSING_ENV",
    "MISSING_POLICIES",
    "MissingRewardError",
    "ResolvedReward",
    "resolve_missing",
    "resolve_rewards",
    "resolve_config",
    "resolve_step",
    "numeric_components",
    "require_total",
    "score_pairs",
    "check_texts",
    "require_text",
    "require_mapping",
    "LEVEL_KEYS",
    "level_means",
    "batch_training_step",
    "SEMANTIC_KEYS",
]

CONFIG_ENV = "HIMED_REWARDS_CONFIG"
STEP_ENV = "HIMED_REWARDS_STEP"
MISSING_ENV = "HIMED_REWARDS_MISSING"
MISSING_POLICIES: tuple[str, ...] = ("impute", "raise")

_log = logging.getLogger("himed_rewards.integrations")
# The semantic level and its three axes, as RewardBreakdown names them.
SEMANTIC_KEYS = ("semantic", "semantic_accuracy", "semantic_relevance", "semantic_completeness")


class MissingRewardError(RuntimeError):
    """A sample has no total reward (judge failed, policy "skip") but the trainer needs one."""


@lru_cache(maxsize=16)
def _load_config(path: str, mtime_ns: int) -> RewardConfig:
    # mtime is part of the key so an edited file is re-read, an unchanged one is not.
    del mtime_ns
    return hr.RewardConfig.from_file(path)


@lru_cache(maxsize=8)
def _preset_config(name: str) -> RewardConfig:
    # Built once per process: a config owns its semantic scorer, which is not free to build.
    return hr.RewardConfig.from_preset(name)


def resolve_config(config: Any = None) -> RewardConfig | None:
    """Turn ``config`` into a RewardConfig, or None for the defaults.

    ``config`` is a RewardConfig, a preset name (``"paper"``, ``"hardened"``), a path to a
    YAML/JSON RewardConfig, or None: then ``$HIMED_REWARDS_CONFIG`` (a preset name or a path),
    else the defaults. A preset name wins over a file of the same name only when no such
    file exists.

    Examples:
        >>> resolve_config(None) is None or isinstance(resolve_config(None), hr.RewardConfig)
        True
        >>> resolve_config("hardened").format_require_reasoning
        True
        >>> resolve_config(3)
        Traceback (most recent call last):
        ...
        TypeError: config must be a RewardConfig, a preset name, a path to a YAML/JSON file, or None; got 3 (int)
    """
    if config is None:
        env_path = os.environ.get(CONFIG_ENV)
        if not env_path:
            return None
        config = env_path
    if isinstance(config, hr.RewardConfig):
        return config
    if isinstance(config, str | Path):
        path = Path(config)
        if not path.is_file():
            if isinstance(config, str) and config.strip() in PRESETS:
                return _preset_config(config.strip())
            raise ValueError(
                f"config {str(path)!r} is not a file, nor a preset name "
                f"({', '.join(sorted(PRESETS))}); pass a preset name or a YAML or JSON "
                "RewardConfig"
            )
        return _load_config(str(path.resolve()), path.stat().st_mtime_ns)
    raise TypeError(
        "config must be a RewardConfig, a preset name, a path to a YAML/JSON file, or None; "
        f"got {config!r} ({type(config).__name__})"
    )


def resolve_step(step: Any = None, *, name: str = "step") -> int:
    """Turn a framework's step into a non-negative int; None: ``$HIMED_REWARDS_STEP``, else 0.

    numpy integers (what verl's object arrays hold) are accepted; bools and floats are not.

    Examples:
        >>> resolve_step(12)
        12
        >>> resolve_step(-1, name="extra_info['global_step']")
        Traceback (most recent call last):
        ...
        ValueError: extra_info['global_step'] must be a non-negative integer, got -1
    """
    if step is None:
        env_step = os.environ.get(STEP_ENV)
        if env_step is None or env_step == "":
            return 0
        step = env_step.strip()
        if not step.isdigit():
            raise ValueError(f"${STEP_ENV} must be a non-negative integer, got {env_step!r}")
        return int(step)
    if isinstance(step, bool):
        raise TypeError(f"{name} must be a non-negative integer, got {step!r} (bool)")
    try:
        value = operator.index(step)
    except TypeError:
        raise TypeError(
            f"{name} must be a non-negative integer, got {step!r} ({type(step).__name__})"
        ) from None
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return value


def batch_training_step(
    sample_steps: Iterable[int],
    n_samples: int,
    fallback: Callable[[], Any] | None = None,
    *,
    framework: str,
    batch: str,
    name: str,
    how_to_fix: str,
) -> int:
    """The one training step of a batch whose samples may each carry it.

    Samples that carry different steps are refused (ValueError naming ``batch``) rather than
    scored with the wrong curriculum weight. When none carries one: ``fallback()`` (the
    framework's other source, None when it has nothing), then the order of
    :func:`~himed_rewards.integrations.step.resolve_training_step` for ``n_samples`` samples,
    which names the step ``name`` in errors and says ``how_to_fix`` when it finds none.

    Examples:
        >>> batch_training_step([5000, 5000], 2, framework="slime", batch="one slime call",
        ...                     name="rollout_id", how_to_fix="")
        5000
        >>> batch_training_step([], 2, lambda: 12, framework="slime", batch="one slime call",
        ...                     name="rollout_id", how_to_fix="")
        12
        >>> batch_training_step([1, 2], 2, framework="easyr1", batch="one EasyR1 batch",
        ...                     name="step", how_to_fix="")
        Traceback (most recent call last):
        ...
        ValueError: one EasyR1 batch must share one global_step, got [1, 2]
    """
    steps = set(sample_steps)
    if len(steps) > 1:
        raise ValueError(f"{batch} must share one global_step, got {sorted(steps)}")
    framework_step = steps.pop() if steps else (fallback() if fallback is not None else None)
    return resolve_training_step(
        framework_step, framework=framework, n_samples=n_samples, name=name, how_to_fix=how_to_fix
    ).step


def numeric_components(breakdown: RewardBreakdown) -> dict[str, float]:
    """Every numeric component of a breakdown (no ``total``), for trainers that log floats.

    Strings (``semantic_error``) and components that are absent (``None``: no semantic judge)
    are left out; the matched keywords become their count, ``n_matched_keywords``.
    """
    out: dict[str, float] = {}
    for key, value in breakdown.to_dict().items():
        if key == "total":
            continue
        if key == "matched_keywords":
            out["n_matched_keywords"] = float(len(value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def require_total(breakdown: RewardBreakdown, index: int) -> float:
    """The breakdown's total, or :class:`MissingRewardError` saying why there is none."""
    if breakdown.total is None:
        raise MissingRewardError(
            f"sample {index} has no reward: the semantic judge failed "
            f"({breakdown.semantic_error!r}) and its failure policy is 'skip'. This trainer needs "
            "a number for every sample: configure the judge with on_failure=<float> or 'raise'."
        )
    return float(breakdown.total)


def check_texts(values: Sequence[Any], name: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of str, got {type(values).__name__}")
    return [require_text(value, f"{name}[{i}]") for i, value in enumerate(values)]


def score_pairs(
    completions: Sequence[str],
    references: Sequence[str],
    *,
    step: int,
    config: RewardConfig | None,
    workers: Any = None,
) -> list[RewardBreakdown]:
    """Validate and score aligned pairs with the public ``score_batch`` (one kernel call), or
    with this process's :class:`~himed_rewards.ParallelScorer` for ``(config, workers)`` when
    ``workers`` (a framework's reward keyword) is more than 1."""
    completions = check_texts(completions, "completions")
    references = check_texts(references, "references")
    if len(completions) != len(references):
        raise ValueError(
            f"completions and references must have the same length, got {len(completions)} "
            f"and {len(references)}"
        )
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    if workers is None or workers == 1:
        return hr.score_batch(completions, references, step=step, config=config)
    return _parallel_scorer(config, workers).score_batch(completions, references, step=step)


_SCORERS: dict[tuple[str, int], Any] = {}  # (config signature, workers) -> ParallelScorer


def _parallel_scorer(config: RewardConfig | None, workers: int) -> Any:
    """One ParallelScorer per (config, workers) and process: frameworks call a function, so
    the workers live here, started at the first call and stopped at exit."""
    key = ("default" if config is None else config.signature(), workers)
    scorer = _SCORERS.get(key)
    if scorer is None:
        scorer = _SCORERS[key] = hr.ParallelScorer(workers, config)
    return scorer


def require_text(value: Any, name: str) -> str:
    """``value`` if it is a str, else a TypeError naming ``name`` (a None reference must never
    be scored against the string "None").

    Examples:
        >>> require_text(None, "sample.label")
        Traceback (most recent call last):
        ...
        TypeError: sample.label must be a str, got None (NoneType)
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r:.80} ({type(value).__name__})")
    return value


def require_mapping(value: Any, name: str) -> Mapping[str, Any]:
    """``value`` if it is a mapping, ``{}`` for None, else a TypeError naming ``name``.

    Examples:
        >>> require_mapping(None, "extra_info")
        {}
        >>> require_mapping("x", "extra_info")
        Traceback (most recent call last):
        ...
        TypeError: extra_info must be a dict or None, got 'x' (str)
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a dict or None, got {value!r:.80} ({type(value).__name__})"
        )
    return value


#: The per-level values whose batch means the adapters log (plus any semantic axis present).
LEVEL_KEYS: tuple[str, ...] = (
    "alpha1",
    "alpha2",
    "token",
    "concept",
    "format",
    "low_level",
    "semantic",
    "semantic_imputed",
)


def level_means(rows: Sequence[Mapping[str, float]], prefix: str = "") -> dict[str, float]:
    """Batch means of :data:`LEVEL_KEYS` and ``total`` over per-sample component dicts; a key
    absent from every row (``semantic`` without a judge) is left out, never logged as 0.

    Examples:
        >>> level_means([{"alpha1": 1.0, "total": 2.0}, {"alpha1": 0.5, "total": 1.0}], "himed/")
        {'himed/alpha1': 0.75, 'himed/total': 1.5}
    """
    out: dict[str, float] = {}
    for key in (*LEVEL_KEYS, "total"):
        values = [float(row[key]) for row in rows if row.get(key) is not None]
        if values:
            out[prefix + key] = sum(values) / len(values)
    return out


def extra_info_step(extra_info: Mapping[str, Any] | None) -> Any:
    """The raw step in a verl ``extra_info`` dict (``global_step``, else ``global_steps``)."""
    if not extra_info:
        return None
    if "global_step" in extra_info:
        return extra_info["global_step"]
    return extra_info.get("global_steps")


def resolve_missing(missing: Any = None) -> str:
    """The policy for samples without a total: ``missing``, else ``$HIMED_REWARDS_MISSING``,
    else ``"impute"``.

    Examples:
        >>> resolve_missing("raise")
        'raise'
        >>> resolve_missing("zero")
        Traceback (most recent call last):
        ...
        ValueError: missing must be one of ('impute', 'raise'), got 'zero'
    """
    if missing is None:
        env_value = os.environ.get(MISSING_ENV, "").strip()
        if not env_value:
            return "impute"
        if env_value not in MISSING_POLICIES:
            raise ValueError(f"${MISSING_ENV} must be one of {MISSING_POLICIES}, got {env_value!r}")
        return env_value
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    return str(missing)


class ResolvedReward(NamedTuple):
    """The number handed to a trainer for one sample, and how it was obtained.

    ``how`` is ``None`` for a sample whose total the reward computed, else the imputation
    used: ``"group_mean"``, ``"call_mean"`` or ``"low_level"`` (see the module docstring;
    the OpenRLHF adapter adds ``"scored_mates_mean"``).
    ``components`` are the numeric components to log, with ``semantic_imputed`` (0.0 or 1.0)
    always present so every sample of a call has the same keys.
    """

    total: float
    how: str | None
    error: str | None
    components: dict[str, float]

    @property
    def imputed(self) -> bool:
        return self.how is not None


def resolve_rewards(
    breakdowns: Sequence[RewardBreakdown],
    references: Sequence[str],
    *,
    missing: str = "impute",
) -> list[ResolvedReward]:
    """One :class:`ResolvedReward` per breakdown under the ``missing`` policy.

    Examples:
        >>> import himed_rewards as hr
        >>> [b] = hr.score_batch(["Heart size normal."], ["Heart size is normal."])
        >>> [r] = resolve_rewards([b], ["Heart size is normal."])
        >>> r.total == b.total, r.imputed, r.components["semantic_imputed"]
        (True, False, 0.0)
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    if len(breakdowns) != len(references):
        raise ValueError(
            f"breakdowns and references must have the same length, got {len(breakdowns)} "
            f"and {len(references)}"
        )
    failed = [i for i, b in enumerate(breakdowns) if b.total is None]
    if failed and missing == "raise":
        require_total(breakdowns[failed[0]], failed[0])
    ok = [i for i, b in enumerate(breakdowns) if b.total is not None and b.semantic is not None]
    by_reference: dict[str, list[int]] = {}
    for i in ok:
        by_reference.setdefault(references[i], []).append(i)

    out: list[ResolvedReward] = []
    for i, b in enumerate(breakdowns):
        components = numeric_components(b)
        if b.total is not None:
            out.append(ResolvedReward(float(b.total), None, None, _flag(components, 0.0)))
            continue
        donors, how = by_reference.get(references[i]), "group_mean"
        if not donors:
            donors, how = ok, "call_mean"
        if donors:
            for key in SEMANTIC_KEYS:
                values = [getattr(breakdowns[j], key) for j in donors]
                if all(v is not None for v in values):
                    components[key] = sum(values) / len(values)
            total = b.alpha1 * b.low_level + b.alpha2 * components["semantic"]
        else:  # no verdict in the whole call: a constant semantic score, i.e. alpha1 = 1
            how, total = "low_level", float(b.low_level)
            components["alpha1"], components["alpha2"] = 1.0, 0.0
        out.append(ResolvedReward(float(total), how, b.semantic_error, _flag(components, 1.0)))
    if failed:
        errors = sorted({str(out[i].error) for i in failed})
        _log.warning(
            "%d of %d samples had no semantic verdict; imputed (%s). semantic_error: %s",
            len(failed),
            len(breakdowns),
            ", ".join(sorted({str(out[i].how) for i in failed})),
            "; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""),
        )
    return out


def _flag(components: dict[str, float], value: float) -> dict[str, float]:
    components["semantic_imputed"] = value
    return components
