"""Reward presets: `paper` (Eqs. 1-10 as written, the default) and `hardened`."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from himed_rewards import RewardConfig, score_batch
from himed_rewards.rewards.config import PRESETS
from himed_rewards.rewards.reasoning import reasoning_is_blank

REPORT = "<finding>Small left pleural effusion.</finding><impression>Effusion.</impression>"
REFERENCE = "Small left pleural effusion. No pneumothorax."


def test_paper_preset_is_the_default() -> None:
    assert RewardConfig.from_preset("paper").signature() == RewardConfig().signature()
    assert set(PRESETS) == {"paper", "hardened"}


def test_hardened_preset_options() -> None:
    cfg = RewardConfig.from_preset("hardened")
    assert cfg.keyword_grounded and cfg.keyword_negation_aware and cfg.format_require_reasoning
    assert [cfg.schedule.alpha1(t) for t in (0, 2_500, 5_000, 6_500, 10_000)] == \
        [0.5, 0.5, 0.5, 0.4, 0.1]


def test_fields_override_a_preset() -> None:
    cfg = RewardConfig.from_preset("hardened", keyword_grounded=False)
    assert not cfg.keyword_grounded and cfg.keyword_negation_aware
    assert RewardConfig(preset="hardened", w_token=0.5).w_token == 0.5


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_preset_key_in_config_files(tmp_path, suffix: str) -> None:
    path = tmp_path / f"reward{suffix}"
    data = {"preset": "hardened", "keyword_beta": 0.1}
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text("preset: hardened\nkeyword_beta: 0.1\n")
    cfg = RewardConfig.from_file(path)
    assert cfg.format_require_reasoning and cfg.keyword_beta == 0.1
    cfg.to_file(tmp_path / f"again{suffix}")  # saved fully expanded, loads back equal
    assert RewardConfig.from_file(tmp_path / f"again{suffix}").signature() == cfg.signature()


def test_unknown_preset_names_the_argument() -> None:
    with pytest.raises(ValueError, match="preset must be one of"):
        RewardConfig.from_preset("strict")
    with pytest.raises(ValidationError, match="preset must be one of"):
        RewardConfig(preset=3)


def test_hardened_format_requires_reasoning() -> None:
    empty = f"<think> </think>{REPORT}"
    full = f"<think>left costophenic blunting</think>{REPORT}"
    paper = score_batch([empty, full], [REFERENCE] * 2, config=RewardConfig(semantic=None))
    hard = score_batch([empty, full], [REFERENCE] * 2,
                       config=RewardConfig.from_preset("hardened", semantic=None))
    assert [b.format for b in paper] == [1.0, 1.0]
    assert [b.format for b in hard] == [-1.0, 1.0]
    assert reasoning_is_blank("no tags at all")
    with pytest.raises(TypeError, match="completion must be str"):
        reasoning_is_blank(None)  # type: ignore[arg-type]
