"""Build the training dataset named by a :class:`~himed_train.config.DataSection`."""

from __future__ import annotations

import inspect
from typing import Any, Literal

from himed_train.config import DataSection
from himed_train.data import BUILDERS
from himed_train.data.records import StudyRecord
from himed_train.prompts import build_prompt

__all__ = ["load_records", "build_dataset"]

#: Builder arguments set from the section's own fields, not from ``options``.
_SHARED_ARGS = {"split", "missing_images", "max_samples"}


def load_records(section: DataSection) -> list[StudyRecord]:
    """Run the section's builder with its ``paths``, ``split`` and ``options``.

    Examples:
        >>> load_records(DataSection(dataset="iu_xray", paths={"annotation": "a.json"}))
        Traceback (most recent call last):
        ...
        ValueError: data.paths for iu_xray: unknown key(s) ['annotation']; allowed: [...]
    """
    builder = BUILDERS[section.dataset]
    params = inspect.signature(builder).parameters
    path_args = [
        name for name, p in params.items()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]  # fmt: skip
    unknown = sorted(set(section.paths) - set(path_args))
    if unknown:
        raise ValueError(
            f"data.paths for {section.dataset}: unknown key(s) {unknown}; allowed: {path_args}"
        )
    required = [n for n in path_args if params[n].default is inspect.Parameter.empty]
    missing = [n for n in required if n not in section.paths]
    if missing:
        raise ValueError(f"data.paths for {section.dataset}: missing key(s) {missing}")
    bad_options = sorted(set(section.options) - set(params) | set(section.options) & set(path_args))
    if bad_options:
        raise ValueError(
            f"data.options for {section.dataset}: unknown or path key(s) {bad_options}; "
            f"allowed: {sorted(set(params) - set(path_args) - _SHARED_ARGS)}"
        )
    return builder(
        **section.paths,
        split=section.split,
        missing_images=section.missing_images,
        max_samples=section.max_samples,
        **section.options,
    )


def build_dataset(
    section: DataSection, *, kind: Literal["grpo", "sft"], think: str | None = None
) -> Any:
    """The ``datasets.Dataset`` for GRPO (prompt, images, reference) or SFT (plus completion)."""
    from himed_train.data.hf import to_hf_dataset

    prompt = build_prompt(system=section.system_prompt, instruction=section.instruction)
    extra = {} if think is None else {"think": think}
    return to_hf_dataset(load_records(section), kind=kind, prompt=prompt, **extra)
