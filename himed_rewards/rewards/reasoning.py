"""The hardened format check: a well-formed completion must also reason (non-empty ``<think>``).

The paper's format reward (Eq. 7) only asks for the three blocks in order, so a policy can
emit ``<think></think>`` and lose nothing. :func:`reasoning_is_blank` finds that case in
linear time; ``RewardConfig(format_require_reasoning=True)`` (the ``hardened`` preset)
then scores the format as -1.
"""

from __future__ import annotations

__all__ = ["reasoning_is_blank"]

_OPEN, _CLOSE = "<think>", "</think>"


def reasoning_is_blank(completion: str) -> bool:
    """True when the first ``<think>`` block holds only whitespace, or there is none.

    Raises:
        TypeError: ``completion`` is not a str.

    Examples:
        >>> reasoning_is_blank("<think> </think><finding>a</finding><impression>b</impression>")
        True
        >>> reasoning_is_blank("<think>clear lungs</think><finding>a</finding>")
        False
    """
    if not isinstance(completion, str):
        raise TypeError(f"completion must be str, got {type(completion).__name__}")
    start = completion.find(_OPEN)
    if start < 0:
        return True
    start += len(_OPEN)
    end = completion.find(_CLOSE, start)
    body = completion[start:] if end < 0 else completion[start:end]
    return not body.strip()
