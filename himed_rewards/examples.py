"""The bundled synthetic example pairs (``himed-rewards demo`` scores them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

__all__ = ["ExamplePair", "example_pairs"]


@dataclass(frozen=True)
class ExamplePair:
    """One synthetic (completion, reference) pair and the behaviour it shows."""

    id: str
    case: str
    completion: str
    reference: str


@lru_cache(maxsize=1)
def example_pairs() -> tuple[ExamplePair, ...]:
    """The shipped examples: exact, paraphrase, negation flip, omission, hallucination, ...

    Examples:
        >>> [p.id for p in example_pairs()][:3]
        ['exact', 'paraphrase', 'negation_flip']
    """
    raw = json.loads(files("himed_rewards.data").joinpath("examples/pairs.json").read_text())
    return tuple(ExamplePair(**pair) for pair in raw["pairs"])
