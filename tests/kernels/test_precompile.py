"""Cold start: the precompile list, its helper process and compile claims (issue 13).

The process tests run real interpreters on an empty ``NUMBA_CACHE_DIR`` (a few seconds of
compiling each), as a fresh install's first training process would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from numba import types
from numba.core.errors import TypingError

from himed_rewards.kernels import _claims, _precompile
from himed_rewards.kernels._precompile import decode_type, encode_type, helper_count
from himed_rewards.kernels._signatures import INSIDE

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from compile_events import COMPILES_LISTENER  # noqa: E402

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

# Scores one pair with the default reward and reports what this process compiled, what it
# loaded from the cache, and its helpers' process ids.
# (COMPILES_LISTENER: ``compiled``, the names of our kernels this process compiles)
_FIRST_CALL = COMPILES_LISTENER + """
import json
from himed_rewards.kernels import _precompile
from himed_rewards import score_batch
r = score_batch(["<think>a</think><finding>Lungs are clear. No effusion.</finding>"
                 "<impression>Normal.</impression>"], ["The lungs are clear."])[0]
hits = [d.py_func.__name__ for d, _, _ in _precompile.entries()
        if sum(d.stats.cache_hits.values())]
print(json.dumps({"total": r.total, "compiled": compiled, "hits": hits,
                  "helpers": [p.pid for p in _precompile._HELPERS]}))
"""


def _env(cache: Path, helpers: str) -> dict[str, str]:
    return {**os.environ, "NUMBA_CACHE_DIR": str(cache), "HIMED_REWARDS_COMPILE_HELPERS": helpers,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _first_call(cache: Path, helpers: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _FIRST_CALL], env=_env(cache, helpers),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_types_round_trip():
    for numba_type in (types.Array(types.uint8, 1, "C", readonly=True),
                       types.Array(types.int64, 2, "C"), types.int32, types.float64,
                       types.boolean, types.Array(types.bool_, 1, "C")):
        assert decode_type(encode_type(numba_type)) == numba_type
    assert decode_type("omitted", 7) == types.Omitted(7)
    with pytest.raises(ValueError, match="text"):
        decode_type("unicode_type")
    with pytest.raises(ValueError, match="numba_type"):
        encode_type(types.unicode_type)


def test_signature_list_matches_what_the_reward_compiles():
    # Fails after a kernel's arguments or the reward's kernel calls change: then run
    # python scripts/kernel_signatures.py (the helper would precompile stale signatures).
    spec = importlib.util.spec_from_file_location("kernel_signatures",
                                                  ROOT / "scripts" / "kernel_signatures.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    found, background, inside = script.record()
    recorded = script.comparable(found, background, inside)
    assert recorded == script.current(), "run python scripts/kernel_signatures.py"
    # every entry decodes and exists
    assert len(_precompile.entries()) == len(recorded[0])
    assert len(_precompile.entries(_precompile.background_specs())) == len(recorded[1])


def _called_from_python() -> list[str]:
    """The listed kernels a first call loads from the cache itself: all but those only
    called inside a driver kernel, whose machine code the driver's cache entry holds."""
    inside = {name for _, name in INSIDE}
    return [d.py_func.__name__ for d, _, _ in _precompile.entries()
            if d.py_func.__name__ not in inside]


