"""Semantic judges: the contract (``SemanticScorer``, ``SemanticVerdict``) and the LLM
verifier client (``LLMJudge``) that talks to any OpenAI-compatible server.

Stands apart from the rest of ``himed_rewards``: nothing here imports the metrics or rewards.

Examples:
    >>> from himed_rewards.judge import LLMJudge, SemanticScorer
    >>> with LLMJudge("http://127.0.0.1:8000/v1", "Qwen/Qwen3-30B-A3B") as judge:
    ...     isinstance(judge, SemanticScorer)
    True
"""

from .client import LLMJudge
from .errors import JudgeError
from .prompt import PROMPT_VERSION
from .verdict import SemanticScorer, SemanticVerdict

__all__ = ["LLMJudge", "JudgeError", "SemanticVerdict", "SemanticScorer", "PROMPT_VERSION"]
