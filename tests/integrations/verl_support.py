"""What the verl tests share: verl's own config, a tiny local model, a canned agent loop.

* :func:`compose_verl_config` composes verl's ``ppo_trainer.yaml`` (from the installed verl
  wheel) with Hydra, exactly as ``verl.trainer.main_ppo`` does, plus the given overrides.
* :func:`build_tiny_model_dir` writes what ``HFModelConfig`` and ``hf_tokenizer`` load: a
  word-level tokenizer over the given reports (``himed_train.tiny``) and a 1-layer Llama
  ``config.json``. No weights: nothing here runs the model.
* :func:`canned_rollout_config` and :func:`collated_reports`: the rollout tests' config (the
  canned loop answering :data:`REPORTS`, rewarded through ``HimedRewardLoopManager``) and
  their prompt batch, as verl's dataloader collates it.
* :class:`CannedReportAgentLoop` is a verl 0.9 agent loop that answers with a fixed report
  instead of asking an LLM server (no vLLM/SGLang server runs on CPU). verl loads it the way
  it loads any custom agent loop (``actor_rollout_ref.rollout.agent.agent_loop_config_path``,
  a YAML list of ``{name, _target_}``) inside its own ``AgentLoopWorker`` Ray actor, which then
  runs everything after generation itself: padding, ``_compute_score`` (the per-sample reward
  batch sent to the ``RewardLoopWorker`` actor) and ``_postprocess``. It knows nothing of the
  training step: its answer depends only on ``extra_info["responses"]`` and the sample's number
  that verl passes (``priority`` in the legacy worker, ``session_id`` in v1's TQ worker).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import verl
    from hydra import compose, initialize_config_dir
    from verl.experimental.agent_loop.agent_loop import (
        AgentLoopBase,
        AgentLoopMetrics,
        AgentLoopOutput,
    )
except ImportError:  # the tests that use this module skip without verl; doctest collection
    verl = None  # still imports it

CANNED_LOOP_NAME = "himed_canned_report"

# The canned rollout of the rollout tests: G samples per prompt, one prompt text, and
# (reference, the G answers the canned loop gives for it) per dataset row.
G = 3
PROMPT = "Describe the chest X-ray."
REPORTS = [
    (
        "Heart size normal. No pleural effusion.",
        ["Normal heart. No effusion.", "Heart size normal. No pleural effusion.", "Large effusion."],
    ),
    (
        "Small left pleural effusion.",
        ["Left pleural effusion is present.", "No acute disease.", "Small left pleural effusion."],
    ),
]


def compose_verl_config(overrides: Sequence[str], config_name: str = "ppo_trainer") -> Any:
    """verl's trainer config with ``overrides`` (Hydra syntax), as main_ppo composes it."""
    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name=config_name, overrides=list(overrides))


def build_tiny_model_dir(directory: Path, texts: Sequence[str]) -> Path:
    """A model directory verl can load a tokenizer and an HF config from."""
    from transformers import LlamaConfig

    from himed_train.tiny import build_tiny_tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(list(texts))
    tokenizer.save_pretrained(directory)
    LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        architectures=["LlamaForCausalLM"],
    ).save_pretrained(directory)
    return directory


def write_agent_loop_config(path: Path) -> Path:
    """verl's agent-loop registry file naming :class:`CannedReportAgentLoop`."""
    module = Path(__file__).stem
    path.write_text(f"- name: {CANNED_LOOP_NAME}\n  _target_: {module}.CannedReportAgentLoop\n")
    return path


def canned_rollout_config(tmp: Path, overrides: Sequence[str]) -> Any:
    """verl's config for a rollout of :data:`REPORTS` by :class:`CannedReportAgentLoop`
    (the tiny model and the agent-loop file are written under ``tmp``), rewarded by
    ``compute_score`` through ``HimedRewardLoopManager`` in one ``RewardLoopWorker``, plus
    ``overrides``."""
    texts = [PROMPT] + [r for r, _ in REPORTS] + [a for _, answers in REPORTS for a in answers]
    model_dir = build_tiny_model_dir(tmp / "model", texts)
    loops = write_agent_loop_config(tmp / "agent_loops.yaml")
    return compose_verl_config(
        [
            f"actor_rollout_ref.model.path={model_dir}",
            "actor_rollout_ref.rollout.name=vllm",
            f"actor_rollout_ref.rollout.n={G}",
            "actor_rollout_ref.rollout.agent.num_workers=1",
            f"actor_rollout_ref.rollout.agent.default_agent_loop={CANNED_LOOP_NAME}",
            f"actor_rollout_ref.rollout.agent.agent_loop_config_path={loops}",
            "data.max_prompt_length=32",
            "data.max_response_length=32",
            "reward.num_workers=1",
            "reward.custom_reward_function.path=pkg://himed_rewards.integrations.verl",
            "reward.custom_reward_function.name=compute_score",
            "reward.reward_manager.source=importlib",
            "reward.reward_manager.module.path=pkg://himed_rewards.integrations.verl_manager",
            "reward.reward_manager.name=HimedRewardLoopManager",
            *overrides,
        ]
    )


def collated_reports() -> dict[str, Any]:
    """:data:`REPORTS` as the trainer's dataloader gives them: what ``RLHFDataset.__getitem__``
    yields for a report row, through verl's ``collate_fn``."""
    import torch
    from verl.utils.dataset.rl_dataset import collate_fn

    rows = [
        {
            "raw_prompt": [{"role": "user", "content": PROMPT}],
            "data_source": "iu_xray",
            "reward_model": {"style": "rule", "ground_truth": reference},
            "extra_info": {"index": i, "responses": answers},
            "index": i,
            "dummy_tensor": torch.tensor([0], dtype=torch.uint8),
        }
        for i, (reference, answers) in enumerate(REPORTS)
    ]
    return collate_fn(rows)


def actor_pythonpath() -> str:
    """PYTHONPATH for Ray actors: this checkout (himed_rewards) and this folder."""
    here = Path(__file__).resolve().parent
    root = here.parents[1]
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (str(root), str(here), inherited) if p)


if verl is not None:

    class CannedReportAgentLoop(AgentLoopBase):
        """Single turn: the prompt's text, then ``extra_info["responses"][i % G]``."""

        async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
            responses = kwargs["extra_info"]["responses"]
            # v1's AgentLoopWorkerTQ numbers the G samples of a prompt (session_id); the legacy
            # AgentLoopWorker gives each sample a global priority (its index in the batch)
            which = kwargs["session_id"] if "session_id" in kwargs else kwargs["priority"]
            text = responses[int(which) % len(responses)]
            prompt_ids = self.tokenizer.encode(kwargs["raw_prompt"][-1]["content"])
            response_ids = self.tokenizer.encode(text)
            return AgentLoopOutput(
                prompt_ids=prompt_ids,
                response_ids=response_ids,
                response_mask=[1] * len(response_ids),
                num_turns=2,
                metrics=AgentLoopMetrics(),
                extra_fields={"turn_scores": [], "tool_rewards": []},
            )