def test_helper_alone_fills_the_cache_for_the_first_call(tmp_path):
    cache = tmp_path / "cache"
    done = subprocess.run([sys.executable, "-m", "himed_rewards.kernels._precompile"],
                          env=_env(cache, "0"), cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    first = _result(_first_call(cache, "0"))
    assert first["compiled"] == []  # everything the first default score_batch needs was there
    assert sorted(first["hits"]) == sorted(_called_from_python())
    assert first["helpers"] == []  # the BACKGROUND list too: a warm cache starts no helper
    assert not list(cache.rglob("*.claim"))


@pytest.mark.skipif(CORES < 2, reason="a helper starts only with two or more usable cores")
def test_cold_first_call_shares_the_compiles_with_its_helper(tmp_path):
    alone = _result(_first_call(tmp_path / "alone", "0"))
    helped = _result(_first_call(tmp_path / "helped", "1"))
    assert alone["helpers"] == [] and len(helped["helpers"]) == 1  # as many as asked
    assert helped["total"] == alone["total"]
    listed = {dispatcher.py_func.__name__ for dispatcher, _, _ in _precompile.entries()}
    assert set(alone["compiled"]) >= listed
    # what the helper compiled, this process loaded from the cache instead
    assert helped["hits"] and not set(helped["hits"]) & set(helped["compiled"])
    assert len(helped["compiled"]) < len(alone["compiled"])
    deadline = time.monotonic() + 30
    while _alive(helped["helpers"][0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(helped["helpers"][0])  # stopped with its starter
    assert not list((tmp_path / "helped").rglob("*.claim"))
    warm = _result(_first_call(tmp_path / "helped", "1"))
    assert warm["compiled"] == []  # the list is warm; a helper starts only for BACKGROUND
    assert len(warm["helpers"]) <= 1  # (the judge's kernel, cut short when its starter exited)


_BACKGROUND = """
import json, time
from himed_rewards import warmup
from himed_rewards.kernels import _precompile
seconds = warmup(background=True)
helpers = list(_precompile._HELPERS)
for proc in helpers:
    proc.wait(timeout=900)  # (a training script would load its model meanwhile)
"""


@pytest.mark.skipif(CORES < 2, reason="a helper starts only with two or more usable cores")
def test_background_warmup_leaves_the_compiles_to_helpers(tmp_path):
    code = _BACKGROUND + _FIRST_CALL.replace('"helpers": [p.pid for p in _precompile._HELPERS]',
                                             '"helpers": [p.pid for p in helpers], "s": seconds')
    done = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path, "1"), cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["helpers"]) == 1
    assert result["s"] < 5  # returned at once (imports numba, starts the helper)
    assert result["compiled"] == []  # the helper compiled the whole list
    assert sorted(result["hits"]) == sorted(_called_from_python())


def test_two_cold_processes_share_one_cache(tmp_path):
    cache = tmp_path / "cache"
    first, second = _first_call(cache, "0"), _first_call(cache, "0")
    a, b = _result(first), _result(second)
    assert a["total"] == b["total"]
    # each kernel was compiled once between them and loaded by the other (a claim made the
    # later one wait for the file rather than compile it again)
    assert a["hits"] or b["hits"]
    assert not list(cache.rglob("*.claim"))


_WARMUP = """
import json
from numba.core import event
compiled = []
class Compiles(event.Listener):
    def on_start(self, ev):
        self.depth = getattr(self, "depth", 0) + 1
    def on_end(self, ev):
        self.depth -= 1
        if self.depth == 0 and ev.data["dispatcher"].py_func.__module__.startswith("himed"):
            compiled.append(ev.data["dispatcher"].py_func.__name__)
event.register("numba:compile", Compiles())
from himed_rewards import warmup
warmup()
after_warmup = len(compiled)
from himed_rewards import score_batch
score_batch(["<think>a</think><finding>Lungs clear.</finding><impression>Normal.</impression>"],
            ["Lungs are clear."])
print(json.dumps({"compiled": compiled, "after_warmup": after_warmup}))
"""


def test_workers_warming_up_together_split_the_list(tmp_path):
    env = _env(tmp_path, "0")
    procs = [subprocess.Popen([sys.executable, "-c", _WARMUP], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [_result(proc) for proc in procs]
    listed = {dispatcher.py_func.__name__ for dispatcher, _, _ in _precompile.entries()}
    for result in results:
        assert len(result["compiled"]) == result["after_warmup"]  # nothing left to compile
    both = [name for result in results for name in result["compiled"]]
    assert set(both) >= listed
    assert len(both) < 2 * len(listed)  # the second process did not compile everything again
    assert not list(tmp_path.rglob("*.claim"))


def test_helper_count_reads_the_environment(monkeypatch):
    monkeypatch.setenv(_precompile.HELPERS_ENV, "0")
    assert helper_count() == 0
    monkeypatch.setenv(_precompile.HELPERS_ENV, "3")
    assert helper_count() == min(3, CORES - 1)
    monkeypatch.setenv(_precompile.HELPERS_ENV, "many")
    assert helper_count() == min(1, CORES - 1)
    monkeypatch.delenv(_precompile.HELPERS_ENV)  # by the idle cores
    monkeypatch.setattr(_precompile, "own_load", lambda: 0.0)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert helper_count() == min(CORES - 1, 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (float(CORES), 0.0, 0.0))
    assert helper_count() == 0  # every core busy: a helper would only slow the caller
    assert helper_count(alone=True) == 1  # warmup(background=True): the caller waits anyway
    monkeypatch.setenv(_precompile.HELPERS_ENV, "0")
    assert _precompile.start_helpers() == []


@pytest.mark.skipif(CORES < 2, reason="a helper needs a second core")
def test_helper_count_takes_this_process_off_the_load(monkeypatch):
    # A process that has kept its core busy for a minute (the judge alone, interpreting) is
    # about 1 of the load average: counted as another's, no core was left idle on two
    monkeypatch.delenv(_precompile.HELPERS_ENV, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    monkeypatch.setattr(_precompile, "own_load", lambda: 1.0)
    assert helper_count() == min(CORES - 1, 2)
    monkeypatch.setattr(_precompile, "own_load", lambda: 0.0)  # another's load
    assert helper_count() == min(CORES - 2, 2)
    monkeypatch.setattr(_precompile, "own_load", lambda: 3.0)  # (never below no load)
    assert helper_count() == min(CORES - 1, 2)


_OWN_LOAD = """
import sys, time
from himed_rewards.kernels._precompile import own_load
start = time.monotonic()
while time.monotonic() - start < 1.5:
    if sys.argv[1] == "busy":
        sum(range(1000))
    else:
        time.sleep(0.05)
print(own_load())
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="read from /proc (Linux)")
def test_own_load_follows_the_processes_cpu():
    def load(kind: str) -> float:
        out = subprocess.run([sys.executable, "-c", _OWN_LOAD, kind], capture_output=True,
                             text=True, cwd=ROOT, timeout=120, check=True)
        return float(out.stdout.strip().splitlines()[-1])

    busy, idle = load("busy"), load("idle")
    # busy for about 2 s of its life (its imports too): 1 - exp(-2 / 60) is about 0.03
    assert 0.01 < busy < 0.06
    assert 0.0 <= idle < busy / 2


def test_helpers_for_the_judge_alone_compile_its_kernels_first(monkeypatch):
    listed = [("list", (), 1.0)]
    background = [("judge", (), 6.0)]
    monkeypatch.setattr(_precompile, "entries", lambda specs=None: background
                        if specs is not None else listed)
    monkeypatch.setattr(_precompile, "cold_entries", lambda found: list(found))
    assert list(_precompile._helper_lists(0, 1)) == [listed, background]
    assert list(_precompile._helper_lists(0, 1, background_first=True)) == [background, listed]
    # and the flag reaches the helper's command line
    started = []

    class Popen:
        def __init__(self, argv, **kwargs):
            started.append(argv)

        def poll(self):
            return 0

    monkeypatch.setattr(_precompile, "helper_count", lambda alone=False: 1)
    monkeypatch.setattr(_precompile.subprocess, "Popen", Popen)
    monkeypatch.setattr(_precompile, "_HELPERS", [])
    monkeypatch.setattr(_precompile.atexit, "register", lambda *args: None)
    _precompile.start_helpers(found=listed, busy=True, background_first=True)
    _precompile._HELPERS.clear()
    _precompile.start_helpers(found=listed, busy=True)
    assert ["--background-first" in argv for argv in started] == [True, False]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_claims(tmp_path):
    path = _claims.claim_path(tmp_path, "lcs.f-1.py311", ("int32[C]",))
    assert not _claims.claimed_elsewhere(path) and not _claims.wait_for(path)
    assert _claims.take(path) and path.exists()
    assert not _claims.claimed_elsewhere(path)  # our own claim does not block us
    _claims.release(path)
    assert not path.exists()

    path.write_text(f"{_claims._HOST} {os.getppid()}\n")  # a live other process
    assert _claims.claimed_elsewhere(path) and not _claims.take(path)
    start = time.monotonic()
    assert _claims.wait_for(path, timeout_s=0.2)  # waits, then gives up
    assert time.monotonic() - start >= 0.2
    _claims.release(path)  # not ours: left alone
    assert path.exists()

    old = time.time() - _claims.CLAIM_WAIT_S - 1
    os.utime(path, (old, old))
    assert not _claims.claimed_elsewhere(path)  # too old to be a compile in progress

    path.write_text(f"{_claims._HOST} {_dead_pid()}\n")
    assert not _claims.claimed_elsewhere(path)
    assert _claims.take(path)  # a dead process's claim is replaced
    assert path.read_text().split()[1] == str(os.getpid())
    _claims.release(path)

    path.write_text("another-host 1\n")  # only its age tells
    assert _claims.claimed_elsewhere(path)
    path.write_text("garbage")
    assert not _claims.claimed_elsewhere(path)


def test_a_failed_compile_releases_its_claim():
    from himed_rewards.kernels._cache import RecoveringCache
    from himed_rewards.kernels.lcs import _popcount

    _popcount(1)  # materialise the kernels
    dispatcher = sys.modules["himed_rewards.kernels.lcs"]._popcount
    if not isinstance(getattr(dispatcher, "_cache", None), RecoveringCache):
        pytest.skip("no writable cache folder here")
    claim = dispatcher._cache.claim_path((types.unicode_type,))
    with pytest.raises(TypingError):
        dispatcher.compile((types.unicode_type,))
    assert not claim.exists()
