"""OpenRLHF adapter: response extraction, and the reward_func file driven through OpenRLHF 0.11's
own code (``openrlhf.utils.agent.SingleTurnAgentExecutor`` loads it and calls it; the real
``_process_response_into_experience`` turns its result into the logged ``Experience.info``).

Only generation is replaced: vLLM needs a GPU, so a scripted engine returns the response tokens
(tokenised by a byte-level BPE tokenizer, as Qwen's is). The step reaches the reward only through
what OpenRLHF really offers: nothing, so through the step file or the step clock."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import logging
import sys
import types
from pathlib import Path

import pytest

import himed_rewards as hr
from himed_rewards.integrations import openrlhf, step
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
    out = reward_func(queries, [QWEN_VL_PROMPT] * 5, list(refs), global_step=0)
    expected = hr.score_batch(list(preds), list(refs), step=0)
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert out["rewards"] == pytest.approx([b.total for b in expected])
    assert out["scores"] == out["rewards"]
    flags = {"semantic_imputed": 0.0, "schedule_step": 0.0}
    for key, values in out["extra_logs"].items():
        assert values == pytest.approx([{**numeric_components(b), **flags}[key] for b in expected])
    assert set(out["extra_logs"]) == {*numeric_components(expected[0]), *flags}


def test_one_query_gives_scalars_like_openrlhfs_example(iu_pairs):
    pred, ref = iu_pairs[0]
    out = openrlhf.reward_func([qwen_vl_query(pred)], [QWEN_VL_PROMPT], [ref], global_step=9000)
    (expected,) = hr.score_batch([pred], [ref], step=9000)
    assert out["rewards"] == out["scores"] == pytest.approx(expected.total)
    assert out["extra_logs"]["alpha1"] == pytest.approx(expected.alpha1)
    assert all(isinstance(v, float) for v in out["extra_logs"].values())


def test_misaligned_and_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="same length"):
        openrlhf.reward_func(["a"], ["a", "b"], ["a"])
    with pytest.raises(TypeError, match=r"labels\[0\] must be a str, got None"):
        openrlhf.reward_func(["<|im_start|>assistant\nx"], [""], [None])
    with pytest.raises(ValueError, match=r"labels\[0\] is empty: pass --data.label_key"):
        openrlhf.reward_func(["<|im_start|>assistant\nx"], [""], [""])
    with pytest.raises(TypeError, match="labels must be a list"):
        openrlhf.reward_func(["q"], ["p"], "ref")
    with pytest.raises(TypeError, match="global_step"):
        openrlhf.reward_func(["<|im_start|>assistant\nx"], [""], ["y"], global_step=1.5)


# -- through OpenRLHF 0.11's own code --------------------------------------------------------

SYSTEM = "You are a radiologist."


@pytest.fixture(scope="module")
def tokenizer(iu_pairs):
    """A byte-level BPE tokenizer with Qwen's special tokens and chat template: it decodes
    exactly what it encoded, as Qwen's does (OpenRLHF decodes with special tokens kept)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    corpus = [text for pair in iu_pairs for text in pair] + [SYSTEM, "user assistant"]
    backend.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=600,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials[:1],
        chat_template=(
            "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
        ),
    )


class ScriptedEngine:
    """Stands in for vLLM's engine only: ``generate`` returns the next scripted response as
    token ids, the shape ``SingleTurnAgentExecutor.execute`` reads."""

    def __init__(self, tokenizer, responses):
        self.tokenizer, self.responses = tokenizer, list(responses)

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        text = self.responses.pop(0) + "<|im_end|>"
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        out = types.SimpleNamespace(token_ids=ids, text=text, finish_reason="stop", logprobs=None)
        return types.SimpleNamespace(outputs=[out])


def _openrlhf():
    try:
        from openrlhf.trainer.ppo_utils.experience import Experience
        from openrlhf.utils import agent
    except ImportError as exc:
        pytest.skip(f"OpenRLHF 0.11 is not importable ({exc}): pip install --no-deps openrlhf")
    return agent, Experience


def _process_response_into_experience():
    """OpenRLHF's own ``SamplesGenerator._process_response_into_experience``, compiled from the
    installed file (the module imports vLLM and Ray at import time, which CPU CI lacks)."""
    import openrlhf as framework

    _, Experience = _openrlhf()
    path = Path(framework.__file__).parent / "trainer" / "ppo_utils" / "samples_generator.py"
    tree = ast.parse(path.read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SamplesGenerator"]
    (fn,) = [n for n in cls.body if getattr(n, "name", "") == "_process_response_into_experience"]
    namespace = {"torch": pytest.importorskip("torch"), "Experience": Experience}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(path), "exec"), namespace)
    return namespace["_process_response_into_experience"]


@pytest.fixture(autouse=True)
def _fresh_state(fresh_step_state, monkeypatch):
    monkeypatch.setattr(openrlhf, "_mates", openrlhf._ScoredMates())


def rollout(tokenizer, pairs, n_samples):
    """One OpenRLHF rollout on one engine: ``RolloutRayActor.generate_responses``
    (trainer/ray/vllm_engine.py:182-203) gathers ``n_samples`` ``executor.execute`` calls per
    prompt; the executor is built from ``--reward.remote_url`` exactly as vllm_engine.py:59
    builds it. Returns the Experiences ``_process_response_into_experience`` makes."""
    agent, _ = _openrlhf()
    executor = agent.SingleTurnAgentExecutor(openrlhf.__file__)
    assert executor.reward_func is not None and executor.reward_func.__module__ == "reward_func"
    prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Write the report."}],
        tokenize=False,
        add_generation_prompt=True,
    )
    params = types.SimpleNamespace(max_tokens=256, logprobs=None)

    async def generate_responses(pred, ref):
        engine = ScriptedEngine(tokenizer, [pred] * n_samples)
        tasks = [
            executor.execute(prompt, ref, params, 2048, tokenizer, engine) for _ in range(n_samples)
        ]
        return await asyncio.gather(*tasks)

    async def all_prompts():
        return await asyncio.gather(*(generate_responses(p, r) for p, r in pairs))

    process = _process_response_into_experience()
    responses = [r for group in asyncio.run(all_prompts()) for r in group]
    return [process(None, response) for response in responses]


