"""Fixtures for the adapter tests (helpers live in _helpers.py, shared with tests/server)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def load_helpers():
    name = "himed_integration_test_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_helpers.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helpers = load_helpers()

# The verl tests ``import verl_support`` by that name, the one verl's Ray actors import its
# agent loop by (they get this folder on their PYTHONPATH: verl_support.actor_pythonpath).
# Appended, so nothing here shadows an installed module.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)


@pytest.fixture(scope="session")
def iu_pairs() -> list[tuple[str, str]]:
    return helpers.load_iu_pairs(24)


@pytest.fixture
def failing_judge():
    return helpers.FailingJudge()


@pytest.fixture
def slow_judge():
    return helpers.SlowJudge


@pytest.fixture
def fresh_step_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No step in the environment and none remembered by ``integrations.step`` (its step
    clocks, its warn-once set and its cache of the published step file)."""
    from himed_rewards.integrations import step

    for name in (step.STEP_ENV, step.STEP_FILE_ENV, step.SAMPLES_PER_STEP_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(step, "_clocks", {})
    monkeypatch.setattr(step, "_warned", set())
    monkeypatch.setattr(step, "_cache", {})


@pytest.fixture(autouse=True)
def _no_env_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIMED_REWARDS_CONFIG", raising=False)
    monkeypatch.delenv("HIMED_REWARDS_STEP", raising=False)
