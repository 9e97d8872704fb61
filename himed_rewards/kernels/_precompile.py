"""Compiling kernels before their first call: in this process, or in helper processes.

An empty numba cache makes the first default ``score_batch`` compile about sixty functions:
most of its CPU time (numba's Python front end and LLVM; figures in docs/benchmarks.md,
"Import and cold start"). The compiles are independent, so other
cores can take some: ``_signatures.SIGNATURES`` lists the kernels a default ``score_batch``
calls from Python, with the argument types it calls them with and their compile seconds, in
call order (written by ``scripts/kernel_signatures.py``; ``tests/kernels/test_precompile.py``
fails while it is out of date).

At the first kernel call of a process whose cache lacks some of them, ``start_helpers``
starts helper interpreters (``python -m himed_rewards.kernels._precompile``) that compile the
list into the same on-disk cache, each from a point further down it (what this process will
need later), while this process compiles from the start as its calls need them. Numba looks
in the cache before each compile, so this process loads what a helper finished; a kernel a
helper is compiling right now is waited for rather than compiled twice (``_claims``). The
first default ``score_batch`` then costs its process about half the compile work. Nothing
depends on a helper: if one cannot start, dies or is slow, this process compiles what it
needs, as before. Helpers start only with a writable cache and an idle core for each (by
the load average; ``HIMED_REWARDS_COMPILE_HELPERS`` sets their number, ``0`` turns them
off), stop when this process exits and start no helpers of their own.
After the list, the helpers compile ``_signatures.BACKGROUND``: kernels that a process only
starts using once they are in the cache (the offline judge's, whose 6 s compile would
otherwise more than double a cold start; see clinical/encoded.py). Helpers started for a
process that uses the judge alone compile BACKGROUND first.
Cache files are renamed into place whole, so concurrent writers never leave a half-written
file; a lost index entry only costs a recompile.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

HELPERS_ENV = "HIMED_REWARDS_COMPILE_HELPERS"
_HELPERS: list[subprocess.Popen] = []

__all__ = ["HELPERS_ENV", "encode_type", "decode_type", "entries", "cold_entries",
           "compile_entries", "helper_count", "helpers_running", "own_load", "start_helpers"]


def encode_type(numba_type) -> str:
    """A numba argument type as a short string: ``int64``, ``float64``, ``bool`` (scalars),
    ``int32[C]``, ``uint8[C,ro]``, ``int64[C,2d]`` (arrays), ``omitted`` (a default left out).

    Examples:
        >>> from numba import types
        >>> encode_type(types.Array(types.uint8, 1, "C", readonly=True))
        'uint8[C,ro]'
        >>> print(decode_type(encode_type(types.Array(types.int64, 2, "C"))))
        array(int64, 2d, C)
    """
    from numba.core import types

    if isinstance(numba_type, types.Array):
        parts = [numba_type.layout]
        if numba_type.ndim != 1:
            parts.append(f"{numba_type.ndim}d")
        if not numba_type.mutable:
            parts.append("ro")
        return f"{numba_type.dtype}[{','.join(parts)}]"
    if isinstance(numba_type, types.Omitted):
        return "omitted"
    if isinstance(numba_type, (types.Integer, types.Float, types.Boolean)):
        return str(numba_type)
    raise ValueError(f"numba_type: no encoding for {numba_type!r}")


def decode_type(text: str, default: object = None):
    """The numba type ``encode_type`` wrote as ``text`` (``default``: an omitted argument's
    default value). ValueError for text it does not know.

    Examples:
        >>> print(decode_type("uint8[C,ro]"))
        readonly array(uint8, 1d, C)
        >>> print(decode_type("bool"))
        bool
    """
    from numba.core import types

    if text == "omitted":
        return types.Omitted(default)
    if text.endswith("]") and "[" in text:
        dtype, _, rest = text[:-1].partition("[")
        layout, *flags = rest.split(",")
        ndim = next((int(f[:-1]) for f in flags if f.endswith("d")), 1)
        return types.Array(_scalar(dtype), ndim, layout, readonly="ro" in flags)
    return _scalar(text)


def _scalar(name: str):
    from numba.core import types

    value = getattr(types, name, None)
    if not isinstance(value, (types.Integer, types.Float, types.Boolean)):
        raise ValueError(f"text: unknown numba scalar type {name!r}")
    return value


def entries(specs: Iterable[tuple[str, str, Sequence[str], float]] | None = None,
            ) -> list[tuple]:
    """``(dispatcher, argument types, compile seconds)`` for each listed kernel that exists
    and decodes (the seconds, as measured by the script, only weigh the helpers' shares).

    A kernel that was renamed, removed or given other arguments since the list was written
    is skipped here (the real call compiles it as usual).
    """
    import inspect

    from himed_rewards.kernels._config import dispatcher_of

    if specs is None:
        from himed_rewards.kernels._signatures import SIGNATURES as specs
    found = []
    for spec in specs:
        try:
            module_name, name, arg_specs, seconds = spec
        except (TypeError, ValueError):
            continue  # a list in another format: nothing to precompile from it
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        target = getattr(module, name, None)
        if target is None:
            continue
        target = dispatcher_of(target)  # (stand-ins stay in place: kernels may be interpreted)
        py_func = getattr(target, "py_func", None)
        if py_func is None or not hasattr(target, "compile"):
            continue  # NUMBA_DISABLE_JIT: plain functions, nothing to compile
        parameters = list(inspect.signature(py_func).parameters.values())
        if len(parameters) != len(arg_specs):
            continue
        try:
            args = tuple(decode_type(spec, p.default)
                         for spec, p in zip(arg_specs, parameters, strict=True))
        except ValueError:
            continue
        found.append((target, args, seconds))
    return found


def _cached(dispatcher, args) -> bool | None:
    """Whether the disk cache holds ``args`` for this kernel, for this numba, machine and
    source; None when the kernel has no disk cache."""
    cache = getattr(dispatcher, "_cache", None)
    cache_file = getattr(cache, "_cache_file", None)
    if cache_file is None:
        return None
    try:  # the look-up numba's own load does, without loading the machine code
        key = cache._index_key(args, dispatcher.targetctx.codegen())
        return key in cache_file._load_index()
    except Exception:  # an unreadable index: let the real load decide (and recover)
        return Path(cache_file._index_path).exists()


def compiled_or_cached(dispatcher, args) -> bool:
    """Whether a call with ``args`` (numba types) would not compile: this process has the
    kernel compiled for them, or the disk cache holds it."""
    return args in dispatcher.overloads or bool(_cached(dispatcher, args))


def cold_entries(found: Sequence[tuple]) -> list[tuple]:
    """The entries the disk cache lacks (stale ones included: another numba, an edited
    kernel) and this process has not compiled; empty when there is no disk cache at all."""
    cold = []
    for entry in found:
        dispatcher, args = entry[:2]
        cached = _cached(dispatcher, args)
        if cached is None:
            return []  # no writable cache folder: a helper could not hand anything over
        if args not in dispatcher.overloads and not cached:
            cold.append(entry)
    return cold


def compile_entries(found: Sequence[tuple], parent: int | None = None,
                    skip_claimed: bool = False) -> int:
    """Compile (or load from the cache) each entry in order; returns how many succeeded.

    A failing entry is skipped: the real call compiles it and reports any error. With
    ``parent``, stops early once that process is gone (a helper outliving its starter); with
    ``skip_claimed``, leaves entries that another process is compiling (see ``_claims``) to it.
    """
    from himed_rewards.kernels._cache import RecoveringCache
    from himed_rewards.kernels._claims import claimed_elsewhere
    from himed_rewards.kernels._config import materialise

    materialise()  # numba types a kernel's calls to others by the dispatchers in its module
    done = 0
    for dispatcher, args, *_ in found:
        if parent is not None and os.getppid() != parent:
            break
        cache = getattr(dispatcher, "_cache", None)
        if (skip_claimed and args not in dispatcher.overloads
                and isinstance(cache, RecoveringCache)
                and claimed_elsewhere(cache.claim_path(args))):
            continue
        try:
            dispatcher.compile(args)
        except Exception:  # a stale signature: the real call decides
            continue
        done += 1
    return done


def helper_count(alone: bool = False) -> int:
    """Helper processes to start on a cold cache: ``$HIMED_REWARDS_COMPILE_HELPERS`` when set
    (0 turns them off; at most one less than the usable cores); else as many as there are
    idle cores besides this process's (usable cores minus the 1-minute load average, minus
    one; the load average counts this process too, so its own share, :func:`own_load`, is
    taken off), at most 2 (the list has few kernels big enough to share further). A helper on a
    busy core would only slow this process: it adds its own start-up and the compiles both
    need (numba's internals), about 1.8 CPU seconds. ``alone`` (this process compiles
    nothing meanwhile): its own core counts too, and there is at least one helper.

    Examples:
        >>> 0 <= helper_count() <= 8
        True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    raw = os.environ.get(HELPERS_ENV, "").strip()
    if raw:
        try:
            wanted = int(raw)
        except ValueError:
            wanted = 1
        return max(0, min(wanted, max(cores - 1, int(alone)), 8))
    spare = cores - (0 if alone else 1)
    try:
        # the load average counts this process too, whose core is not offered (but alone)
        idle = spare - max(0.0, os.getloadavg()[0] - (0.0 if alone else own_load()))
    except (AttributeError, OSError):  # no load average (Windows): count every core idle
        idle = spare
    return max(int(alone), min(int(idle + 0.5), spare, 2))


