"""Turn :class:`StudyRecord` lists into ``datasets.Dataset`` objects TRL trains on.

The ``images`` column holds file paths cast to ``datasets.Image`` so images are decoded
lazily, one batch at a time, instead of all at load.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from himed_train.data.records import DEFAULT_THINK, StudyRecord

__all__ = ["to_hf_dataset"]


def to_hf_dataset(
    records: Sequence[StudyRecord],
    *,
    kind: Literal["grpo", "sft"] = "grpo",
    prompt: list[dict[str, str]] | None = None,
    think: str = DEFAULT_THINK,
) -> Any:
    """A ``datasets.Dataset`` of GRPO rows (``prompt``, ``images``, ``reference``) or SFT rows
    (plus ``completion``).

    Examples:
        >>> import pathlib, tempfile
        >>> from PIL import Image
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.png"
        >>> Image.new("RGB", (8, 8)).save(path)
        >>> record = StudyRecord("s1", (str(path),), "Clear.", "Normal.", "train", "demo")
        >>> ds = to_hf_dataset([record])
        >>> ds.column_names[:3], ds[0]["images"][0].size
        (['prompt', 'images', 'reference'], (8, 8))
    """
    if kind not in ("grpo", "sft"):
        raise ValueError(f"kind must be 'grpo' or 'sft', got {kind!r}")
    if not records:
        raise ValueError("records is empty: the dataset builder found no usable study")
    import datasets  # the train extra; imported here so the builders stay light

    if kind == "grpo":
        rows = [r.to_grpo_row(prompt) for r in records]
    else:
        rows = [r.to_sft_row(prompt, think=think) for r in records]
    dataset = datasets.Dataset.from_list(rows)
    image_list = getattr(datasets, "List", datasets.Sequence)(datasets.Image())
    return dataset.cast_column("images", image_list)
