"""One chest X-ray study as every dataset builder returns it, and the TRL rows made from it.

Builders read user-supplied files into :class:`StudyRecord` objects (plain Python, no torch,
no ``datasets``); :mod:`himed_train.data.hf` turns a list of them into a ``datasets.Dataset``.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from himed_train.prompts import build_prompt, plain_reference, tagged_answer

__all__ = [
    "StudyRecord",
    "MissingImagePolicy",
    "DEFAULT_THINK",
    "read_csv_rows",
    "require_file",
    "require_dir",
    "resolve_images",
]

MissingImagePolicy = Literal["error", "skip"]

#: Reasoning text of the cold-start SFT targets when the data has none of its own: a generic
#: reading order, so the model learns the tag layout without made-up case-specific reasoning.
DEFAULT_THINK = (
    "I review the image systematically: support devices, lungs, pleura, heart and mediastinum, "
    "then bones and soft tissues, and compare what I see with a normal chest radiograph."
)


@dataclass(frozen=True)
class StudyRecord:
    """One study: its image files, its report sections and its split.

    Examples:
        >>> r = StudyRecord("s1", ("a.png",), "Lungs are clear.", "Normal.", "train", "demo")
        >>> r.reference
        'Lungs are clear. Normal.'
        >>> row = r.to_grpo_row()
        >>> sorted(row)
        ['dataset', 'images', 'prompt', 'reference', 'split', 'study_id']
        >>> r.to_sft_row()["completion"][0]["content"].startswith("<think>")
        True
    """

    study_id: str
    images: tuple[str, ...]
    findings: str
    impression: str
    split: str
    dataset: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.images:
            raise ValueError(f"study {self.study_id!r} has no images")
        if not self.reference:
            raise ValueError(f"study {self.study_id!r} has neither findings nor impression")

    @property
    def reference(self) -> str:
        """Findings then impression as one text: what the reward scores against."""
        return plain_reference(self.findings, self.impression)

    def to_grpo_row(self, prompt: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """A GRPO row: conversational ``prompt``, ``images`` (paths) and ``reference``."""
        return {
            "prompt": prompt if prompt is not None else build_prompt(),
            "images": list(self.images),
            "reference": self.reference,
            "study_id": self.study_id,
            "split": self.split,
            "dataset": self.dataset,
        }

    def to_sft_row(
        self, prompt: list[dict[str, str]] | None = None, *, think: str = DEFAULT_THINK
    ) -> dict[str, Any]:
        """A prompt-completion SFT row whose completion is the tagged reference report."""
        row = self.to_grpo_row(prompt)
        answer = tagged_answer(self.findings, self.impression, think=think)
        row["completion"] = [{"role": "assistant", "content": answer}]
        return row


def require_file(path: str | os.PathLike[str], argument: str) -> Path:
    """``path`` as a Path, or a ``FileNotFoundError`` naming the argument."""
    resolved = Path(path)
    if not resolved.is_file():
        raise FileNotFoundError(f"{argument}: no such file {str(resolved)!r}")
    return resolved


def require_dir(path: str | os.PathLike[str], argument: str) -> Path:
    """``path`` as a Path, or a ``FileNotFoundError`` naming the argument."""
    resolved = Path(path)
    if not resolved.is_dir():
        raise FileNotFoundError(f"{argument}: no such directory {str(resolved)!r}")
    return resolved


def read_csv_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a CSV file as dicts; ``.csv.gz`` files (as PhysioNet ships them) work too."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    yield from csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))


def require_columns(rows_head: dict[str, str] | None, needed: tuple[str, ...], path: Path) -> None:
    """Raise a ``ValueError`` naming the file and the missing columns."""
    present = set(rows_head or ())
    missing = [c for c in needed if c not in present]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {sorted(present)}")


def resolve_images(
    images_dir: Path,
    relative_paths: list[str],
    *,
    study_id: str,
    missing: MissingImagePolicy,
    alternatives: tuple[str, ...] = (),
) -> tuple[str, ...] | None:
    """Absolute image paths, or None when an image is absent and ``missing="skip"``.

    ``alternatives`` lists file suffixes to try when the named file is absent (CheXpert Plus
    names ``.jpg`` files in its CSV but ships PNGs).
    """
    resolved: list[str] = []
    for rel in relative_paths:
        candidate = images_dir / rel
        if not candidate.is_file():
            for suffix in alternatives:
                if candidate.with_suffix(suffix).is_file():
                    candidate = candidate.with_suffix(suffix)
                    break
        if not candidate.is_file():
            if missing == "skip":
                return None
            raise FileNotFoundError(
                f"study {study_id!r}: image {str(candidate)!r} not found "
                "(pass missing_images='skip' to drop such studies)"
            )
        resolved.append(str(candidate))
    return tuple(resolved)


def check_policy(missing_images: str) -> None:
    """Validate the ``missing_images`` argument shared by every builder."""
    if missing_images not in ("error", "skip"):
        raise ValueError(f"missing_images must be 'error' or 'skip', got {missing_images!r}")


def check_limit(max_samples: int | None) -> None:
    """Validate the ``max_samples`` argument shared by every builder."""
    if max_samples is not None and (not isinstance(max_samples, int) or max_samples < 1):
        raise ValueError(f"max_samples must be a positive int or None, got {max_samples!r}")
