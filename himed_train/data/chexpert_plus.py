"""CheXpert Plus: ``df_chexpert_plus_240401.csv`` plus its image folder.

One CSV row per image, with the report sections of its study: ``path_to_image``
(``train/patient42142/study5/view1_frontal.jpg``), ``frontal_lateral`` (``Frontal`` /
``Lateral``), ``section_findings``, ``section_impression`` and ``split`` (``train`` /
``valid``). The released images are PNGs although the CSV names ``.jpg`` files, so a missing
``.jpg`` is looked up as ``.png`` too. Rows are grouped into studies by the study folder.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict

from himed_train.data.records import (
    MissingImagePolicy,
    StudyRecord,
    check_limit,
    check_policy,
    read_csv_rows,
    require_columns,
    require_dir,
    require_file,
    resolve_images,
)

__all__ = ["load_chexpert_plus", "CHEXPERT_PLUS_SPLITS"]

CHEXPERT_PLUS_SPLITS = ("train", "valid")
_COLUMNS = ("path_to_image", "frontal_lateral", "section_findings", "section_impression", "split")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def load_chexpert_plus(
    csv_path: str | os.PathLike[str],
    images_dir: str | os.PathLike[str],
    *,
    split: str = "train",
    frontal_only: bool = True,
    max_images_per_study: int = 1,
    require_findings: bool = True,
    missing_images: MissingImagePolicy = "error",
    max_samples: int | None = None,
) -> list[StudyRecord]:
    """Studies of one CheXpert Plus split with their findings and impression.

    Examples:
        >>> import pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> img = root / "PNG/train/patient1/study1/view1_frontal.png"
        >>> img.parent.mkdir(parents=True)
        >>> _ = img.write_bytes(b"")
        >>> _ = (root / "df.csv").write_text(
        ...     "path_to_image,frontal_lateral,section_findings,section_impression,split\\n"
        ...     "train/patient1/study1/view1_frontal.jpg,Frontal,Lungs are clear.,Normal.,train\\n")
        >>> recs = load_chexpert_plus(root / "df.csv", root / "PNG")
        >>> recs[0].study_id, recs[0].images[0].endswith(".png")
        ('train/patient1/study1', True)
    """
    check_policy(missing_images)
    check_limit(max_samples)
    if split not in (*CHEXPERT_PLUS_SPLITS, "all"):
        raise ValueError(f"split must be one of {CHEXPERT_PLUS_SPLITS} or 'all', got {split!r}")
    if not isinstance(max_images_per_study, int) or max_images_per_study < 1:
        raise ValueError(
            f"max_images_per_study must be a positive int, got {max_images_per_study!r}"
        )
    path = require_file(csv_path, "csv_path")
    images_root = require_dir(images_dir, "images_dir")

    studies: OrderedDict[str, dict] = OrderedDict()
    for i, row in enumerate(read_csv_rows(path)):
        if i == 0:
            require_columns(row, _COLUMNS, path)
        if split != "all" and row["split"] != split:
            continue
        if frontal_only and row["frontal_lateral"].strip().lower() != "frontal":
            continue
        study_id = row["path_to_image"].rsplit("/", 1)[0]
        study = studies.setdefault(
            study_id,
            {
                "images": [],
                "findings": _clean(row["section_findings"]),
                "impression": _clean(row["section_impression"]),
                "split": row["split"],
            },
        )
        study["images"].append(row["path_to_image"])

    records: list[StudyRecord] = []
    for study_id, study in studies.items():
        if (require_findings and not study["findings"]) or not (
            study["findings"] or study["impression"]
        ):
            continue
        images = resolve_images(
            images_root,
            study["images"][:max_images_per_study],
            study_id=study_id,
            missing=missing_images,
            alternatives=(".png",),
        )
        if images is None:
            continue
        records.append(
            StudyRecord(
                study_id,
                images,
                study["findings"],
                study["impression"],
                study["split"],
                "chexpert_plus",
            )
        )
        if max_samples is not None and len(records) >= max_samples:
            break
    return records
