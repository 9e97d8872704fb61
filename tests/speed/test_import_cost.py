"""Importing the package loads only what the import needs (module sets, not timings).

Each check runs a fresh interpreter with ``-X importtime`` (so the import really happens
there, not in this already-warm test process) and reads back ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("openai", "httpx", "anyio", "himed_rewards.judge.client", "himed_rewards.judge.schema")


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=300)
    assert "import time:" in out.stderr  # -X importtime really traced the import
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_package_loads_no_heavy_module():
    loaded = loaded_after("import himed_rewards")
    assert "himed_rewards" in loaded
    for name in (*HEAVY, "numba", "pydantic", "himed_rewards.rewards", "himed_rewards.judge"):
        assert name not in loaded, name


def test_reward_entry_points_do_not_load_the_llm_client():
    loaded = loaded_after("from himed_rewards import score_batch, RewardConfig")
    assert "himed_rewards.rewards.compose" in loaded
    for name in (*HEAVY, "numba"):  # numba loads at the first kernel call, not at import
        assert name not in loaded, name


def test_metrics_do_not_load_the_judge_or_the_reward():
    loaded = loaded_after("from himed_rewards.metrics import sentence_bleu")
    assert "himed_rewards.metrics.bleu" in loaded
    for name in (*HEAVY, "pydantic", "himed_rewards.judge", "himed_rewards.rewards"):
        assert name not in loaded, name


def test_first_score_loads_numba_but_still_not_the_llm_client():
    loaded = loaded_after(
        "from himed_rewards import score_batch\n"
        "score_batch(['<think>a</think><finding>b</finding><impression>c</impression>'], ['b'])"
    )
    assert "numba" in loaded
    for name in HEAVY:
        assert name not in loaded, name


@pytest.mark.parametrize("name", ["LLMJudge", "JudgeError", "SemanticVerdict", "PROMPT_VERSION"])
def test_lazy_judge_names_resolve(name):
    import himed_rewards.judge as judge

    assert getattr(judge, name) is getattr(judge, name)
    assert name in dir(judge)


def test_lazy_package_names_resolve_and_unknown_names_raise():
    import himed_rewards

    assert himed_rewards.score_batch.__module__ == "himed_rewards.rewards.compose"
    assert set(himed_rewards.__all__) <= set(dir(himed_rewards))
    with pytest.raises(AttributeError, match="no_such_name"):
        himed_rewards.no_such_name  # noqa: B018
