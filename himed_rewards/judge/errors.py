"""Typed failures of the LLM judge, each with a short machine-readable reason code.

The reason code is what ``judge.stats.failures`` counts and what the reward breakdown's
``semantic_error`` starts with, so dashboards can group failures without parsing prose.
"""

from __future__ import annotations

__all__ = ["JudgeError", "REASONS"]

#: Every reason code the judge can report, with what it means.
REASONS: dict[str, str] = {
    "timeout": "no complete reply within the per-request timeout",
    "connection": "the server could not be reached or dropped the connection",
    "http_5xx": "the server answered with a 5xx status (retried)",
    "http_429": "the server is rate-limiting (retried)",
    "http_4xx": "the server rejected the request (not retried: it would fail again)",
    "invalid_json": "the reply content is not a JSON object",
    "invalid_schema": "the reply is JSON but misses fields or holds out-of-range scores",
    "truncated": "the reply was cut off (finish_reason='length')",
    "refusal": "the model refused or a content filter stopped it",
    "empty_reply": "the reply has no content",
    "too_large": "the reply is larger than the transport's cap (not retried)",
    "closed": "the judge was closed while the request waited",
    "internal": "an unexpected error inside the client (a bug: please report it)",
}


class JudgeError(RuntimeError):
    """The judge could not produce a verdict after all attempts.

    Raised only with ``on_failure="raise"``; otherwise the same facts end up in
    ``SemanticVerdict.error``.

    Examples:
        >>> err = JudgeError("invalid_json", "reply is prose", attempts=3, last_raw="Sure!")
        >>> err.reason, err.attempts, err.last_raw
        ('invalid_json', 3, 'Sure!')
        >>> str(err)
        'invalid_json: reply is prose (after 3 attempts)'
    """

    def __init__(
        self, reason: str, detail: str, *, attempts: int, last_raw: str | None = None
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {sorted(REASONS)}, got {reason!r}")
        self.reason = reason
        self.detail = detail
        self.attempts = attempts
        self.last_raw = last_raw
        plural = "attempt" if attempts == 1 else "attempts"
        super().__init__(f"{reason}: {detail} (after {attempts} {plural})")

    def __reduce__(self):  # keep the keyword-only fields when pickled across processes
        return (_rebuild, (self.reason, self.detail, self.attempts, self.last_raw))


def _rebuild(reason: str, detail: str, attempts: int, last_raw: str | None) -> JudgeError:
    return JudgeError(reason, detail, attempts=attempts, last_raw=last_raw)