def own_load() -> float:
    """This process's estimated share of the 1-minute load average (Linux; 0 elsewhere).

    The load average is an exponential average, over a minute, of the threads ready to run;
    a process that used ``u`` cores on average since it started ``t`` seconds ago adds about
    ``u * (1 - exp(-t / 60))``. A process that has interpreted the judge for a minute adds
    about one: on two cores, counting that as another process's load left no core idle, and
    the judge alone never got a compile helper.

    Examples:
        >>> 0.0 <= own_load() <= (os.cpu_count() or 1)
        True
    """
    try:
        with open("/proc/self/stat", "rb") as stat:
            # (fields after the command's closing parenthesis: the 22nd, starttime, is 19th)
            started = int(stat.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as uptime:
            age = float(uptime.read().split()[0]) - started / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0
    if age <= 0.0:
        return 0.0
    return time.process_time() / age * (1.0 - math.exp(-age / 60.0))


def start_helpers(found: Sequence[tuple] | None = None, alone: bool = False,
                  busy: bool = False, background_first: bool = False
                  ) -> list[subprocess.Popen]:
    """Start ``helper_count()`` helpers when some listed kernels are not cached yet and no
    helper of this process is still running.

    ``alone``: this process compiles nothing meanwhile (``warmup(background=True)``, or
    kernels run in the interpreter), so the helpers share the whole list (the first starts
    at its start) instead of leaving its start to this process. ``busy``: this process keeps
    its own core busy meanwhile (interpreting), so only idle cores get a helper.
    ``background_first``: the helpers compile ``_signatures.BACKGROUND`` (the offline judge's
    kernels) before the list, for a process that uses the judge alone and needs nothing else
    (``clinical/encoded.py``). Never raises: a helper that cannot start is simply not there.
    Returns the new helpers.
    """
    count = helper_count(alone and not busy)
    if count == 0 or not sys.executable:
        return []
    if helpers_running():
        return []
    try:
        found = entries() if found is None else found
        n_cold = len(cold_entries(found))
        background = bool(cold_entries(entries(background_specs())))
        if n_cold < (1 if alone else 2) and not background:
            return []
        count = min(count, max(1 if background else 0, n_cold if alone else n_cold - 1))
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env[HELPERS_ENV] = "0"  # a helper starts no helpers of its own
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        started = []
        for index in range(count):
            started.append(subprocess.Popen(
                [sys.executable, "-m", "himed_rewards.kernels._precompile",
                 "--parent", str(os.getpid()), "--helper", str(index), "--of", str(count),
                 *(["--alone"] if alone else []),
                 *(["--background-first"] if background_first else [])],
                env=env, cwd=package_root,  # not a checkout that happens to be the cwd
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, close_fds=True))
    except Exception:  # no interpreter to run, no processes left, ...: compile in-process
        return []
    if not _HELPERS:
        atexit.register(_stop_helpers, os.getpid())
    _HELPERS.extend(started)
    return started


def helpers_running() -> bool:
    """Whether a compile helper this process started is still running.

    Examples:
        >>> isinstance(helpers_running(), bool)
        True
    """
    return any(proc.poll() is None for proc in _HELPERS)


def _stop_helpers(owner: int) -> None:
    # At exit this process needs nothing more from its helpers. SIGTERM makes a helper exit
    # between two Python steps, releasing its claims; a compile it abandons saves nothing
    # (cache files are renamed into place whole). Waiting briefly reaps it.
    if os.getpid() != owner:
        return
    for proc in _HELPERS:
        with contextlib.suppress(Exception):
            if proc.poll() is None:
                proc.terminate()
    for proc in _HELPERS:
        with contextlib.suppress(Exception):
            proc.wait(timeout=2)


def _helper_order(found: Sequence[tuple], index: int, count: int, alone: bool = False,
                  ) -> list[tuple]:
    """The order helper ``index`` of ``count`` compiles ``found`` in.

    The starter compiles from the start of the list as its calls come; helper i starts at the
    entry that holds the point (i + 1) / (count + 1) of the list's compile seconds, walks to
    the end, then back from its start: what the starter will need soonest after the helpers are
    up, without all of them starting on the same kernel. ``alone`` (the starter compiles
    nothing): helper i starts at the point i / count instead.

    Examples:
        >>> found = [("a", (), 1.0), ("b", (), 1.0), ("c", (), 1.0), ("d", (), 1.0), ("e", (), 1.0)]
        >>> [name for name, _, _ in _helper_order(found, 0, 1)]
        ['c', 'd', 'e', 'b', 'a']
    """
    total = sum(max(float(entry[2]), 0.0) for entry in found)
    target = total * (index / count if alone else (index + 1) / (count + 1))
    start, before = (0 if target <= 0 else len(found)), 0.0
    for position, entry in enumerate(found if target > 0 else ()):  # the entry at that point
        before += max(float(entry[2]), 0.0)
        if before > target:
            start = position
            break
    return list(found[start:]) + list(reversed(found[:start]))


def main(argv: Sequence[str] | None = None) -> int:
    """The helper process: compile the cold listed kernels into the disk cache."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--parent", type=int, default=None)
    parser.add_argument("--helper", type=int, default=0)
    parser.add_argument("--of", type=int, default=1)
    parser.add_argument("--alone", action="store_true")
    parser.add_argument("--background-first", action="store_true")
    args = parser.parse_args(argv)
    # SIGTERM (the starter exiting) becomes SystemExit, so atexit releases this helper's claims
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for found in _helper_lists(args.helper, args.of, args.alone, args.background_first):
        compile_entries(found, parent=args.parent, skip_claimed=True)
    return 0


def _helper_lists(index: int, count: int, alone: bool = False, background_first: bool = False
                  ) -> Iterator[list[tuple]]:
    """What helper ``index`` of ``count`` compiles, list after list: the cold entries of the
    list in :func:`_helper_order`, then those of ``_signatures.BACKGROUND`` (kernels a process
    only starts using once they are cached: the offline judge's); with ``background_first``,
    BACKGROUND first (a process that uses the judge alone waits for those and nothing else).
    Each list is read from the cache when the helper comes to it, so it leaves out what
    another process compiled meanwhile.

    Examples:
        >>> [len(found) >= 0 for found in _helper_lists(0, 1, background_first=True)]
        [True, True]
    """
    def listed() -> list[tuple]:
        return _helper_order(cold_entries(entries()), index, count, alone)

    def background() -> list[tuple]:
        return cold_entries(entries(background_specs()))

    for make in (background, listed) if background_first else (listed, background):
        yield make()


def background_specs() -> tuple:
    """``_signatures.BACKGROUND``: the kernels only the helpers compile, after the list."""
    from himed_rewards.kernels import _signatures

    return getattr(_signatures, "BACKGROUND", ())


if __name__ == "__main__":
    sys.exit(main())
