"""Compiler options for every kernel, in one place, and lazy compilation.

``cache=True`` semantics, made robust: compiled machine code is cached on disk so only the first
process pays the compile, in NUMBA_CACHE_DIR when set, else next to the package, else in the
user cache folder (``~/.cache/himed-rewards/numba``), else in the temporary directory (see
``_cache``: a corrupt cache file is deleted and recompiled, never raised). ``nogil`` is off:
most kernels write shared state (the vocabulary's hash table and byte arena, the judge's
sentence table) and rely on the GIL for exclusive use. A kernel that only reads shared
tables and writes its thread's own scratch buffers (``metrics._layout.scratch``,
``MeteorKeys.head``) or state guarded by a lock asks for it (``@kernel(nogil=True)``: the
low-level reward's, which ``rewards.threads`` runs on several cores, the batch parse and the
default tokenizer's interning, which the parse runs on two parts of a batch at once under the
vocabulary's lock, and the judge's scoring kernel).

``@kernel`` does not import numba: importing ``himed_rewards`` must stay cheap (numba alone
takes 0.2-0.4 s to import). The first call of any kernel imports numba, wraps every kernel
defined so far with ``njit`` (which compiles nothing until a kernel's own first call) and
puts those dispatchers in place of the stand-ins in every loaded ``himed_rewards`` module,
so kernels that call each other see compiled functions, and later calls cost nothing extra.

Cold start (figures in docs/benchmarks.md, "Import and cold start"): with an empty cache the
first default ``score_batch`` spends most of its time compiling about sixty functions; with the
cache warm it mostly loads machine code and tables. At that first call
``_precompile.start_helpers`` starts a helper process on an idle core that compiles the
reward's kernels from the middle of the list (the process then compiles about half), and
``_claims`` makes each process wait for a kernel another is compiling rather than compile it
twice. Before that, on a cold cache, the first calls run the kernels' Python source in the
interpreter while helpers compile (``_interpret``): a first small call then costs about a
second instead of the compile.
"""

from __future__ import annotations

import functools
import sys
import threading

# The disk cache is numba's own per-function cache, attached by _cache.enable_recovering_cache
# (which drops a corrupt file instead of raising) rather than by cache=True.
JIT = {"cache": False, "nogil": False, "fastmath": False, "boundscheck": False}


def _compile(func, nogil: bool = False):
    # numba and its caching module are imported here, at the first kernel call, not at import.
    from numba import njit

    from himed_rewards.kernels._cache import enable_recovering_cache

    dispatcher = njit(**{**JIT, "nogil": nogil})(func)
    enable_recovering_cache(dispatcher)
    return dispatcher

_LOCK = threading.RLock()
_STUBS: list[LazyKernel] = []  # every stand-in, until the dispatchers are swapped in


class LazyKernel:
    """A kernel not yet handed to numba: the first call compiles it (see the module doc),
    or, while ``_interpret`` says so, runs its Python source."""

    def __init__(self, func, nogil: bool = False) -> None:
        functools.update_wrapper(self, func)
        self.py_func = func
        self.nogil = nogil
        self.dispatcher = None  # the swapped-in dispatcher
        self.numba = None  # its numba dispatcher once made (nothing compiled for that)

    def __call__(self, *args):
        dispatcher = self.dispatcher
        if dispatcher is None:
            from himed_rewards.kernels import _interpret

            if _interpret.wanted(args):
                return _interpret.run(self.py_func, args)
            dispatcher = materialise(self)
        return dispatcher(*args)

    def __getattr__(self, name: str):
        # Only reached for what a stand-in lacks (``stats``, ``signatures``...): a reference
        # taken before the first call still answers like the dispatcher it stands for.
        if name.startswith("__") or name in ("dispatcher", "py_func", "numba", "nogil"):
            raise AttributeError(name)  # half-built stand-in (e.g. unpickling): no recursion
        dispatcher = self.dispatcher
        if dispatcher is None:
            dispatcher = materialise(self)
        return getattr(dispatcher, name)

    def __repr__(self) -> str:
        return f"<kernel {self.py_func.__module__}.{self.py_func.__qualname__}>"


def _prepare() -> None:
    """Make a numba dispatcher for every stand-in that has none yet (compiles nothing;
    called under the lock)."""
    for stub in _STUBS:
        if stub.numba is None:
            stub.numba = _compile(stub.py_func, stub.nogil)


def dispatcher_of(target):
    """The numba dispatcher of a kernel (a stand-in or a dispatcher), without swapping the
    dispatchers in: for questions about its cache while kernels may still be interpreted.
    Call it only to look, never to compile (the stand-ins it calls are still in place)."""
    if not isinstance(target, LazyKernel):
        return target
    with _LOCK:
        _prepare()  # (a swapped-in stand-in's dispatcher is its numba one)
        return target.numba


def materialise(stub: LazyKernel | None = None):
    """Hand every pending kernel to numba and swap the dispatchers in; returns ``stub``'s."""
    with _LOCK:
        if _STUBS:
            from himed_rewards.kernels import _interpret

            _interpret.stop()  # the stand-ins are going: nothing runs in the interpreter now
            _prepare()
            for made in _STUBS:
                made.dispatcher = made.numba
            _STUBS.clear()
            _materialised[0] = True
            for name, module in list(sys.modules.items()):
                if module is None or not name.startswith("himed_rewards"):
                    continue
                namespace = vars(module)
                for attribute, value in list(namespace.items()):
                    if isinstance(value, LazyKernel) and value.dispatcher is not None:
                        namespace[attribute] = value.dispatcher
        if not _helpers_checked[0]:
            _helpers_checked[0] = True
            # A cold cache: a helper process compiles the listed kernels from the other end
            # (see _precompile); this process goes on and compiles what it calls, as before.
            from himed_rewards.kernels._precompile import start_helpers

            start_helpers()
    return None if stub is None else stub.dispatcher


def kernel(func=None, *, nogil: bool = False):
    """Compile ``func`` with the project's options on first use (a decorator, used bare or as
    ``@kernel(nogil=True)`` for a kernel that may run in several threads at once)."""
    if func is None:
        return functools.partial(kernel, nogil=nogil)
    with _LOCK:
        if sys.modules.get("numba") is not None and not _STUBS and _materialised[0]:
            return _compile(func, nogil)  # numba already in use: no stand-in needed
        stub = LazyKernel(func, nogil)
        _STUBS.append(stub)
        return stub


_materialised = [False]
_helpers_checked = [False]
