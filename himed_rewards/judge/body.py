"""The request body of a grading call, serialised once per judge configuration.

Everything in a request is constant for a judge (model, the long fixed system prompt, the
response schema, sampling settings, ``extra_body``) except the user message. Encoding the
whole ~6 KB body with ``json.dumps`` for every sample is wasted work, so the body is encoded
once with a placeholder in place of the user message and split there; each request is then
``prefix + json.dumps(user) + suffix``: byte-identical to encoding the full body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .prompt import SYSTEM_PROMPT

__all__ = ["RequestBody"]

# A placeholder no real payload contains; if extra_body replaces "messages", it is not found
# and the template falls back to encoding each body whole (still correct, only slower).
_PLACEHOLDER = "\x00himed-user-message\x00"


class RequestBody:
    """Builds the JSON bytes of one chat-completion request from its user message.

    Args:
        model: the served model name.
        response_format: the ``response_format`` field for the server's dialect.
        temperature: sampling temperature.
        max_tokens: reply budget.
        extra_body: fields merged last (they override earlier ones, like the ``openai``
            client's ``extra_body``).

    Example:
        >>> body = RequestBody("m", {"type": "json_object"}, 0.0, 64, {"seed": 1})
        >>> data = json.loads(body.encode("Grade this."))
        >>> data["messages"][1], data["seed"], body.templated
        ({'role': 'user', 'content': 'Grade this.'}, 1, True)
    """

    def __init__(
        self,
        model: str,
        response_format: Mapping[str, Any],
        temperature: float,
        max_tokens: int,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self._fields: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": _PLACEHOLDER},
            ],
            "response_format": dict(response_format),
            "temperature": temperature,
            "max_tokens": max_tokens,
            **(extra_body or {}),
        }
        whole = json.dumps(self._fields)
        marker = json.dumps(_PLACEHOLDER)
        self.templated = whole.count(marker) == 1
        if self.templated:
            prefix, suffix = whole.split(marker)
            self._prefix, self._suffix = prefix.encode(), suffix.encode()

    def fields(self, user: str) -> dict[str, Any]:
        """The body as a dict (the slow, obviously-correct form; used for checks)."""
        fields = dict(self._fields)
        if self.templated:
            messages = [dict(m) for m in fields["messages"]]
            messages[1]["content"] = user
            fields["messages"] = messages
        return fields

    def encode(self, user: str) -> bytes:
        """The UTF-8 JSON bytes of the request whose user message is ``user``."""
        if not self.templated:
            return json.dumps(self.fields(user)).encode()
        return self._prefix + json.dumps(user).encode() + self._suffix
