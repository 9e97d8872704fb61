"""The judge used alone (no reward call, so nothing else imports numba) comes to its kernel.

A process that only judges, an evaluation script or a reward of the user's own, has no
other reason to import numba, and the judge's question "are my kernels in the disk cache?"
would import it. So that process asks once the interpreter's path has spent
``encoded.INTERPRETER_BUDGET_S`` CPU seconds on batches the kernel could have judged. Before
this, such a process judged in the interpreter forever (24-35 us a pair on fresh GRPO
batches, against 8-13 with the kernel), even with the kernels in the cache.

Where the cache lacks the kernels, compile helpers are tried on idle cores, again every
``encoded.HELPERS_RETRY_S``; a process where none could start (every core busy, helpers
turned off) compiles them itself once the interpreter's path has spent what that costs
(``encoded.compile_budget_s``). Before, it judged in the interpreter for good, a reward
process as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from himed_rewards.clinical import OfflineClinicalJudge, encoded
from himed_rewards.kernels import _precompile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the shared path switch
from judge_paths import judge_path  # noqa: E402

TEXTS = ["Small left pleural effusion.", "No effusion. Heart size is normal.",
         "Mild cardiomegaly. No pneumothorax."]


def _fresh_readiness(monkeypatch, *, numba_in_use: bool, interpreted: float) -> list[tuple]:
    """The judge's readiness as a new process has it (no compile helper running); returns
    the list its cache questions are recorded in (answered False)."""
    asked: list[tuple] = []
    monkeypatch.setattr(encoded, "_helpers_running", lambda: False)
    monkeypatch.setitem(encoded._READY, "ready", False)
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    monkeypatch.setitem(encoded._READY, "asked_alone", False)
    monkeypatch.setitem(encoded._READY, "helpers_at", 0.0)
    monkeypatch.setitem(encoded._READY, "compiling", False)
    monkeypatch.setitem(encoded._READY, "compile_failed", False)
    monkeypatch.setitem(encoded._INTERPRETED, "s", interpreted)
    monkeypatch.setattr(encoded, "_numba_in_use", lambda: numba_in_use)
    monkeypatch.setattr(_precompile, "compiled_or_cached",
                        lambda dispatcher, args: asked.append(args) or False)
    return asked


def test_without_numba_the_cache_is_not_asked_before_the_budget(monkeypatch) -> None:
    asked = _fresh_readiness(monkeypatch, numba_in_use=False,
                             interpreted=encoded.INTERPRETER_BUDGET_S / 2)
    started = []
    monkeypatch.setattr(encoded, "_start_compile_helpers", lambda: started.append(1))
    assert encoded.kernel_ready() is False
    assert asked == [] and started == []


def test_without_numba_the_cache_is_asked_once_the_budget_is_spent(monkeypatch) -> None:
    asked = _fresh_readiness(monkeypatch, numba_in_use=False,
                             interpreted=encoded.INTERPRETER_BUDGET_S)
    started = []
    monkeypatch.setattr(encoded, "_start_compile_helpers", lambda: started.append(1))
    assert encoded.kernel_ready() is False  # asked, and the cache lacks the kernels
    assert len(asked) == 1
    assert started == [1]  # so helpers compile them on idle cores
    monkeypatch.setattr(encoded, "_numba_in_use", lambda: True)  # (asking imported it)
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    assert encoded.kernel_ready() is False
    assert len(asked) == 2 and started == [1]  # asked again a second later; helpers once
    monkeypatch.setattr(_precompile, "compiled_or_cached", lambda dispatcher, args: True)
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    assert encoded.kernel_ready() is True


def test_with_numba_in_use_the_budget_does_not_apply(monkeypatch) -> None:
    asked = _fresh_readiness(monkeypatch, numba_in_use=True, interpreted=0.0)
    started = []
    monkeypatch.setattr(encoded, "_start_compile_helpers", lambda: started.append(1))
    assert encoded.kernel_ready() is False
    assert len(asked) == 1
    # (a reward process: its first kernel call started helpers, if a core was idle; these
    # start none while those run, and the judge's kernels first where none could start)
    assert started == [1]


def test_helpers_are_tried_again_while_the_kernels_are_missing(monkeypatch) -> None:
    # No core was idle at the first question (the load average, or helpers turned off):
    # before, no helper was ever tried again, and the judge stayed in the interpreter.
    asked = _fresh_readiness(monkeypatch, numba_in_use=True, interpreted=0.0)
    started = []
    monkeypatch.setattr(encoded, "_start_compile_helpers", lambda: started.append(1))
    clock = [1000.0]
    monkeypatch.setattr(encoded.time, "monotonic", lambda: clock[0])
    for _ in range(3):  # a check a second: helpers tried once
        assert encoded.kernel_ready() is False
        clock[0] += encoded._RECHECK_S
    assert len(asked) == 3 and started == [1]
    clock[0] += encoded.HELPERS_RETRY_S
    assert encoded.kernel_ready() is False
    assert started == [1, 1]


def test_at_the_compile_budget_the_process_compiles_the_kernels(monkeypatch) -> None:
    asked = _fresh_readiness(monkeypatch, numba_in_use=True,
                             interpreted=encoded.compile_budget_s())
    started, compiled = [], []
    monkeypatch.setattr(encoded, "_start_compile_helpers", lambda: started.append(1))

    def use_judge_kernel() -> None:
        assert encoded._READY["compiling"]  # (other threads judge in the interpreter)
        assert encoded.kernel_ready() is False
        compiled.append(1)
        encoded._READY["ready"] = True

    monkeypatch.setattr(encoded, "use_judge_kernel", use_judge_kernel)
    monkeypatch.setattr(encoded, "_helpers_running", lambda: True)
    assert encoded.kernel_ready() is False  # this process's helpers are on their way to them
    assert compiled == [] and started == [1]
    monkeypatch.setattr(encoded, "_helpers_running", lambda: False)  # (they exited)
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    assert encoded.kernel_ready() is True  # compiled here, in this call
    assert len(asked) == 2 and compiled == [1] and started == [1]
    assert encoded._READY["compiling"] is False


def test_below_the_compile_budget_the_process_does_not_compile(monkeypatch) -> None:
    _fresh_readiness(monkeypatch, numba_in_use=True,
                     interpreted=0.99 * encoded.compile_budget_s())
    monkeypatch.setattr(encoded, "_start_compile_helpers", lambda: None)
    monkeypatch.setattr(encoded, "use_judge_kernel", lambda: pytest.fail("compiled"))
    assert encoded.kernel_ready() is False


def test_a_compile_that_fails_is_not_tried_again(monkeypatch) -> None:
    _fresh_readiness(monkeypatch, numba_in_use=True, interpreted=encoded.compile_budget_s())
    monkeypatch.setattr(encoded, "_start_compile_helpers", lambda: None)
    tries = []

    def failing() -> None:
        tries.append(1)
        raise RuntimeError("no compiler")

    monkeypatch.setattr(encoded, "use_judge_kernel", failing)
    assert encoded.kernel_ready() is False  # the interpreter's path, never an error
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    assert encoded.kernel_ready() is False
    assert tries == [1] and encoded._READY["compile_failed"] is True
    assert encoded._READY["compiling"] is False


def test_a_process_without_helpers_compiles_the_judge_on_a_cold_cache(tmp_path) -> None:
    # The real thing: an empty numba cache, no compile helper allowed; the budgets set to 0
    # so that the first batch worth the kernel spends them. Judged in the interpreter, then
    # with the kernels this process compiled: the same floats.
    script = textwrap.dedent(f"""
        import json, sys
        from himed_rewards.clinical import OfflineClinicalJudge, encoded
        texts = {TEXTS!r}
        judge = OfflineClinicalJudge()
        encoded._READY["checked"] = -10.0
        encoded.INTERPRETER_BUDGET_S = 1e9
        python = judge.score_columns(texts, texts[::-1]).tolist()
        encoded.INTERPRETER_BUDGET_S = 0.0
        encoded.compile_budget_s = lambda: 0.0
        compiled = judge.score_columns(texts, texts[::-1]).tolist()
        from himed_rewards.kernels import _precompile
        print(json.dumps([python, compiled, encoded._READY["ready"], encoded._STORE.count > 0,
                          len(_precompile._HELPERS)]))
    """)
    env = {**os.environ, "HIMED_REWARDS_COMPILE_HELPERS": "0",
           "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("HIMED_REWARDS_INTERPRET", None)  # (the tests' setting: a new install has none)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600, env=env, check=True)
    python, compiled, ready, recorded, helpers = json.loads(out.stdout.strip().splitlines()[-1])
    assert ready and recorded and helpers == 0  # compiled here, used: records written
    assert compiled == python

    # A second process on that cache, which holds the judge's kernels and none of the
    # reward's (as while a helper compiles those), finds the judge's there and loads them:
    # the interpreter tier, deciding at its first kernel call by the reward's cold list,
    # interpreted them and then compiled that list here (1.5 s, then 6.7 s, measured)
    script = textwrap.dedent(f"""
        import json
        from himed_rewards.clinical import OfflineClinicalJudge, encoded
        from himed_rewards.kernels import _interpret, _precompile
        texts = {TEXTS!r}
        judge = OfflineClinicalJudge()
        encoded._READY["checked"] = -10.0
        encoded.INTERPRETER_BUDGET_S = 0.0  # (spent)
        first = judge.score_columns(texts, texts[::-1]).tolist()  # asks: in the cache
        loaded = judge.score_columns(texts, texts[::-1]).tolist()
        hits = sum(sum(d.stats.cache_hits.values()) for d, *_ in
                   _precompile.entries(_precompile.background_specs()))
        print(json.dumps([first, loaded, encoded._READY["ready"], _interpret.spent(),
                          len(_precompile.cold_entries(_precompile.entries())),
                          len(_precompile.entries()), hits]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600, env=env, check=True)
    first, loaded, ready, interpreted, cold, listed, hits = json.loads(
        out.stdout.strip().splitlines()[-1])
    assert ready and first == loaded == python
    assert interpreted == 0.0 and hits > 0  # loaded, not interpreted
    assert cold == listed  # and not a kernel of the reward's compiled


def test_the_interpreters_path_counts_its_time_on_batches_worth_the_kernel() -> None:
    judge = OfflineClinicalJudge()
    with judge_path(kernel=False):
        before = encoded.interpreted_s()
        judge.score_batch(TEXTS[:2], TEXTS[1:])  # two pairs: the interpreter's anyway
        assert encoded.interpreted_s() == before
        judge.score_batch(TEXTS, TEXTS[::-1])
        assert encoded.interpreted_s() > before


def test_a_process_judging_alone_comes_to_the_kernel_with_the_same_floats() -> None:
    encoded.use_judge_kernel()  # (the kernels in the disk cache, as a child will look there)
    script = textwrap.dedent(f"""
        import json, sys
        from himed_rewards.clinical import OfflineClinicalJudge, encoded
        texts = {TEXTS!r}
        judge = OfflineClinicalJudge()
        encoded._READY["checked"] = -10.0  # (not a second after import: asked at once)
        encoded.INTERPRETER_BUDGET_S = 1e9
        python = judge.score_columns(texts, texts[::-1]).tolist()
        before = ("numba" in sys.modules, encoded._READY["ready"], encoded.interpreted_s() > 0)
        encoded.INTERPRETER_BUDGET_S = 0.0  # (spent)
        compiled = judge.score_columns(texts, texts[::-1]).tolist()
        after = ("numba" in sys.modules, encoded._READY["ready"], encoded._STORE.count > 0)
        print(json.dumps([python, compiled, before, after]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "HIMED_REWARDS_COMPILE_HELPERS": "0"},
                         check=True)
    python, compiled, before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [False, False, True]  # the interpreter's path, nothing imported
    assert after == [True, True, True]  # numba imported, the kernel used: records written
    assert compiled == python


def test_without_numba_after_asking_once_it_is_not_asked_again(monkeypatch) -> None:
    # numba failed to import at the first question: importing it again each second would
    # cost every batch that much, for the same answer
    asked = _fresh_readiness(monkeypatch, numba_in_use=False,
                             interpreted=encoded.INTERPRETER_BUDGET_S)
    monkeypatch.setattr(encoded, "_start_compile_helpers", lambda: None)
    assert encoded.kernel_ready() is False
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    assert encoded.kernel_ready() is False
    assert len(asked) == 1
