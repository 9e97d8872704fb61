"""Format reward (Eq. 7) and report extraction."""

from __future__ import annotations

import pytest

from himed_rewards import extract_report, format_reward


@pytest.mark.parametrize("completion", [
    "<think>a</think><finding>b</finding><impression>c</impression>",
    "  <think></think>\n<finding> b </finding>\n\n<impression>c</impression>\n",
    "<think>multi\nline</think> <finding>b\nc</finding>\t<impression>d</impression>",
])
def test_well_formed(completion):
    assert format_reward(completion) == 1.0


@pytest.mark.parametrize("completion", [
    "",
    "plain report",
    "<finding>b</finding><impression>c</impression>",
    "<think>a</think><impression>c</impression><finding>b</finding>",
    "<think>a</think><finding> </finding><impression>c</impression>",
    "<think>a</think><finding>b</finding><impression></impression>",
    "<think>a</think>x<finding>b</finding><impression>c</impression>",
    "<think>a</think><finding>b</finding><impression>c</impression> trailing",
    "<think>a<finding>x</finding></think><finding>b</finding><impression>c</impression>",
    "<think>a</think><finding>b</finding><impression>c</impression><impression>d</impression>",
    "<think>a</think><finding>b<impression>c</impression>",
    "<THINK>a</THINK><finding>b</finding><impression>c</impression>",
])
def test_malformed(completion):
    assert format_reward(completion) == -1.0


@pytest.mark.parametrize(("completion", "report"), [
    ("<think>edema?</think><finding>Clear.</finding><impression>Normal.</impression>", "Clear.\nNormal."),
    ("<think>edema?</think>Clear lungs.", "Clear lungs."),
    ("reasoning about edema</think><finding>Clear.</finding>", "Clear."),
    ("<think>never closed <b>edema</b>", ""),
    ("<think>x</think><impression>Only impression.</impression>", "Only impression."),
    ("<finding>unclosed finding", "unclosed finding"),
    ("<think>a <finding>inside think</finding></think><finding>out</finding>", "out"),
    ("No tags at <b>all</b>.", "No tags at all ."),
])
def test_extract_report_never_returns_reasoning(completion, report):
    assert extract_report(completion) == report


def test_type_errors():
    with pytest.raises(TypeError, match="completion must be str"):
        format_reward(None)
    with pytest.raises(TypeError, match="completion must be str"):
        extract_report(1)
