"""A verl 0.9 agent loop that answers with a fixed report instead of asking an LLM server.

It stands in for the LLM only: no vLLM/SGLang server runs on CPU. It is loaded the way verl
loads any custom agent loop (``actor_rollout_ref.rollout.agent.agent_loop_config_path``, a
YAML list of ``{name, _target_}``) inside verl's own ``AgentLoopWorker`` Ray actor, which then
runs everything after generation itself: padding, ``_compute_score`` (the per-sample reward
batch sent to the ``RewardLoopWorker`` actor) and ``_postprocess``. It knows nothing of the
training step: the answer depends only on the sample's ``extra_info["responses"]`` and its
``priority`` (verl's global index of the sample in the repeated batch).
"""

from __future__ import annotations

from typing import Any

from verl.experimental.agent_loop.agent_loop import (
    AgentLoopBase,
    AgentLoopMetrics,
    AgentLoopOutput,
)

NAME = "himed_canned_report"


class CannedReportAgentLoop(AgentLoopBase):
    """Single turn: the prompt's text, then ``extra_info["responses"][priority % G]``."""

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        responses = kwargs["extra_info"]["responses"]
        text = responses[int(kwargs["priority"]) % len(responses)]
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
