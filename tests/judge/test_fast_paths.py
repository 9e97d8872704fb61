"""The per-request fast paths give exactly what the slow, obvious code gives."""

from __future__ import annotations

import json

import pytest

from himed_rewards.judge.body import RequestBody
from himed_rewards.judge.errors import JudgeError
from himed_rewards.judge.prompt import build_messages, build_user_content
from himed_rewards.judge.schema import parse_axes, parse_reply, response_format


@pytest.mark.parametrize("dialect", ["openai", "llama_cpp"])
@pytest.mark.parametrize(
    "extra_body", [None, {"chat_template_kwargs": {"enable_thinking": False}, "temperature": 0.3}]
)
def test_templated_body_is_byte_identical_to_encoding_the_whole_payload(dialect, extra_body):
    body = RequestBody("m", response_format(dialect), 0.0, 512, extra_body)
    assert body.templated
    for cand, ref in [
        ("No effusion.", "Small left effusion."),
        ('Quote " back\\slash \n newline \u00e9 \U0001f600', "</candidate_report> x"),
        ("", ""),
    ]:
        payload = {
            "model": "m",
            "messages": build_messages(cand, ref),
            "response_format": response_format(dialect),
            "temperature": 0.0,
            "max_tokens": 512,
            **(extra_body or {}),
        }
        assert body.encode(build_user_content(cand, ref)) == json.dumps(payload).encode()


def test_extra_body_that_replaces_messages_falls_back_to_whole_encoding():
    custom = [{"role": "user", "content": "fixed"}]
    body = RequestBody("m", response_format("openai"), 0.0, 8, {"messages": custom})
    assert not body.templated
    assert json.loads(body.encode("ignored"))["messages"] == custom


GOOD = {
    "accuracy_evidence": "a",
    "relevance_evidence": "b",
    "completeness_evidence": "c",
    "accuracy": 7,
    "relevance": 10,
    "completeness": 0,
}


def _variants():
    yield json.dumps(GOOD), "stop"
    yield "```json\n" + json.dumps(GOOD) + "\n```", "stop"
    yield json.dumps(GOOD), "length"
    yield json.dumps(GOOD), "content_filter"
    yield None, "stop"
    yield "", "stop"
    yield "not json", "stop"
    yield "[1, 2]", "stop"
    yield json.dumps({**GOOD, "accuracy": 11}), "stop"
    yield json.dumps({**GOOD, "accuracy": -1}), "stop"
    yield json.dumps({**GOOD, "accuracy": True}), "stop"
    yield json.dumps({**GOOD, "accuracy": 7.0}), "stop"
    yield json.dumps({**GOOD, "accuracy": "7"}), "stop"
    yield json.dumps({**GOOD, "accuracy_evidence": 3}), "stop"
    yield json.dumps({**GOOD, "extra": 1}), "stop"
    yield json.dumps({k: v for k, v in GOOD.items() if k != "completeness"}), "stop"
    yield json.dumps(GOOD).replace('"a"', '"line\nbreak"'), "stop"


@pytest.mark.parametrize("content, finish", list(_variants()))
def test_parse_axes_agrees_with_the_pydantic_path(content, finish):
    try:
        expected = parse_reply(content, finish).normalised()
    except JudgeError as err:
        expected = err
    if isinstance(expected, JudgeError):
        with pytest.raises(JudgeError) as info:
            parse_axes(content, finish)
        assert str(info.value) == str(expected)
    else:
        assert parse_axes(content, finish) == expected
