"""The immutable result of scoring one completion: every level, the weights and the total."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["RewardBreakdown"]


class RewardBreakdown(NamedTuple):
    """Every component of the HiMed reward for one (completion, reference) pair.

    Fields follow the paper's equations: ``token`` (R_token, Eq. 2-3), ``concept_base``
    (ROUGE-L F + METEOR, Eq. 4), ``keyword_bonus`` and ``concept`` (= concept_base +
    keyword_bonus, Eq. 5), ``format`` (+1 / -1, Eq. 7), ``low_level`` (= w_token*token +
    w_concept*concept + w_format*format, Eq. 8), ``semantic`` (= accuracy + relevance +
    completeness in [0, 3], Eq. 6), ``alpha1``/``alpha2`` (Eq. 10) and ``total``
    (= alpha1*low_level + alpha2*semantic, Eq. 9).

    Immutable (a named tuple, like rouge-score's ``Score``: cheap to build for every
    completion of every step). ``semantic`` is None when the semantic level is off (then alpha1 = 1, alpha2 = 0 and
    total = low_level) or when the judge failed under the ``skip`` policy (then ``total``
    is None too, which TRL skips, and ``semantic_error`` says why).

    Examples:
        >>> b = RewardBreakdown(token=0.5, rouge_l=0.6, meteor=0.4, concept_base=1.0,
        ...     keyword_bonus=0.1, concept=1.1, matched_keywords=("effusion",), format=1.0,
        ...     low_level=2.6, semantic=None, semantic_accuracy=None, semantic_relevance=None,
        ...     semantic_completeness=None, semantic_error=None, alpha1=1.0, alpha2=0.0,
        ...     total=2.6)
        >>> b.to_dict()["matched_keywords"], b.total
        (['effusion'], 2.6)
    """

    token: float
    rouge_l: float
    meteor: float
    concept_base: float
    keyword_bonus: float
    concept: float
    matched_keywords: tuple[str, ...]
    format: float
    low_level: float
    semantic: float | None
    semantic_accuracy: float | None
    semantic_relevance: float | None
    semantic_completeness: float | None
    semantic_error: str | None
    alpha1: float
    alpha2: float
    total: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        out = self._asdict()
        out["matched_keywords"] = list(self.matched_keywords)
        return out
