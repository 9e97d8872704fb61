"""The kernels' Python source in the interpreter, while their machine code does not exist yet.

On an empty numba cache, compiling the sixty-odd functions a default ``score_batch`` calls
costs about 7 CPU seconds (4 to 5 s of wall time with a helper process), while running the same
kernels' Python source on a small batch costs milliseconds per pair. So a process that finds
the cache cold at its first kernel call does not compile: it starts helper processes that
compile the whole list into the disk cache (``_precompile.start_helpers``), and runs each
kernel's ``py_func`` in the interpreter meanwhile (the stand-ins of ``_config`` stay in
place, so a kernel's calls to other kernels are interpreted too). It stops interpreting, and
swaps the dispatchers in, when the first of these happens:

* every helper has exited: the cache now holds the list, and the next calls load it;
* the interpreted kernels have taken ``BUDGET_S`` CPU seconds in all, or a call's input
  alone would take the rest of it (``SECONDS_PER_ELEMENT`` times the length of its first
  argument, the text bytes or token ids it walks): big batches would pay more in the
  interpreter than the compile costs (the ski-rental rule), so the process compiles what
  the helpers have not yet written, as it did before this tier existed;
* ``warmup()`` is called (or ``use_judge_kernel()``, ``use_stem_kernel()``, or anything
  else that swaps the dispatchers in, such as reading a stand-in's ``signatures``).

A warm cache is loaded at once, as before (no interpretation). The interpreter's arithmetic
is the kernels' own: numpy scalars wrap on integer overflow as the machine code does (the
warnings numpy gives for that are silenced here), and floats are IEEE doubles in the same
order of operations. ``tests/kernels/test_interpret.py`` checks the rewards and every metric
for equality, float for float, between the two tiers.

``HIMED_REWARDS_INTERPRET``: ``0`` never interprets (compile at the first call, as before),
``1`` always interprets (no budget: for tests and debugging); unset, the rule above.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

ENV = "HIMED_REWARDS_INTERPRET"
# CPU seconds of interpreted kernels after which the process compiles instead: about half a
# cold compile with a helper, and some 500 fresh pairs of the default reward in the
# interpreter (docs/benchmarks.md, "Cold start")
BUDGET_S = 2.0
# Interpreted CPU seconds per element of a kernel's first argument (the bytes or token ids it
# walks), an upper estimate: 0.6 us a byte for the tokenizer, 1.5 us for interning, measured
SECONDS_PER_ELEMENT = 1.5e-6

_LOCK = threading.Lock()
# Held by an interpreted kernel call from start to end: machine-code kernels keep the GIL for
# their whole run and write shared state on that basis (``_config``: nogil is off but for
# two kernels that write only their thread's own buffers), while the interpreter lets other
# threads in between two bytecodes.
_RUN_LOCK = threading.Lock()
# mode: None (not decided yet), "compile", "interpret" (for now), "always"
_STATE: dict[str, object] = {"mode": None, "spent": 0.0}
_LOCAL = threading.local()

__all__ = ["ENV", "BUDGET_S", "wanted", "active", "run", "stop", "spent"]


def _decide() -> str:
    """The mode at the first kernel call (called under the lock)."""
    raw = os.environ.get(ENV, "").strip()
    if raw == "0":
        return "compile"
    if raw == "1":
        return "always"
    try:
        from himed_rewards.kernels import _config
        from himed_rewards.kernels._precompile import cold_entries, entries, start_helpers

        if len(cold_entries(entries())) < 2:  # cached (or no disk cache to fill): load it
            return "compile"
        _config._helpers_checked[0] = True  # the helpers started here share the whole list
        start_helpers(alone=True, busy=True)
    except Exception:  # numba missing or broken, JIT disabled...: the usual first call decides
        return "compile"
    return "interpret"


def _helpers_done() -> bool:
    """Whether helpers were started and have all exited (then the cache holds the list)."""
    from himed_rewards.kernels._precompile import _HELPERS, helpers_running

    return bool(_HELPERS) and not helpers_running()


def wanted(args: tuple = ()) -> bool:
    """Whether a kernel called now with ``args`` runs in the interpreter (decides at the
    first call)."""
    mode = _STATE["mode"]
    if mode == "compile":
        return False
    if mode == "always":
        return True
    over_budget = False
    with _LOCK:
        mode = _STATE["mode"]
        if mode is None:
            mode = _STATE["mode"] = _decide()
        if mode == "interpret":
            size = getattr(args[0], "size", 0) if args else 0
            over_budget = (_STATE["spent"] + SECONDS_PER_ELEMENT * size  # type: ignore[operator]
                           >= BUDGET_S)
            if over_budget or _helpers_done():
                mode = _STATE["mode"] = "compile"
    if over_budget:
        _compile_rest()
    return mode != "compile"


def _compile_rest() -> None:
    """Compile the listed kernels the cache still lacks from the end of the list, leaving
    what a helper is compiling to it: the helpers go from the start, so the two meet in the
    middle (compiling in call order would wait on each kernel a helper has claimed)."""
    from himed_rewards.kernels._precompile import cold_entries, compile_entries, entries

    compile_entries(list(reversed(cold_entries(entries()))), skip_claimed=True)


def active() -> bool:
    """Whether kernels are being interpreted now (a kernel chosen by its own rule, as the
    offline judge's or the Porter stemmer's, then waits for its machine code)."""
    return _STATE["mode"] in ("interpret", "always")


def stop() -> None:
    """Compile from now on (``warmup()``)."""
    with _LOCK:
        if _STATE["mode"] != "always":
            _STATE["mode"] = "compile"


def spent() -> float:
    """CPU seconds the interpreted kernels have taken in this process."""
    return float(_STATE["spent"])  # type: ignore[arg-type]


def run(func, args: tuple):
    """``func(*args)`` in the interpreter; the outermost call's CPU time counts to the budget."""
    depth = getattr(_LOCAL, "depth", 0)
    if depth:
        return func(*args)
    with _RUN_LOCK:
        _LOCAL.depth = 1
        start = time.thread_time()
        try:
            with np.errstate(over="ignore"):  # machine integers wrap silently: so do these
                return func(*args)
        finally:
            _LOCAL.depth = 0
            with _LOCK:
                _STATE["spent"] = float(_STATE["spent"]) + time.thread_time() - start  # type: ignore[arg-type]
