"""Every adapter selects a reward preset by name: a config keyword, slime's args attribute, or
``$HIMED_REWARDS_CONFIG``.

The probe is a completion with an empty ``<think></think>``: ``paper`` scores its format +1
(Eq. 7 as written), ``hardened`` requires non-empty reasoning and scores it -1.
"""

from __future__ import annotations

import asyncio
import types

import pytest

from himed_rewards.integrations import _common, easyr1, openrlhf, slime, verl

EMPTY_THINK = (
    "<think></think><finding>Heart size is normal. Lungs are clear.</finding>"
    "<impression>No acute disease.</impression>"
)
REFERENCE = "Heart size is normal. The lungs are clear. No acute cardiopulmonary disease."


@pytest.mark.parametrize(("preset", "expected_format"), [("paper", 1.0), ("hardened", -1.0)])
def test_verl_and_easyr1_take_a_preset_name(preset, expected_format):
    row = verl.compute_score("iu", EMPTY_THINK, REFERENCE, {"global_step": 0}, config=preset)
    assert row["format"] == expected_format
    [row] = easyr1.compute_score(
        [{"response": EMPTY_THINK, "response_length": 9, "ground_truth": REFERENCE}],
        step=0,
        config=preset,
    )
    assert row["format"] == expected_format


@pytest.mark.parametrize(("preset", "expected_format"), [("paper", 1.0), ("hardened", -1.0)])
def test_openrlhf_and_slime_take_a_preset_from_the_environment(
    monkeypatch, preset, expected_format
):
    monkeypatch.setenv(_common.CONFIG_ENV, preset)
    monkeypatch.setenv("HIMED_REWARDS_STEP", "0")
    out = openrlhf.reward_func(
        [f"<|im_start|>assistant\n{EMPTY_THINK}<|im_end|>"],
        ["<|im_start|>user\nReport?<|im_end|>\n"],
        [REFERENCE],
    )
    formats = out["extra_logs"]["format"]
    assert (formats if isinstance(formats, float) else formats[0]) == expected_format


def test_slime_takes_a_preset_from_its_args():
    sample = types.SimpleNamespace(
        response=EMPTY_THINK, label=REFERENCE, metadata={"global_step": 0}
    )
    paper = asyncio.run(
        slime.reward(types.SimpleNamespace(himed_rewards_config="paper"), sample)
    )
    hardened = asyncio.run(
        slime.reward(types.SimpleNamespace(himed_rewards_config="hardened"), sample)
    )
    # Same low-level text, format +1 vs -1: the hardened total is lower.
    assert hardened < paper


def test_an_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="not a file, nor a preset name"):
        verl.compute_score("iu", EMPTY_THINK, REFERENCE, {"global_step": 0}, config="hardend")
