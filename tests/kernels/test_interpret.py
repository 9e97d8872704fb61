"""The interpreter tier of a cold cache (``himed_rewards/kernels/_interpret.py``, issue 13):
the kernels' Python source gives the compiled kernels' results, float for float; a cold
first call interprets instead of compiling; the tier ends on its budget, when the helpers
are done, or at ``warmup()``; a warm cache never interprets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from himed_rewards.kernels import _interpret, _precompile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from compile_events import COMPILES_LISTENER  # noqa: E402
from interpret_cases import results  # noqa: E402


def _env(**values: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for name, value in values.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    return env


def _run(code_or_file: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, *code_or_file], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_interpreted_kernels_give_the_compiled_floats():
    child = _run([str(ROOT / "tests" / "interpret_cases.py")],
                 _env(HIMED_REWARDS_INTERPRET="1", HIMED_REWARDS_COMPILE_HELPERS="0"))
    tier = child.pop("tier")
    assert tier["mode"] == "always" and tier["spent"] > 0
    assert tier["materialised"] is False  # no dispatcher ever swapped in: all interpreted
    compiled = results()
    assert child.keys() == compiled.keys()
    for name in compiled:
        assert child[name] == compiled[name], name
    assert compiled["default, judge kernel"] == compiled["default"]  # (the judge's two paths)


# One default score_batch; what the tier did; the numba compiles of our kernels; then, on
# request, a call once the budget is spent.
_CALLS = COMPILES_LISTENER + """
import json, os, pathlib, sys
from himed_rewards import score_batch
from himed_rewards.kernels import _config, _interpret
pair = (["<think>a</think><finding>Lungs are clear. No effusion.</finding>"
         "<impression>Normal.</impression>"], ["The lungs are clear. Small left effusion."])
out = {"first": score_batch(*pair)[0].total, "mode": _interpret._STATE["mode"],
       "spent": _interpret.spent(), "materialised": _config._materialised[0],
       "compiled": list(compiled),
       "files": len(list(pathlib.Path(os.environ["NUMBA_CACHE_DIR"]).rglob("*.nbi")))}
if "--spend" in sys.argv:
    _interpret.BUDGET_S = 0.0
    out["after"] = score_batch(*pair)[0].total
    out["after_mode"] = _interpret._STATE["mode"]
    out["after_compiled"] = len(compiled)
print(json.dumps(out))
"""


def test_a_cold_cache_interprets_then_compiles_past_the_budget(tmp_path):
    env = _env(HIMED_REWARDS_INTERPRET=None, HIMED_REWARDS_COMPILE_HELPERS="0",
               NUMBA_CACHE_DIR=str(tmp_path))
    cold = _run(["-c", _CALLS, "--spend"], env)
    assert cold["mode"] == "interpret" and cold["spent"] > 0
    assert cold["compiled"] == [] and cold["materialised"] is False
    assert cold["files"] == 0  # nothing compiled, nothing written
    # the budget spent: the next call compiles (and writes the cache), with the same floats
    assert cold["after_mode"] == "compile" and cold["after_compiled"] > 0
    assert cold["after"] == cold["first"]
    from himed_rewards import score_batch

    assert score_batch(["<think>a</think><finding>Lungs are clear. No effusion.</finding>"
                        "<impression>Normal.</impression>"],
                       ["The lungs are clear. Small left effusion."])[0].total == cold["first"]
    warm = _run(["-c", _CALLS], env)  # that cache, now warm: loaded, never interpreted
    assert warm["mode"] == "compile" and warm["spent"] == 0.0 and warm["compiled"] == []
    assert warm["first"] == cold["first"]


def test_never_interprets_when_told(tmp_path):
    forced = _run(["-c", _CALLS], _env(HIMED_REWARDS_INTERPRET="0",
                                      HIMED_REWARDS_COMPILE_HELPERS="0",
                                      NUMBA_CACHE_DIR=str(tmp_path)))
    assert forced["mode"] == "compile" and forced["spent"] == 0.0 and forced["compiled"]


@pytest.fixture
def interpreting(monkeypatch):
    """This process's tier state set to "interpreting" (its kernels stay compiled)."""
    monkeypatch.setitem(_interpret._STATE, "mode", "interpret")
    monkeypatch.setitem(_interpret._STATE, "spent", 0.0)
    rest = []
    monkeypatch.setattr(_interpret, "_compile_rest", lambda: rest.append(True))
    monkeypatch.setattr(_precompile, "_HELPERS", [])
    from himed_rewards.clinical import encoded
    from himed_rewards.text import wordnet

    monkeypatch.setattr(encoded, "_READY", dict(encoded._READY))  # restored after the test
    monkeypatch.setattr(wordnet, "_stem_state", dict(wordnet._stem_state))
    return rest


