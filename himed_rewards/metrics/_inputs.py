"""Argument checking shared by every metric's front door.

A *text* is a ``str`` (tokenized by the metric's tokenizer) or a sequence of ``str`` tokens
(used as it is). ``references`` for one hypothesis is a ``str`` (one reference) or a
sequence of texts (several); a tokenized single reference is therefore written ``[tokens]``,
as nltk's ``meteor_score([ref_tokens], hyp_tokens)`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from himed_rewards.text.interning import as_token_input

Text = str | tuple[str, ...]

__all__ = [
    "Text",
    "check_choice",
    "check_positive_int",
    "check_number",
    "normalize_references",
    "normalize_batch",
]


def check_choice(value: object, allowed: Sequence[str], argument: str) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise a ValueError naming both.

    Examples:
        >>> check_choice("exp", ("none", "exp"), "smooth")
        'exp'
    """
    if isinstance(value, str) and value in allowed:
        return value
    options = ", ".join(repr(a) for a in allowed)
    raise ValueError(f"{argument} must be one of {options}, got {value!r}")


def check_positive_int(value: object, argument: str, *, maximum: int | None = None) -> int:
    """An int >= 1 (and <= maximum), not a bool."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{argument} must be an int, got {type(value).__name__}")
    if value < 1 or (maximum is not None and value > maximum):
        bound = f" and <= {maximum}" if maximum is not None else ""
        raise ValueError(f"{argument} must be >= 1{bound}, got {value}")
    return value


def check_number(value: object, argument: str, *, minimum: float = -math.inf,
                 maximum: float = math.inf) -> float:
    """A finite real number within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise ValueError(f"{argument} must be a finite number in [{minimum}, {maximum}], got {value!r}")
    return float(value)


def normalize_references(references: object, argument: str = "references") -> tuple[Text, ...]:
    """One hypothesis's references as a non-empty tuple of texts.

    Examples:
        >>> normalize_references("no effusion")
        ('no effusion',)
        >>> normalize_references([["no", "effusion"], "clear lungs"])
        (('no', 'effusion'), 'clear lungs')
        >>> normalize_references([])
        Traceback (most recent call last):
        ...
        ValueError: references must hold at least one reference, got an empty sequence
    """
    if isinstance(references, str):
        return (references,)
    if not isinstance(references, (list, tuple)):
        raise TypeError(
            f"{argument} must be a str or a sequence of references (str or token lists), "
            f"got {type(references).__name__}"
        )
    if not references:
        raise ValueError(f"{argument} must hold at least one reference, got an empty sequence")
    return tuple(as_token_input(r, f"{argument}[{i}]") for i, r in enumerate(references))


def normalize_batch(
    hypotheses: object, references: object
) -> tuple[list[Text], list[tuple[Text, ...]]]:
    """Validate aligned batches: ``references[i]`` belongs to ``hypotheses[i]``.

    Examples:
        >>> normalize_batch(["a b"], ["a"])
        (['a b'], [('a',)])
        >>> normalize_batch(["a"], ["a", "b"])
        Traceback (most recent call last):
        ...
        ValueError: hypotheses and references must have the same length, got 1 and 2
    """
    for name, value in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a sequence (list or tuple), got {type(value).__name__}")
    if len(hypotheses) != len(references):  # type: ignore[arg-type]
        raise ValueError(
            "hypotheses and references must have the same length, "
            f"got {len(hypotheses)} and {len(references)}"  # type: ignore[arg-type]
        )
    is_str = str.__instancecheck__
    if all(map(is_str, hypotheses)) and all(map(is_str, references)):  # type: ignore[arg-type]
        return list(hypotheses), [(r,) for r in references]  # type: ignore[arg-type, union-attr]
    hyps = [as_token_input(h, f"hypotheses[{i}]") for i, h in enumerate(hypotheses)]  # type: ignore[arg-type]
    refs = [normalize_references(r, f"references[{i}]") for i, r in enumerate(references)]  # type: ignore[arg-type]
    return hyps, refs
