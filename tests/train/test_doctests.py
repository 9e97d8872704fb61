"""Run the docstring examples of himed_train (pytest's testpaths do not include it)."""

from __future__ import annotations

import doctest
import importlib
import importlib.util

import pytest

TORCH_FREE = [
    "himed_train.prompts",
    "himed_train.rewards",
    "himed_train.config",
    "himed_train.reward_setup",
    "himed_train.warmup",
    "himed_train.cli",
    "himed_train.data.records",
    "himed_train.data.iu_xray",
    "himed_train.data.mimic_cxr",
    "himed_train.data.chexpert_plus",
    "himed_train.data.padchest_gr",
    "himed_train.data.from_config",
    "himed_train.smoke",
    "himed_train.batch",
    "himed_train.attention",
    "himed_train.preflight.results",
    "himed_train.preflight.probes",
    "himed_train.preflight.accelerate_file",
    "himed_train.preflight.packages",
    "himed_train.preflight.memory",
    "himed_train.preflight.placement",
    "himed_train.preflight.verl_recipe",
    "himed_train.preflight.runner",
    "himed_train.preflight.endpoint",
    "himed_train.preflight.data_reward",
]
NEEDS_DATASETS = ["himed_train.data.hf"]


def _run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted > 0, f"{name} has no doctest example"
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"


@pytest.mark.parametrize("name", TORCH_FREE)
def test_docstring_examples(name: str):
    _run(name)


@pytest.mark.parametrize("name", NEEDS_DATASETS)
def test_docstring_examples_needing_datasets(name: str):
    if importlib.util.find_spec("datasets") is None:
        pytest.skip("the datasets package (train extra) is not installed")
    _run(name)