def test_the_tier_ends_when_every_helper_has_exited(interpreting, monkeypatch):
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    try:
        monkeypatch.setattr(_precompile, "_HELPERS", [running, done])
        assert _interpret.wanted() and _interpret.active()  # one helper still compiling
        monkeypatch.setattr(_precompile, "_HELPERS", [done])
        assert not _interpret.wanted() and not _interpret.active()
        assert interpreting == []  # the cache holds the list: nothing to compile here
    finally:
        running.kill()
        running.wait()


def test_the_tier_ends_on_its_budget_and_compiles_the_rest(interpreting):
    assert _interpret.wanted()  # no helper at all: interpret until the budget
    _interpret._STATE["spent"] = _interpret.BUDGET_S
    assert not _interpret.wanted()
    assert interpreting == [True]  # the rest of the list compiled here, from its end


def test_warmup_and_the_judge_and_stem_kernels_end_the_tier(interpreting):
    from himed_rewards.clinical import encoded
    from himed_rewards.text import wordnet

    assert _interpret.active()
    assert not wordnet._kernel_stems(10**6, ())  # the Python stemmer meanwhile
    encoded._READY.update(ready=False)
    assert encoded.kernel_ready() is False  # the judge's interpreter path meanwhile
    encoded.use_judge_kernel()
    assert not _interpret.active() and encoded.kernel_ready()
    _interpret._STATE["mode"] = "interpret"
    wordnet.use_stem_kernel()
    assert not _interpret.active()
    _interpret._STATE["mode"] = "always"
    _interpret.stop()
    assert _interpret.active()  # HIMED_REWARDS_INTERPRET=1 is never overridden


def test_a_call_too_big_for_the_budget_left_compiles(interpreting):
    import numpy as np

    fits = int(_interpret.BUDGET_S / _interpret.SECONDS_PER_ELEMENT) // 2
    assert _interpret.wanted((np.zeros(fits, np.uint8),))  # half the budget: interpreted
    _interpret._STATE["spent"] = _interpret.BUDGET_S / 2
    assert not _interpret.wanted((np.zeros(fits + 10, np.uint8),))  # more than what is left
    assert interpreting == [True]


def test_dispatchers_swapped_in_end_the_tier(tmp_path):
    # (a question a dispatcher answers, asked of a stand-in, swaps the dispatchers in: then
    # nothing is interpreted any more, and the judge's and the stemmer's kernels are usable)
    code = ("from himed_rewards import score_batch\n"
            "from himed_rewards.kernels import _interpret\n"
            "from himed_rewards.kernels.bleu import closest_ref_lens\n"
            "score_batch(['<think>a</think><finding>b</finding><impression>c</impression>'],"
            " ['b'])\n"
            "was = _interpret.active()\n"
            "closest_ref_lens.signatures\n"
            "import json; print(json.dumps([was, _interpret.active()]))\n")
    was, now = _run(["-c", code], _env(HIMED_REWARDS_INTERPRET=None,
                                      HIMED_REWARDS_COMPILE_HELPERS="0",
                                      NUMBA_CACHE_DIR=str(tmp_path)))
    assert was and not now


_THREADS = """
import json, sys, threading
from himed_rewards import score_batch
sys.setswitchinterval(1e-5)  # threads take turns every few bytecodes
refs = ["Heart size normal. No effusion. Lungs are clear.", "Small left pleural effusion."]
batches = [([f"<think>a</think><finding>Lungs clear, case {k}. Mild effusion {j}.</finding>"
             f"<impression>Normal {k}.</impression>" for j in range(12)], refs * 6)
           for k in range(4)]
alone = [[b.total for b in score_batch(c, r)] for c, r in batches]
together = [None] * 4
def one(k):
    together[k] = [b.total for b in score_batch(*batches[k])]
threads = [threading.Thread(target=one, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps([alone == together, alone]))
"""


def test_threads_interpreting_at_once_give_the_same_floats():
    # (interpreted kernels run one at a time, as machine-code ones do under the GIL: they
    # share scratch buffers)
    same, alone = _run(["-c", _THREADS], _env(HIMED_REWARDS_INTERPRET="1",
                                              HIMED_REWARDS_COMPILE_HELPERS="0"))
    assert same
    from himed_rewards import score_batch

    refs = ["Heart size normal. No effusion. Lungs are clear.", "Small left pleural effusion."]
    for k in range(4):
        batch = [f"<think>a</think><finding>Lungs clear, case {k}. Mild effusion {j}.</finding>"
                 f"<impression>Normal {k}.</impression>" for j in range(12)]
        assert [b.total for b in score_batch(batch, refs * 6)] == alone[k]
