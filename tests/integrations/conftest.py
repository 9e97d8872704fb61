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


@pytest.fixture(scope="session")
def iu_pairs() -> list[tuple[str, str]]:
    return helpers.load_iu_pairs(24)


@pytest.fixture
def failing_judge():
    return helpers.FailingJudge()


@pytest.fixture
def slow_judge():
    return helpers.SlowJudge


@pytest.fixture(autouse=True)
def _no_env_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIMED_REWARDS_CONFIG", raising=False)
    monkeypatch.delenv("HIMED_REWARDS_STEP", raising=False)
