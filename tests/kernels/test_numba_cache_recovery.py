"""A bad or unwritable numba cache never takes the package down (issue 12, item 9).

Each test copies the package to a fresh folder (so its cache starts empty) and runs a real
interpreter on it, as a fresh worker process would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Compiles and calls the LCS kernels only (a few seconds), then reports the cache counters.
_PROBE = """
import json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from himed_rewards.kernels.lcs import lcs_pair
    from himed_rewards.metrics import rouge_l
    score = rouge_l("the lungs are clear", "lungs clear")
stats = lcs_pair.stats
print(json.dumps({"score": score, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values()), "path": stats.cache_path,
                  "warnings": [str(w.message) for w in caught
                               if "numba cache" in str(w.message)]}))
"""


def _copy_package(tmp_path: Path) -> Path:
    target = tmp_path / "site"
    shutil.copytree(ROOT / "himed_rewards", target / "himed_rewards",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _run(site: Path, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    environ.update(PYTHONPATH=str(site), **env)
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          timeout=600, cwd=site, env=environ)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_truncated_cache_files_are_deleted_and_recompiled(tmp_path):
    site = _copy_package(tmp_path)
    first = _run(site)
    assert first["score"] > 0 and first["misses"] >= 1 and not first["warnings"]
    cache = Path(first["path"])
    assert cache == site / "himed_rewards" / "kernels" / "__pycache__"
    assert _run(site)["hits"] >= 1  # the cache works
    damaged = sorted(cache.glob("lcs.lcs_pair-*.nbc")) + sorted(cache.glob("lcs._lcs_of-*.nbi"))
    assert len(damaged) >= 2
    for path in damaged:  # a writer killed half way
        path.write_bytes(path.read_bytes()[:37])
    recovered = _run(site)  # used to raise UnpicklingError in every process until deleted
    assert recovered["score"] == first["score"]
    assert any("could not be loaded" in w and "deleted it" in w for w in recovered["warnings"])
    healed = _run(site)  # the rewritten files load again
    assert healed["score"] == first["score"] and healed["hits"] >= 1
    assert not healed["warnings"]


def test_read_only_install_without_home_uses_the_temp_folder(tmp_path):
    site = _copy_package(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    # No folder can be created under a regular file: the package's __pycache__ and the
    # user cache folder are both unusable, as on a read-only image with no home.
    (site / "himed_rewards" / "kernels" / "__pycache__").write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"XDG_CACHE_HOME": str(blocker / "cache"), "HOME": str(blocker / "home"),
           "TMPDIR": str(temp)}
    first = _run(site, **env)  # numba alone raised "cannot cache function" at import
    assert first["score"] > 0
    assert Path(first["path"]).is_relative_to(temp)
    second = _run(site, **env)
    assert second["hits"] >= 1 and second["misses"] == 0  # no recompile in the next process


def test_user_cache_folder_when_the_package_is_read_only(tmp_path):
    site = _copy_package(tmp_path)
    (site / "himed_rewards" / "kernels" / "__pycache__").write_text("")
    home_cache = tmp_path / "xdg"
    first = _run(site, XDG_CACHE_HOME=str(home_cache), HOME=str(tmp_path / "nohome" / "x"))
    assert Path(first["path"]).is_relative_to(home_cache / "himed-rewards" / "numba")
    assert _run(site, XDG_CACHE_HOME=str(home_cache))["hits"] >= 1


def test_disabled_jit_still_imports_and_scores():
    # NUMBA_DISABLE_JIT=1 (coverage, debugging) returns plain functions: nothing to cache.
    code = "from himed_rewards.metrics import rouge_l; print(round(rouge_l('a b c', 'a c'), 4))"
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                          text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_DISABLE_JIT": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "0.8"


# Interns one sentence twice through kernels/sentence_table.py, whose kernel calls
# same_bytes from kernels/intern.py, and reports the ids and that kernel's cache counters.
_CALLER_PROBE = """
import json
import numpy as np
from himed_rewards.clinical.sentence_table import SentenceTable
from himed_rewards.kernels import sentence_table
buf = np.frombuffer(b"no effusion.no effusion.", np.uint8)
ids = SentenceTable().intern_spans(buf, np.array([0, 12]), np.array([11, 23])).tolist()
stats = sentence_table.intern_sentences.stats
print(json.dumps({"ids": ids, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
"""


def _run_caller(site: Path) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    # compiled at once, in this process: no interpreted first call, no helper processes
    environ.update(PYTHONPATH=str(site), HIMED_REWARDS_INTERPRET="0",
                   HIMED_REWARDS_COMPILE_HELPERS="0")
    done = subprocess.run([sys.executable, "-c", _CALLER_PROBE], capture_output=True,
                          text=True, timeout=600, cwd=site, env=environ)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_edit_to_a_called_kernel_recompiles_its_callers(tmp_path):
    """Numba keys a kernel's cache on its own file only; the kernels it calls from other
    files are compiled into its machine code, so an edit to one of those (a git pull into
    an editable install) used to leave the caller on its cached, old code."""
    site = _copy_package(tmp_path)
    first = _run_caller(site)
    assert first == {"ids": [0, 0], "hits": 0, "misses": 1}
    assert _run_caller(site) == {"ids": [0, 0], "hits": 1, "misses": 0}  # the cache works
    callee = site / "himed_rewards" / "kernels" / "intern.py"
    source = callee.read_text()
    equal_bytes = "            return False\n    return True\n"
    assert source.count(equal_bytes) == 1
    # same_bytes now never finds two spans equal: each sentence gets a new id
    callee.write_text(source.replace(equal_bytes, "            return False\n    return False\n"))
    assert _run_caller(site) == {"ids": [0, 1], "hits": 0, "misses": 1}  # was [0, 0], a hit
    callee.write_text(source)
    assert _run_caller(site) == {"ids": [0, 0], "hits": 0, "misses": 1}
    assert _run_caller(site) == {"ids": [0, 0], "hits": 1, "misses": 0}
