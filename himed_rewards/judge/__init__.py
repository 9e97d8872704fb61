"""Semantic judges: the contract (``SemanticScorer``, ``SemanticVerdict``) and the LLM
verifier client (``LLMJudge``) that talks to any OpenAI-compatible server.

Stands apart from the rest of ``himed_rewards``: nothing here imports the metrics or rewards.
The names below load on first use, so importing the reward (which only needs the verdict
contract) does not import the ``openai`` client, ``httpx`` or ``pydantic``.

Examples:
    >>> from himed_rewards.judge import LLMJudge, SemanticScorer
    >>> with LLMJudge("http://127.0.0.1:8000/v1", "Qwen/Qwen3-30B-A3B") as judge:
    ...     isinstance(judge, SemanticScorer)
    True
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from .client import LLMJudge
    from .errors import JudgeError
    from .prompt import PROMPT_VERSION
    from .verdict import SemanticScorer, SemanticVerdict

__all__ = ["LLMJudge", "JudgeError", "SemanticVerdict", "SemanticScorer", "PROMPT_VERSION"]

# public name -> the submodule that defines it
_WHERE = {
    "LLMJudge": "client",
    "JudgeError": "errors",
    "PROMPT_VERSION": "prompt",
    "SemanticScorer": "verdict",
    "SemanticVerdict": "verdict",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
