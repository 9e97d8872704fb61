"""Compiler options for every kernel, in one place.

``cache=True`` writes compiled machine code next to the package (or to NUMBA_CACHE_DIR), so
only the first process pays the compile; ``nogil`` stays off because kernels share scratch
buffers owned by their Python front doors and rely on the GIL for exclusive use.
"""

from numba import njit

JIT = {"cache": True, "nogil": False, "fastmath": False, "boundscheck": False}


def kernel(func):
    """Compile ``func`` with the project's options (a decorator)."""
    return njit(**JIT)(func)
