"""Where an adapter finds the training step when its framework does not hand it over.

HiMed-RL's schedule (Eq. 10) needs the trainer's step inside the reward. Only some
frameworks pass it to a reward function; for the others this module offers three sources,
tried in this order after the framework's own field (see :func:`resolve_training_step`):

1. **A published step file** (``$HIMED_REWARDS_STEP_FILE``). The trainer side calls
   :func:`publish_step` (a callback, a hook, a wrapper around the training loop); every
   reward worker, in any process, thread or Ray actor that sees the same file system, reads
   it. Writes are atomic (write a temporary file, then ``os.replace``) so a reader never sees
   half a number; a settled file's step is cached on its ``(mtime_ns, inode, size)`` so a
   hot reward path pays one ``stat`` per call.
2. **A fixed step** (``$HIMED_REWARDS_STEP``): evaluation, debugging, a resumed run's fixed
   phase.
3. **A step clock** (``$HIMED_REWARDS_SAMPLES_PER_STEP``): the step is the number of samples
   this process has scored, divided by the declared samples per step (prompts per step x
   group size). Only right when one process scores every sample of every step; the docs
   say per framework when that holds.

When none of these is set the step is 0 and a warning says, once per process and framework,
how to fix it: never a silent step 0.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "STEP_ENV",
    "STEP_FILE_ENV",
    "SAMPLES_PER_STEP_ENV",
    "StepResolution",
    "StepClock",
    "publish_step",
    "read_published_step",
    "read_logged_step",
    "resolve_training_step",
    "coerce_step",
]

STEP_ENV = "HIMED_REWARDS_STEP"
STEP_FILE_ENV = "HIMED_REWARDS_STEP_FILE"
SAMPLES_PER_STEP_ENV = "HIMED_REWARDS_SAMPLES_PER_STEP"

_log = logging.getLogger("himed_rewards.integrations")


class StepResolution(NamedTuple):
    """The step used for a call and where it came from.

    ``source`` is ``"framework"``, ``"step_file"``, ``"env"``, ``"clock"`` or ``"default"``
    (no source: step 0, warned once per process).
    """

    step: int
    source: str


def coerce_step(value: Any, *, name: str = "step") -> int:
    """A non-negative int from ``value`` (numpy integers and digit strings accepted; bools,
    floats and negatives refused with an error naming ``name``).

    Examples:
        >>> coerce_step(12), coerce_step("40")
        (12, 40)
        >>> coerce_step(True, name="extra_info['global_step']")
        Traceback (most recent call last):
        ...
        TypeError: extra_info['global_step'] must be a non-negative integer, got True (bool)
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r} (bool)")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        return int(text)
    try:
        step = value.__index__()
    except (AttributeError, TypeError):
        raise TypeError(
            f"{name} must be a non-negative integer, got {value!r} ({type(value).__name__})"
        ) from None
    if step < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {step}")
    return int(step)


def _step_file(path: str | os.PathLike[str] | None) -> Path | None:
    if path is not None:
        return Path(path)
    env = os.environ.get(STEP_FILE_ENV, "").strip()
    return Path(env) if env else None


