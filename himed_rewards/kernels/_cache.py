"""Where compiled kernels are cached, and recovery from a cache that cannot be used.

Numba's own ``cache=True`` has two failure modes that take the package down:

* a truncated or corrupt ``.nbi``/``.nbc`` file (a killed writer, a full disk) raises
  ``UnpicklingError``/``EOFError`` from the first call of that kernel, in every process,
  until someone deletes the file;
* a read-only install whose user has no writable home directory finds no cache locator,
  and ``import himed_rewards`` raises ``RuntimeError: cannot cache function``.

Each kernel therefore gets a :class:`RecoveringCache`: the cache directory is the first
writable one of ``NUMBA_CACHE_DIR``, the package's ``__pycache__``, the user cache dir
(``$XDG_CACHE_HOME`` or ``~/.cache``, then ``himed-rewards/numba``) and a per-user folder
in the temporary directory. A cache file that fails to load is deleted (or ignored) with a
warning and the kernel is recompiled; a cache that fails to save only warns. With no
writable place at all the kernels compile in memory, once per process. A miss claims the
entry for this process until its file is saved, and a miss on an entry another process has
claimed waits for that file instead of compiling it again (``_claims``).

Numba keys a function's cache on the source of its own file only, yet a kernel compiles
the kernels it calls from other files into its own machine code: after an edit to
``kernels/meteor.py`` (a ``git pull`` into an editable install), ``reward.low_level_columns``
still loaded its cached code, with the old METEOR in it, and gave the old numbers. Here
every kernel's cache entry is also keyed on a digest of all the kernel modules' source
(:func:`kernels_digest`), so an edit to any of them recompiles them all, once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import warnings
from pathlib import Path

from numba.core import caching, event, sigutils

from himed_rewards.kernels import _claims

__all__ = ["RecoveringCache", "user_cache_dir", "enable_recovering_cache", "kernels_digest"]


def user_cache_dir() -> Path:
    """The per-user fallback cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``).

    Examples:
        >>> user_cache_dir().parts[-2:]
        ('himed-rewards', 'numba')
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "himed-rewards" / "numba"


def _temp_cache_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"himed-rewards-numba-{uid}"


@functools.lru_cache(maxsize=1)
def kernels_digest() -> bytes:
    """SHA-256 of the source of every kernel module (the ``.py`` files of this folder, by
    name), read once per process: part of every kernel's cache key (see the module doc).

    Examples:
        >>> len(kernels_digest())
        32
    """
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        source = path.read_bytes()
        digest.update(f"{path.name}\0{len(source)}\0".encode())
        digest.update(source)
    return digest.digest()


class _WholeSourceStamp:
    """A locator mixin: numba's stamp of the kernel's own file, and :func:`kernels_digest`
    (an index saved under another stamp reads as empty: the kernel is compiled again)."""

    def get_source_stamp(self):
        return super().get_source_stamp(), kernels_digest()


class _FolderLocator(_WholeSourceStamp, caching._SourceFileBackedLocatorMixin,
                     caching._CacheLocator):
    """A locator for one fixed folder (subclasses name it); skipped when not writable."""

    @staticmethod
    def folder() -> Path:  # pragma: no cover - overridden
        raise NotImplementedError

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(self.folder() / self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        return self._cache_path


class _UserFolderLocator(_FolderLocator):
    folder = staticmethod(user_cache_dir)


class _TempFolderLocator(_FolderLocator):
    folder = staticmethod(_temp_cache_dir)


class _UserProvidedLocator(_WholeSourceStamp, caching.UserProvidedCacheLocator):
    pass


class _InTreeLocator(_WholeSourceStamp, caching.InTreeCacheLocator):
    pass


class _Impl(caching.CompileResultCacheImpl):
    _locator_classes = [
        _UserProvidedLocator,  # NUMBA_CACHE_DIR, when set and writable
        _InTreeLocator,  # the package's __pycache__, when writable
        _UserFolderLocator,
        _TempFolderLocator,
    ]


class RecoveringCache(caching.FunctionCache):
    """Numba's per-function cache that never raises: bad files are dropped and recompiled."""

    _impl_class = _Impl

    def load_overload(self, sig, target_context):
        found = self._load_or_recover(sig, target_context)
        if found is not None:
            return found
        # Not cached: if another process is compiling it right now, wait for its file
        # rather than compile it a second time; otherwise claim it (see _claims).
        claim = self.claim_path(sig)
        if _claims.wait_for(claim):
            found = self._load_or_recover(sig, target_context)
            if found is not None:
                return found
        _claims.take(claim)
        return None

    def _load_or_recover(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # truncated/corrupt pickle, stale layout, unreadable file
            removed = self._discard_files()
            warnings.warn(
                f"himed_rewards: numba cache of {self._name} in {self._cache_path} could not be "
                f"loaded ({type(exc).__name__}: {exc}); "
                f"{'deleted it and ' if removed else 'ignoring it and '}recompiling",
                RuntimeWarning, stacklevel=2)
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except Exception as exc:  # disk full, read-only file, lost permissions
            warnings.warn(
                f"himed_rewards: could not save the numba cache of {self._name} in "
                f"{self._cache_path} ({type(exc).__name__}: {exc}); it stays compiled in "
                "this process only", RuntimeWarning, stacklevel=2)
        finally:
            _claims.release(self.claim_path(sig))

    def claim_path(self, sig) -> Path:
        """The claim file of ``sig`` for this function (see ``_claims``)."""
        args, _ = sigutils.normalize_signature(sig)
        return _claims.claim_path(self._cache_path, self._impl.filename_base, tuple(args))

    def _discard_files(self) -> bool:
        """Delete this function's index and data files; True if any could be deleted."""
        folder = Path(self._cache_path)
        prefix = self._impl.filename_base + "."
        removed = False
        with contextlib.suppress(OSError):
            for path in folder.iterdir():
                if path.name.startswith(prefix) and path.suffix in (".nbi", ".nbc"):
                    with contextlib.suppress(OSError):
                        path.unlink()
                        removed = True
        return removed


class _ReleaseFailedClaims(event.Listener):
    """A compile that raised (a typing error, a literal-argument retry) saves nothing, so
    its claim is released when the compile ends instead."""

    def on_start(self, ev) -> None:
        pass

    def on_end(self, ev) -> None:
        dispatcher = ev.data["dispatcher"]
        cache = getattr(dispatcher, "_cache", None)
        # (numba's Event.is_failed is inverted: a compile that worked added an overload)
        if isinstance(cache, RecoveringCache) and tuple(ev.data["args"]) not in dispatcher.overloads:
            _claims.release(cache.claim_path(ev.data["args"]))


event.register("numba:compile", _ReleaseFailedClaims())

_warned_no_folder = False


def enable_recovering_cache(dispatcher) -> None:
    """Give a ``cache=False`` dispatcher a :class:`RecoveringCache` (none if nowhere fits)."""
    global _warned_no_folder
    if not hasattr(dispatcher, "py_func"):  # NUMBA_DISABLE_JIT=1 hands back the plain function
        return
    try:
        dispatcher._cache = RecoveringCache(dispatcher.py_func)
    except (RuntimeError, OSError):  # no writable folder: compile in memory, once per process
        if _warned_no_folder:
            return
        _warned_no_folder = True
        warnings.warn(
            "himed_rewards: no writable folder for the numba cache (tried NUMBA_CACHE_DIR, the "
            f"package, {user_cache_dir()} and {_temp_cache_dir()}); kernels compile in every "
            "process. Set NUMBA_CACHE_DIR to a writable folder", RuntimeWarning, stacklevel=2)
