"""The LLM verifier's prompt asks for the same per-finding attributes as the offline judge."""

from __future__ import annotations

import pytest

from himed_rewards.judge.prompt import PROMPT_VERSION, SYSTEM_PROMPT


@pytest.mark.parametrize("attribute", [
    "polarity", "certainty", "laterality", "location", "severity", "measurement",
    "interval change", "malpositioned", "pertinent negative", "filler",
])  # fmt: skip
def test_prompt_names_each_attribute(attribute: str) -> None:
    assert attribute in " ".join(SYSTEM_PROMPT.split())


def test_prompt_version_was_bumped_for_the_attributes() -> None:
    assert PROMPT_VERSION == "himed-judge-v2"