def publish_step(step: int, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the trainer's current ``step`` where reward workers read it; returns the file.

    ``path`` defaults to ``$HIMED_REWARDS_STEP_FILE``. The write is atomic, so concurrent
    readers see the old or the new step, never a torn file.

    Examples:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "step.json"
        >>> _ = publish_step(250, f)
        >>> read_published_step(f)
        250
    """
    step = coerce_step(step, name="step")
    target = _step_file(path)
    if target is None:
        raise ValueError(
            f"publish_step needs a path: pass path= or set ${STEP_FILE_ENV} "
            "(the same value in the trainer and in every reward worker)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"step": step, "time": time.time(), "pid": os.getpid()})
    fd, tmp = tempfile.mkstemp(prefix=".step-", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(payload)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int, int], int]] = {}  # path -> ((mtime, ino, size), step)
_SETTLED_NS = 100_000_000
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    with _cache_lock:
        if key in _warned:
            return
        _warned.add(key)
    _log.warning(message)


def read_published_step(path: str | os.PathLike[str] | None = None) -> int | None:
    """The step last written by :func:`publish_step`, or None when there is no such file yet
    (the trainer has not published) or ``$HIMED_REWARDS_STEP_FILE`` is unset.

    A file that exists but holds no valid step is warned about once and read as None.
    """
    target = _step_file(path)
    if target is None:
        return None
    try:
        stat = target.stat()
    except OSError:
        return None
    key, version = str(target), (stat.st_mtime_ns, stat.st_ino, stat.st_size)
    cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    try:
        step = coerce_step(json.loads(target.read_text())["step"], name=f"{target}['step']")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        _warn_once(f"bad-file:{key}", f"ignoring step file {key}: {exc}")
        return None
    # File times are coarse (a clock tick), so a second publish within the tick of this one
    # could keep the same mtime: cache only a file that has been settled for longer than that.
    if time.time_ns() - stat.st_mtime_ns > _SETTLED_NS:
        with _cache_lock:
            _cache[key] = (version, step)
    return step


def read_logged_step(path: str | os.PathLike[str]) -> int | None:
    """The ``"step"`` of the last line of a JSON-lines training log, or None when the file
    does not exist yet or holds no complete line.

    This reads a log the trainer writes anyway (EasyR1's ``file`` logger appends
    ``{"step": N, ...}`` to ``experiment_log.jsonl`` after every step), so no trainer-side
    change is needed. Only the file's tail is read; a last line that is not valid JSON or has
    no valid ``"step"`` is warned about once and read as None.

    Examples:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "experiment_log.jsonl"
        >>> _ = f.write_text('{"step": 1, "reward": {"overall": 0.5}}\\n{"step": 2}\\n')
        >>> read_logged_step(f)
        2
    """
    target = Path(path)
    try:
        size = target.stat().st_size
    except OSError:
        return None
    with open(target, "rb") as handle:
        # Read backwards until a complete line is in memory. A last line without its newline
        # is being appended right now: it is skipped, the line before it is the last step.
        tail, position = b"", size
        while position > 0 and tail.count(b"\n") < 2:
            start = max(0, position - (1 << 16))
            handle.seek(start)
            tail = handle.read(position - start) + tail
            position = start
    parts = tail.split(b"\n")
    complete = parts[1 if position > 0 else 0 : -1]  # a cut first line, the unfinished last
    lines = [line.strip() for line in complete if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    try:
        step = coerce_step(json.loads(last)["step"], name=f"{target}: last line's 'step'")
    except (ValueError, TypeError, KeyError) as exc:
        _warn_once(f"bad-log:{target}", f"ignoring training log {target}: {exc}")
        return None
    return step


class StepClock:
    """A step derived from the samples this process has scored: ``scored // samples_per_step``.

    Thread-safe. Right only when this one process scores every sample of every step.

    Examples:
        >>> clock = StepClock(samples_per_step=4)
        >>> [clock.advance(2) for _ in range(5)]
        [0, 0, 1, 1, 2]
    """

    def __init__(self, samples_per_step: int) -> None:
        self.samples_per_step = coerce_step(samples_per_step, name="samples_per_step")
        if self.samples_per_step == 0:
            raise ValueError("samples_per_step must be positive")
        self._scored = 0
        self._lock = threading.Lock()

    def advance(self, n_samples: int) -> int:
        """The step of a call that scores ``n_samples`` now; counts them."""
        with self._lock:
            step = self._scored // self.samples_per_step
            self._scored += n_samples
        return step


_clocks: dict[tuple[str, int], StepClock] = {}


def _env_clock(framework: str) -> StepClock | None:
    raw = os.environ.get(SAMPLES_PER_STEP_ENV, "").strip()
    if not raw:
        return None
    per_step = coerce_step(raw, name=f"${SAMPLES_PER_STEP_ENV}")
    with _cache_lock:
        clock = _clocks.get((framework, per_step))
        if clock is None:
            clock = _clocks[(framework, per_step)] = StepClock(per_step)
    return clock


def resolve_training_step(
    framework_step: Any = None,
    *,
    framework: str,
    n_samples: int = 1,
    name: str = "step",
    how_to_fix: str = "",
) -> StepResolution:
    """The step for one reward call of ``framework``, and its source.

    Order: ``framework_step`` (what the framework itself handed over; validated, named
    ``name`` in errors) > the published step file > ``$HIMED_REWARDS_STEP`` > the step clock
    (advanced by ``n_samples``) > 0, with a warning once per process and framework that
    says how to fix it (``how_to_fix`` adds the framework-specific way).

    Examples:
        >>> resolve_training_step(7, framework="verl")
        StepResolution(step=7, source='framework')
    """
    if framework_step is not None:
        return StepResolution(coerce_step(framework_step, name=name), "framework")
    published = read_published_step()
    if published is not None:
        return StepResolution(published, "step_file")
    fixed = os.environ.get(STEP_ENV, "").strip()
    if fixed:
        return StepResolution(coerce_step(fixed, name=f"${STEP_ENV}"), "env")
    clock = _env_clock(framework)
    if clock is not None:
        return StepResolution(clock.advance(n_samples), "clock")
    _warn_once(
        f"no-step:{framework}",
        f"himed_rewards: {framework} handed no training step to the reward, so it scores at "
        "step 0 (alpha1 = 1: the semantic level has no weight). "
        + (how_to_fix + " " if how_to_fix else "")
        + f"Otherwise set ${STEP_FILE_ENV} and call himed_rewards.integrations.step."
        f"publish_step(step) from the trainer, or set ${SAMPLES_PER_STEP_ENV} (prompts per "
        f"step x group size) when one process scores every sample, or ${STEP_ENV} for a "
        "fixed step.",
    )
    return StepResolution(0, "default")
