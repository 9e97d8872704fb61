"""``RewardConfig``: every option that changes a reward, validated, saved and loaded as YAML/JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from himed_rewards.judge.verdict import SemanticScorer
from himed_rewards.rewards.schedule import AnySchedule, LinearSchedule, refuse_bools

__all__ = ["PRESETS", "RewardConfig", "semantic_from_spec", "semantic_to_spec"]

#: Named option sets. ``paper`` is the paper's Eqs. 1-10 as written (the defaults).
#: ``hardened`` closes the reward hacks of ``benchmarks/reward_hacking.py``: a keyword
#: counts only if the reference has it with the same polarity, an empty ``<think>`` is a
#: bad format, and the semantic level weighs at least half from step 0 (alpha1 = min(0.5,
#: Eq. 10) in steps of 0.1), so n-gram overlap alone never outweighs clinical content.
#: See docs/reward_hacking.md for the measured win rates of each.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "hardened": {
        "keyword_grounded": True,
        "keyword_negation_aware": True,
        "format_require_reasoning": True,
        "schedule": {"kind": "step", "boundaries": [0, 6_000, 7_000, 8_000, 9_000],
                     "values": [0.5, 0.4, 0.3, 0.2, 0.1]},
    },
}

_DEFAULT = "default"
# Every weight, the keyword bonus and its cap stay at or below this, so that the total
# (weights times scores in [-1, 3]) is always finite: 1e308 validated yet gave inf or nan.
MAX_WEIGHT = 1e6


def semantic_from_spec(spec: Any) -> SemanticScorer | None:
    """Build a semantic scorer from its serialised form.

    ``None`` switches the level off; ``"clinical"`` (or ``{"kind": "clinical"}``) is the
    offline clinical judge; ``{"kind": "llm", "base_url": ..., "model": ..., ...}`` builds an
    :class:`~himed_rewards.judge.LLMJudge` with those keyword arguments.

    Examples:
        >>> semantic_from_spec(None) is None
        True
        >>> semantic_from_spec("clinical").name
        'clinical'
    """
    if spec is None or isinstance(spec, SemanticScorer):
        return spec
    if spec in (_DEFAULT, "clinical") or (isinstance(spec, dict) and spec.get("kind") == "clinical"):
        from himed_rewards.clinical import OfflineClinicalJudge

        return OfflineClinicalJudge()
    if isinstance(spec, dict) and spec.get("kind") == "llm":
        from himed_rewards.judge import LLMJudge

        kwargs = {k: v for k, v in spec.items() if k != "kind"}
        return LLMJudge(**kwargs)
    raise ValueError(
        "semantic must be None, 'clinical', {'kind': 'clinical'}, {'kind': 'llm', ...} or an "
        f"object with name, signature() and score_batch(); got {spec!r}"
    )


def semantic_to_spec(scorer: SemanticScorer | None) -> Any:
    """The serialisable form of a scorer (inverse of :func:`semantic_from_spec`)."""
    if scorer is None:
        return None
    if scorer.name == "clinical":
        return {"kind": "clinical"}
    to_spec = getattr(scorer, "to_spec", None)
    if callable(to_spec):
        return to_spec()
    return {"kind": "custom", "signature": scorer.signature()}


class RewardConfig(BaseModel):
    """All options of the HiMed reward. Defaults reproduce the paper.

    Examples:
        >>> cfg = RewardConfig(keyword_beta=0.1)
        >>> cfg.w_token, cfg.keyword_cap, cfg.schedule.alpha1(2_500)
        (1.0, 0.25, 0.75)
        >>> RewardConfig(w_token=-1)
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for RewardConfig
        w_token
          Input should be greater than or equal to 0 ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    w_token: float = Field(1.0, ge=0.0, le=MAX_WEIGHT, allow_inf_nan=False, description="weight of R_token")
    w_concept: float = Field(1.0, ge=0.0, le=MAX_WEIGHT, allow_inf_nan=False, description="weight of R_concept")
    w_format: float = Field(1.0, ge=0.0, le=MAX_WEIGHT, allow_inf_nan=False, description="weight of R_format")
    keyword_beta: float = Field(0.05, ge=0.0, le=MAX_WEIGHT, allow_inf_nan=False,
                                description="bonus per distinct keyword (beta, Eq. 5)")
    keyword_cap: float = Field(0.25, ge=0.0, le=MAX_WEIGHT, allow_inf_nan=False,
                               description="cap of the keyword bonus (tau_limit, Eq. 5)")
    keywords: tuple[str, ...] | None = Field(
        None, description="your own keyword list; None uses the shipped vocabulary")
    keyword_grounded: bool = Field(
        False, description="a keyword counts only if the reference has it too")
    keyword_negation_aware: bool = Field(
        False, description="a keyword counts only if its negated/affirmed status matches")
    format_require_reasoning: bool = Field(
        False, description="a well-formed completion with an empty <think> scores format -1")
    schedule: AnySchedule = Field(default_factory=lambda: LinearSchedule(T=10_000, alpha_min=0.1))
    tokenize: str = Field("default", description="tokenizer shared by BLEU, ROUGE-L and METEOR")
    bleu_max_order: int = Field(4, ge=1, le=8)
    bleu_smooth: str = Field("exp", pattern="^(none|floor|add-k|exp)$")
    bleu_mean: str = Field("geometric", pattern="^(geometric|arithmetic)$")
    meteor_alpha: float = Field(0.9, ge=0.0, le=1.0)
    meteor_beta: float = Field(3.0, ge=0.0, le=MAX_WEIGHT, allow_inf_nan=False)
    meteor_gamma: float = Field(0.5, ge=0.0, le=1.0)
    semantic: Any = Field(default=_DEFAULT, validate_default=True,
                          description="semantic scorer; None switches it off")

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        # ``preset`` is not a field: it names a set of defaults that explicit fields override.
        if isinstance(data, dict) and "preset" in data:
            data = dict(data)
            name = data.pop("preset")
            if not isinstance(name, str) or name not in PRESETS:
                raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
            data = {**PRESETS[name], **data}
        # A bool is an int to pydantic: refuse it wherever a number is expected.
        flags = ("keyword_grounded", "keyword_negation_aware", "format_require_reasoning")
        if isinstance(data, dict):
            refuse_bools({k: v for k, v in data.items() if k not in flags}, cls.__name__)
        return data

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> RewardConfig:
        """A named option set (see :data:`PRESETS`), with any field overridden.

        Examples:
            >>> cfg = RewardConfig.from_preset("hardened")
            >>> cfg.keyword_negation_aware, cfg.format_require_reasoning, cfg.schedule.alpha1(0)
            (True, True, 0.5)
            >>> RewardConfig.from_preset("paper").signature() == RewardConfig().signature()
            True
            >>> RewardConfig.from_preset("nope")
            Traceback (most recent call last):
            ...
            ValueError: preset must be one of ['hardened', 'paper'], got 'nope'
        """
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
        return cls(preset=name, **overrides)

    @field_validator("tokenize")
    @classmethod
    def _known_tokenizer(cls, value: str) -> str:
        from himed_rewards.text.tokenizers import get_tokenizer

        get_tokenizer(value)
        return value

    @field_validator("semantic", mode="before")
    @classmethod
    def _build_semantic(cls, value: Any) -> Any:
        return semantic_from_spec(value)

    @field_serializer("semantic")
    def _dump_semantic(self, value: Any) -> Any:
        return semantic_to_spec(value)

    def signature(self) -> str:
        """Every option that changes a number, as one string (for logs and result files)."""
        semantic = "off" if self.semantic is None else self.semantic.signature()
        fields = self.model_dump(exclude={"semantic"})
        return json.dumps(fields, sort_keys=True, separators=(",", ":")) + f"|semantic:{semantic}"

    def to_file(self, path: str | Path) -> None:
        """Save as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        path = Path(path)
        data = self.model_dump(mode="json")
        if path.suffix in (".yaml", ".yml"):
            import yaml

            path.write_text(yaml.safe_dump(data, sort_keys=False))
        else:
            path.write_text(json.dumps(data, indent=2))

    @classmethod
    def from_file(cls, path: str | Path) -> RewardConfig:
        """Load from YAML or JSON (validated). A ``preset: <name>`` key starts from that
        preset; the file's other keys override it.

        Examples:
            >>> import tempfile, os
            >>> p = os.path.join(tempfile.mkdtemp(), "reward.yaml")
            >>> RewardConfig(keyword_beta=0.1, semantic=None).to_file(p)
            >>> cfg = RewardConfig.from_file(p)
            >>> cfg.keyword_beta, cfg.semantic
            (0.1, None)
            >>> with open(p, "w") as handle:
            ...     _ = handle.write("preset: hardened\\nkeyword_beta: 0.1\\n")
            >>> cfg = RewardConfig.from_file(p)
            >>> cfg.keyword_grounded, cfg.keyword_beta
            (True, 0.1)
        """
        path = Path(path)
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping of RewardConfig fields")
        return cls.model_validate(data)
