"""Compiler options for every kernel, in one place.

Compiled machine code is cached on disk so only the first process pays the compile: in
NUMBA_CACHE_DIR when set, else next to the package, else in the user cache folder
(``~/.cache/himed-rewards/numba``), else in the temporary directory (see ``_cache``: a
corrupt cache file is deleted and recompiled, never raised). ``nogil`` stays off because
kernels share scratch buffers owned by their Python front doors and rely on the GIL for
exclusive use.
"""

from numba import njit

from himed_rewards.kernels._cache import enable_recovering_cache

# cache is handled by enable_recovering_cache rather than numba's own cache=True
JIT = {"cache": False, "nogil": False, "fastmath": False, "boundscheck": False}


def kernel(func):
    """Compile ``func`` with the project's options and the recovering disk cache (a decorator)."""
    dispatcher = njit(**JIT)(func)
    enable_recovering_cache(dispatcher)
    return dispatcher
