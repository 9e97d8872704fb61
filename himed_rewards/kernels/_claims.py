"""Compile claims: one process compiles a kernel signature, the others wait for its cache file.

Processes that share a numba cache folder and start cold (a training job's ranks, the
precompile helper of ``_precompile`` and its starter) would otherwise each compile every
kernel. Before compiling, a process that found nothing in the cache writes a claim file
``<cache folder>/<function>.<signature hash>.claim`` holding its host name and process id;
a process that then misses the same entry waits until the claim is released (the cache file
was saved) and loads it instead of compiling it a second time.

A claim never blocks for long or for good: it is ignored when its process is gone (same
host), when it is older than ``CLAIM_WAIT_S``, and after waiting that long; it is released
when the compile ends, failed or not, and at exit. Any error reading or writing claims
means "no claim": the caller compiles, as without this module.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import socket
import threading
import time
from pathlib import Path

CLAIM_WAIT_S = 120.0
_POLL_S = 0.02
_HOST = socket.gethostname()
_held: set[Path] = set()
_lock = threading.Lock()

__all__ = ["CLAIM_WAIT_S", "claim_path", "claimed_elsewhere", "wait_for", "take", "release"]


def claim_path(folder: str | os.PathLike, function_base: str, signature: object) -> Path:
    """The claim file of one function's signature in a cache folder.

    Examples:
        >>> path = claim_path("/c", "lcs.lcs_pair-171.py311", ("int32[C]",))
        >>> path.parent.name, path.name.startswith("lcs.lcs_pair-171.py311."), path.suffix
        ('c', True, '.claim')
    """
    digest = hashlib.sha256(repr(signature).encode()).hexdigest()[:16]
    return Path(folder) / f"{function_base}.{digest}.claim"


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there: only the age tells
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def claimed_elsewhere(path: Path) -> bool:
    """True while another live process (or one on another host, recently) holds ``path``."""
    try:
        age = time.time() - path.stat().st_mtime
        host, pid = path.read_text().split()
        pid = int(pid)
    except (OSError, ValueError):
        return False
    if age > CLAIM_WAIT_S:
        return False
    if host != _HOST:
        return True  # a shared folder on another machine: only its age tells
    return pid != os.getpid() and _alive(pid)


def wait_for(path: Path, timeout_s: float = CLAIM_WAIT_S) -> bool:
    """Wait while another process holds ``path``; True if there was such a claim."""
    if not claimed_elsewhere(path):
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and claimed_elsewhere(path):
        time.sleep(_POLL_S)
    return True


def take(path: Path) -> bool:
    """Claim ``path`` for this process (replacing a stale claim); False if another holds it
    or the folder cannot be written."""
    text = f"{_HOST} {os.getpid()}\n"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        if claimed_elsewhere(path):
            return False
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(text)
            os.replace(temporary, path)
        except OSError:
            return False
    except OSError:
        return False
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
    with _lock:
        _held.add(path)
    return True


def release(path: Path) -> None:
    """Remove this process's claim ``path`` (nothing if it holds none there)."""
    with _lock:
        if path not in _held:
            return
        _held.discard(path)
    with contextlib.suppress(OSError, ValueError):
        if int(path.read_text().split()[1]) == os.getpid():
            path.unlink()


@atexit.register
def _release_all() -> None:
    for path in list(_held):
        release(path)