def logged_mean(experiences, key):
    """How ppo_actor.py logs an ``info`` key: every sample's value, averaged."""
    import torch

    return torch.cat([e.info[key].float().flatten() for e in experiences]).mean().item()


@pytest.mark.parametrize(("trainer_step", "alpha1"), [(0, 1.0), (5_000, 0.5), (20_000, 0.1)])
def test_published_step_reaches_the_reward_inside_openrlhfs_executor(
    tokenizer, iu_pairs, tmp_path, monkeypatch, trainer_step, alpha1
):
    monkeypatch.setenv(step.STEP_FILE_ENV, str(tmp_path / "step.json"))
    step.publish_step(trainer_step)  # the trainer side
    pairs = iu_pairs[:2]
    experiences = rollout(tokenizer, pairs, n_samples=2)
    assert len(experiences) == 4
    assert logged_mean(experiences, "alpha1") == pytest.approx(alpha1)
    assert logged_mean(experiences, "alpha2") == pytest.approx(1 - alpha1)
    assert logged_mean(experiences, "schedule_step") == trainer_step
    expected = hr.score_batch([p for p, _ in pairs], [r for _, r in pairs], step=trainer_step)
    for experience, b in zip(experiences, [b for b in expected for _ in range(2)], strict=True):
        assert experience.rewards.shape == (1,) and experience.scores.shape == (1,)
        assert experience.rewards.item() == pytest.approx(b.total, rel=1e-6)
        for key in ("token", "concept", "format", "semantic", "low_level"):
            assert experience.info[key].item() == pytest.approx(getattr(b, key), rel=1e-6)


def test_step_clock_follows_openrlhfs_one_sample_calls(tokenizer, iu_pairs, monkeypatch):
    # 2 prompts x 2 samples per step on one engine; T = 4 makes every step visible
    config = tmp_config(monkeypatch, T=4)
    monkeypatch.setenv(step.SAMPLES_PER_STEP_ENV, "4")
    for trainer_step in range(3):
        experiences = rollout(tokenizer, iu_pairs[:2], n_samples=2)
        assert logged_mean(experiences, "schedule_step") == trainer_step
        assert logged_mean(experiences, "alpha1") == pytest.approx(
            config.schedule.alpha1(trainer_step)
        )


def tmp_config(monkeypatch, T):
    import tempfile

    path = Path(tempfile.mkdtemp()) / "reward.yaml"
    config = hr.RewardConfig(schedule={"kind": "linear", "T": T, "alpha_min": 0.1})
    config.to_file(path)
    monkeypatch.setenv("HIMED_REWARDS_CONFIG", str(path))
    return config


def test_no_step_warns_once_and_says_how(tokenizer, iu_pairs, caplog):
    with caplog.at_level(logging.WARNING, logger="himed_rewards.integrations"):
        first = rollout(tokenizer, iu_pairs[:1], n_samples=2)
        rollout(tokenizer, iu_pairs[:1], n_samples=2)
    warnings = [r for r in caplog.records if "handed no training step" in r.getMessage()]
    assert len(warnings) == 1
    assert "HIMED_REWARDS_SAMPLES_PER_STEP" in warnings[0].getMessage()
    assert logged_mean(first, "alpha1") == 1.0


def test_failed_verdict_is_imputed_from_group_mates_scored_earlier(iu_pairs):
    helpers = sys.modules["himed_integration_test_helpers"]
    config = hr.RewardConfig(semantic=helpers.PartlyFailingJudge())
    pred, ref = iu_pairs[0]
    queries = [qwen_vl_query(pred), qwen_vl_query("FAIL " + pred)]
    ok = openrlhf.reward_func(queries[:1], [QWEN_VL_PROMPT], [ref], global_step=5000, config=config)
    failed = openrlhf.reward_func(
        queries[1:], [QWEN_VL_PROMPT], [ref], global_step=5000, config=config
    )
    (b,) = hr.score_batch(["FAIL " + pred], [ref], step=5000, config=config)
    assert failed["extra_logs"]["semantic_imputed"] == 1.0
    assert failed["extra_logs"]["semantic"] == pytest.approx(ok["extra_logs"]["semantic"])
    assert failed["rewards"] == pytest.approx(
        b.alpha1 * b.low_level + b.alpha2 * ok["extra_logs"]["semantic"]
    )
    # another step or another label: no mates yet, so the low-level reward (alpha1 = 1)
    alone = openrlhf.reward_func(
        queries[1:], [QWEN_VL_PROMPT], [ref], global_step=5001, config=config
    )
    assert alone["rewards"] == pytest.approx(b.low_level)
    assert alone["extra_logs"]["alpha1"] == 1.0


def test_scored_mates_memory_is_bounded():
    mates = openrlhf._ScoredMates(max_groups=2, per_group=3)
    for value in range(5):
        mates.add((0, "a"), {"semantic": float(value)})
    assert mates.mean((0, "a")) == {"semantic": 3.0}  # the last three: 2, 3, 4
    mates.add((0, "b"), {"semantic": 1.0})
    mates.add((1, "a"), {"semantic": 1.0})
    assert mates.mean((0, "a")) is None and mates.mean((0, "b")) == {"semantic": 1.0}
