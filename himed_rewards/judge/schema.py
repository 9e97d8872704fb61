"""The judge's structured reply: a pydantic model, its JSON schema per server dialect, and
the strict parse + normalisation of a raw reply into three axes in [0, 1].

Short evidence strings come *before* the scores so that the model states what it saw
before it commits to numbers (generation follows the schema's property order).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import JudgeError
from .prompt import SCORE_MAX

__all__ = [
    "JudgeReply",
    "DIALECTS",
    "response_format",
    "parse_reply",
    "parse_axes",
    "parse_completion_body",
]

RAW_LIMIT = 2000  # characters of a bad reply kept for the error (enough to debug, bounded)

Dialect = Literal["openai", "llama_cpp"]

#: ``openai``: ``{"type": "json_schema", ...}`` (vLLM >= 0.12, OpenAI, SGLang).
#: ``llama_cpp``: ``{"type": "json_object", "schema": ...}`` (llama-cpp-python's server,
#: also accepted by llama.cpp's own ``llama-server``).
DIALECTS: tuple[str, ...] = ("openai", "llama_cpp")

_SCHEMA_NAME = "himed_judge_verdict"


class JudgeReply(BaseModel):
    """What the judge must answer; re-validated on our side whatever the server enforced.

    Examples:
        >>> r = JudgeReply.model_validate_json(
        ...     '{"accuracy_evidence": "ok", "relevance_evidence": "ok",'
        ...     ' "completeness_evidence": "misses effusion",'
        ...     ' "accuracy": 10, "relevance": 8, "completeness": 5}')
        >>> r.normalised()
        (1.0, 0.8, 0.5)
    """

    model_config = ConfigDict(extra="forbid", strict=False)

    accuracy_evidence: str = Field(description="One short sentence: decisive findings.")
    relevance_evidence: str = Field(description="One short sentence: decisive findings.")
    completeness_evidence: str = Field(description="One short sentence: decisive findings.")
    accuracy: int = Field(ge=0, le=SCORE_MAX)
    relevance: int = Field(ge=0, le=SCORE_MAX)
    completeness: int = Field(ge=0, le=SCORE_MAX)

    def normalised(self) -> tuple[float, float, float]:
        """``(accuracy, relevance, completeness)``, each divided by ``SCORE_MAX``."""
        return (
            self.accuracy / SCORE_MAX,
            self.relevance / SCORE_MAX,
            self.completeness / SCORE_MAX,
        )


def _json_schema() -> dict[str, Any]:
    schema = JudgeReply.model_json_schema()
    schema.pop("description", None)  # the class docstring is for humans, not the judge
    # Scores as an explicit enum: every grammar engine (llama.cpp's converter, xgrammar,
    # outlines, OpenAI strict mode) enforces an enum, while some ignore minimum/maximum.
    for axis in ("accuracy", "relevance", "completeness"):
        prop = schema["properties"][axis]
        prop.pop("minimum", None)
        prop.pop("maximum", None)
        prop["enum"] = list(range(SCORE_MAX + 1))
    # Strict structured-output modes (OpenAI) require every property listed as required and
    # no extra keys; pydantic already emits both because no field has a default.
    schema["additionalProperties"] = False
    return schema


_SCHEMA = _json_schema()

#: Longest evidence string a llama.cpp grammar allows. A small model can otherwise loop
#: inside a string until max_tokens; OpenAI's strict mode refuses length keywords, so the
#: ``openai`` dialect relies on ``max_tokens`` instead.
EVIDENCE_MAX_CHARS = 160


def _bounded_schema() -> dict[str, Any]:
    schema = copy.deepcopy(_SCHEMA)
    for name, prop in schema["properties"].items():
        if name.endswith("_evidence"):
            prop["maxLength"] = EVIDENCE_MAX_CHARS
    return schema


_BOUNDED_SCHEMA = _bounded_schema()


def response_format(dialect: str) -> dict[str, Any]:
    """The ``response_format`` request field for a server dialect.

    Examples:
        >>> response_format("openai")["type"], response_format("llama_cpp")["type"]
        ('json_schema', 'json_object')
        >>> response_format("llama_cpp")["schema"]["required"][-1]
        'completeness'
    """
    if dialect == "openai":
        return {
            "type": "json_schema",
            "json_schema": {"name": _SCHEMA_NAME, "schema": _SCHEMA, "strict": True},
        }
    if dialect == "llama_cpp":
        return {"type": "json_object", "schema": _BOUNDED_SCHEMA}
    raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")


def _strip_fences(content: str) -> str:
    # Some servers ignore response_format and wrap the object in a markdown fence; the
    # object itself is still validated strictly.
    text = content.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3]
        if text.startswith("json"):
            text = text[4:]
    return text.strip()


def parse_reply(content: str | None, finish_reason: str | None) -> JudgeReply:
    """Validate one reply; raise ``JudgeError`` (attempts=1) with a reason code if unusable.

    Out-of-range scores are rejected, never clipped: clipping would turn a confused judge
    into a confident reward.

    Examples:
        >>> ok = ('{"accuracy_evidence": "a", "relevance_evidence": "b",'
        ...       ' "completeness_evidence": "c",'
        ...       ' "accuracy": 7, "relevance": 9, "completeness": 4}')
        >>> parse_reply(ok, "stop").normalised()
        (0.7, 0.9, 0.4)
        >>> for bad in (ok.replace("7", "11"), "Sure! The report is great."):
        ...     try:
        ...         parse_reply(bad, "stop")
        ...     except JudgeError as err:
        ...         print(err)
        invalid_schema: accuracy: Input should be less than or equal to 10 (after 1 attempt)
        invalid_json: Expecting value at char 0 (after 1 attempt)
    """
    if finish_reason == "length":
        raise JudgeError("truncated", "reply cut off by max_tokens", attempts=1, last_raw=content)
    if finish_reason == "content_filter":
        raise JudgeError(
            "refusal", "content filter stopped the reply", attempts=1, last_raw=content
        )
    if content is None or not content.strip():
        raise JudgeError(
            "empty_reply", f"finish_reason={finish_reason!r}", attempts=1, last_raw=content
        )
    text = _strip_fences(content)
    try:
        # strict=False accepts raw newlines/tabs inside strings, which grammar-constrained
        # servers (llama.cpp) let through in the evidence text; structure stays strict.
        data = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise JudgeError(
            "invalid_json", f"{exc.msg} at char {exc.pos}", attempts=1, last_raw=content
        ) from None
    if not isinstance(data, dict):
        raise JudgeError(
            "invalid_json",
            f"expected a JSON object, got {type(data).__name__}",
            attempts=1,
            last_raw=content,
        )
    try:
        # strict=True: "7" or 7.5 are not scores; bools are refused too.
        return JudgeReply.model_validate(data, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "reply"
        raise JudgeError(
            "invalid_schema", f"{where}: {first['msg']}", attempts=1, last_raw=content
        ) from None


def parse_completion_body(body: bytes) -> tuple[str | None, str | None]:
    """``(content, finish_reason)`` of the first choice of a raw chat-completion body.

    Example:
        >>> parse_completion_body(
        ...     b'{"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}]}')
        ('{}', 'stop')
        >>> try:
        ...     parse_completion_body(b"<html>bad gateway</html>")
        ... except JudgeError as err:
        ...     print(err.reason, "|", err.last_raw)
        empty_reply | <html>bad gateway</html>
    """
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        message = choice.get("message") or {}
        content, finish = message.get("content"), choice.get("finish_reason")
        refusal = message.get("refusal")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raw = body[:RAW_LIMIT].decode("utf-8", "replace")
        raise JudgeError(
            "empty_reply",
            f"not a chat completion ({type(exc).__name__})",
            attempts=1,
            last_raw=raw,
        ) from None
    if refusal:
        raise JudgeError(
            "refusal", " ".join(str(refusal).split())[:200], attempts=1, last_raw=str(refusal)
        )
    if content is not None and not isinstance(content, str):
        raise JudgeError(
            "empty_reply",
            "message content is not a string",
            attempts=1,
            last_raw=str(content)[:RAW_LIMIT],
        )
    return content, finish


_TEXT_FIELDS = ("accuracy_evidence", "relevance_evidence", "completeness_evidence")
_SCORE_FIELDS = ("accuracy", "relevance", "completeness")
_FIELD_SET = frozenset(_TEXT_FIELDS + _SCORE_FIELDS)


def parse_axes(content: str | None, finish_reason: str | None) -> tuple[float, float, float]:
    """``parse_reply(...).normalised()`` without building a model for a well-formed reply.

    A reply that passes the same checks as ``JudgeReply`` in strict mode (exactly the six
    keys, three ``str``, three ``int`` in 0..SCORE_MAX, no bool) is read directly; anything
    else goes through ``parse_reply``, which raises the same ``JudgeError`` as before. Why:
    pydantic validation was a measurable share of the client's per-verdict CPU.

    Example:
        >>> ok = ('{"accuracy_evidence": "a", "relevance_evidence": "b",'
        ...       ' "completeness_evidence": "c",'
        ...       ' "accuracy": 7, "relevance": 9, "completeness": 4}')
        >>> parse_axes(ok, "stop")
        (0.7, 0.9, 0.4)
    """
    if finish_reason not in ("length", "content_filter") and content:
        try:
            data = json.loads(content, strict=False)
        except ValueError:
            data = None
        if type(data) is dict and data.keys() == _FIELD_SET:
            scores = [data[name] for name in _SCORE_FIELDS]
            if all(type(data[name]) is str for name in _TEXT_FIELDS) and all(
                type(v) is int and 0 <= v <= SCORE_MAX for v in scores
            ):
                return (scores[0] / SCORE_MAX, scores[1] / SCORE_MAX, scores[2] / SCORE_MAX)
    return parse_reply(content, finish_reason).normalised()
