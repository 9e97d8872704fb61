"""The judge used alone (no reward call, so nothing else imports numba) comes to its kernel.

A process that only judges, an evaluation script or a reward of the user's own, has no
other reason to import numba, and the judge's question "are my kernels in the disk cache?"
would import it. So that process asks once the interpreter's path has spent
``encoded.INTERPRETER_BUDGET_S`` CPU seconds on batches the kernel could have judged. Before
this, such a process judged in the interpreter forever (24-35 us a pair on fresh GRPO
batches, against 8-13 with the kernel), even with the kernels in the cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from himed_rewards.clinical import OfflineClinicalJudge, encoded
from himed_rewards.kernels import _precompile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the shared path switch
from judge_paths import judge_path  # noqa: E402

TEXTS = ["Small left pleural effusion.", "No effusion. Heart size is normal.",
         "Mild cardiomegaly. No pneumothorax."]


def _fresh_readiness(monkeypatch, *, numba_in_use: bool, interpreted: float) -> list[tuple]:
    """The judge's readiness as a new process has it; returns the list its cache
    questions are recorded in (answered False)."""
    asked: list[tuple] = []
    monkeypatch.setitem(encoded._READY, "ready", False)
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    monkeypatch.setitem(encoded._READY, "asked_alone", False)
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
    assert started == []  # a reward process: its first kernel call started the helpers


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
