"""OpenRLHF adapter: response extraction and the reward_func file loaded as OpenRLHF loads it."""

from __future__ import annotations

import importlib.util

import pytest

import himed_rewards as hr
from himed_rewards.integrations import openrlhf
from himed_rewards.integrations._common import numeric_components

QWEN_VL_PROMPT = (
    "<|im_start|>system\nYou are a radiologist.<|im_end|>\n"
    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Write the findings.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def qwen_vl_query(response: str, image_tokens: int = 64) -> str:
    """What OpenRLHF decodes for Qwen2-VL: the processor expanded the single image pad."""
    expanded = QWEN_VL_PROMPT.replace("<|image_pad|>", "<|image_pad|>" * image_tokens)
    return expanded + response + "<|im_end|>"


def load_like_openrlhf():
    """openrlhf/utils/agent.py: spec_from_file_location("reward_func", remote_url)."""
    spec = importlib.util.spec_from_file_location("reward_func", openrlhf.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def test_vlm_response_is_found_after_the_last_assistant_header():
    response = "Heart size is normal. Small right pleural effusion."
    query = qwen_vl_query(response)
    assert openrlhf.extract_response(query, QWEN_VL_PROMPT) == response
    # the naive slice is wrong for a VLM: the prompt is shorter than its decoded expansion
    assert query[len(QWEN_VL_PROMPT) :].removesuffix("<|im_end|>") != response


@pytest.mark.parametrize(
    ("query", "response"),
    [
        (
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nFindings?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nNo pneumothorax.<|eot_id|>",
            "No pneumothorax.",
        ),
        (
            "<bos><start_of_turn>user\nFindings?<end_of_turn>\n<start_of_turn>model\n"
            "Lungs are clear.<end_of_turn>\n",
            "Lungs are clear.",
        ),
        ("<s>[INST] Findings? [/INST] Normal study.</s>", "Normal study."),
        (  # the model wrote an assistant turn of its own: the last header wins
            "<|im_start|>assistant\nDraft<|im_end|>\n"
            "<|im_start|>assistant\nFinal report.<|im_end|><|endoftext|>",
            "Final report.",
        ),
    ],
)
def test_common_chat_templates(query, response):
    assert openrlhf.extract_response(query, "") == response


def test_plain_prompts_fall_back_to_the_prefix_and_unknown_layouts_are_refused():
    assert openrlhf.extract_response("Findings: lungs clear", "Findings:") == "lungs clear"
    with pytest.raises(ValueError, match="cannot find the response"):
        openrlhf.extract_response("something else entirely", "Findings:")
    with pytest.raises(TypeError, match="query must be a str"):
        openrlhf.extract_response(None, "")


def test_reward_func_file_matches_the_public_api(iu_pairs):
    reward_func = load_like_openrlhf()
    preds, refs = zip(*iu_pairs[:5], strict=True)
    queries = [qwen_vl_query(p, image_tokens=16 + i) for i, p in enumerate(preds)]
    out = reward_func(queries, [QWEN_VL_PROMPT] * 5, list(refs))
    expected = hr.score_batch(list(preds), list(refs), step=0)
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert out["rewards"] == pytest.approx([b.total for b in expected])
    assert out["scores"] == out["rewards"]
    for key, values in out["extra_logs"].items():
        flags = {"semantic_imputed": 0.0}
        assert values == pytest.approx([{**numeric_components(b), **flags}[key] for b in expected])
    assert set(out["extra_logs"]) == {*numeric_components(expected[0]), "semantic_imputed"}


def test_step_keyword_and_environment(iu_pairs, monkeypatch):
    pred, ref = iu_pairs[0]
    query = qwen_vl_query(pred)
    at_step = openrlhf.reward_func([query], [QWEN_VL_PROMPT], [ref], global_step=9000)
    (expected,) = hr.score_batch([pred], [ref], step=9000)
    assert at_step["rewards"] == pytest.approx([expected.total])
    monkeypatch.setenv("HIMED_REWARDS_STEP", "9000")
    assert openrlhf.reward_func([query], [QWEN_VL_PROMPT], [ref]) == at_step


def test_misaligned_inputs_are_refused():
    with pytest.raises(ValueError, match="same length"):
        openrlhf.reward_func(["a"], ["a", "b"], ["a"])
