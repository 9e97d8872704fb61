"""MIMIC-CXR-JPG: its metadata and split CSVs, the JPG tree, and sectioned reports.

* ``mimic-cxr-2.0.0-metadata.csv[.gz]``: ``dicom_id, subject_id, study_id, ViewPosition, ...``
* ``mimic-cxr-2.0.0-split.csv[.gz]``: ``dicom_id, study_id, subject_id, split``
  (``train`` / ``validate`` / ``test``)
* images: ``files/p{first two digits}/p{subject_id}/s{study_id}/{dicom_id}.jpg``
* report sections: ``mimic_cxr_sectioned.csv[.gz]`` as written by the MIMIC-CXR code's
  ``create_section_files.py`` (columns ``study`` = ``s<study_id>``, ``findings``,
  ``impression``, ...).

MIMIC-CXR is credentialed data: nothing of it ships with this package; users point the
builder at their own copy.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict

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

__all__ = ["load_mimic_cxr", "MIMIC_SPLITS", "VIEW_ORDER"]

MIMIC_SPLITS = ("train", "validate", "test")
#: Preferred order of views when a study has more images than ``max_images_per_study``.
VIEW_ORDER = ("PA", "AP", "LATERAL", "LL")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _study_key(value: str) -> str:
    """``s50414267`` and ``50414267`` name the same study."""
    return value.strip().lstrip("s")


def load_mimic_cxr(
    images_dir: str | os.PathLike[str],
    metadata_csv: str | os.PathLike[str],
    split_csv: str | os.PathLike[str],
    sections_csv: str | os.PathLike[str],
    *,
    split: str = "train",
    views: tuple[str, ...] = ("PA", "AP"),
    max_images_per_study: int = 1,
    require_findings: bool = True,
    missing_images: MissingImagePolicy = "error",
    max_samples: int | None = None,
) -> list[StudyRecord]:
    """Studies of one MIMIC-CXR-JPG split with their findings and impression.

    ``images_dir`` is the folder that holds ``files/``. Studies with no image of the wanted
    ``views`` are dropped, and so are studies with an empty findings section when
    ``require_findings`` (the usual report-generation setting).

    Examples:
        >>> import pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> img = root / "files/p10/p10000032/s50414267/d1.jpg"
        >>> img.parent.mkdir(parents=True)
        >>> _ = img.write_bytes(b"")
        >>> _ = (root / "meta.csv").write_text(
        ...     "dicom_id,subject_id,study_id,ViewPosition\\nd1,10000032,50414267,PA\\n")
        >>> _ = (root / "split.csv").write_text(
        ...     "dicom_id,study_id,subject_id,split\\nd1,50414267,10000032,train\\n")
        >>> _ = (root / "sections.csv").write_text(
        ...     "study,impression,findings\\ns50414267,No acute process.,Lungs are clear.\\n")
        >>> csvs = [root / name for name in ("meta.csv", "split.csv", "sections.csv")]
        >>> recs = load_mimic_cxr(root, *csvs)
        >>> recs[0].study_id, recs[0].reference
        ('50414267', 'Lungs are clear. No acute process.')
    """
    check_policy(missing_images)
    check_limit(max_samples)
    if split not in (*MIMIC_SPLITS, "all"):
        raise ValueError(f"split must be one of {MIMIC_SPLITS} or 'all', got {split!r}")
    if not isinstance(max_images_per_study, int) or max_images_per_study < 1:
        raise ValueError(
            f"max_images_per_study must be a positive int, got {max_images_per_study!r}"
        )
    images_root = require_dir(images_dir, "images_dir")
    meta_path = require_file(metadata_csv, "metadata_csv")
    split_path = require_file(split_csv, "split_csv")
    sections_path = require_file(sections_csv, "sections_csv")

    split_of: dict[str, str] = {}
    for i, row in enumerate(read_csv_rows(split_path)):
        if i == 0:
            require_columns(row, ("dicom_id", "split"), split_path)
        split_of[row["dicom_id"]] = row["split"]

    wanted_views = {v.upper() for v in views}
    images_of: dict[str, list[tuple[int, str, str]]] = defaultdict(
        list
    )  # study -> (rank, dicom, subject)
    for i, row in enumerate(read_csv_rows(meta_path)):
        if i == 0:
            require_columns(row, ("dicom_id", "subject_id", "study_id", "ViewPosition"), meta_path)
        view = (row["ViewPosition"] or "").upper()
        if view not in wanted_views:
            continue
        row_split = split_of.get(row["dicom_id"])
        if row_split is None or (split != "all" and row_split != split):
            continue
        rank = VIEW_ORDER.index(view) if view in VIEW_ORDER else len(VIEW_ORDER)
        images_of[_study_key(row["study_id"])].append((rank, row["dicom_id"], row["subject_id"]))

    records: list[StudyRecord] = []
    for i, row in enumerate(read_csv_rows(sections_path)):
        if i == 0:
            require_columns(row, ("study", "findings", "impression"), sections_path)
        study_id = _study_key(row["study"])
        if study_id not in images_of:
            continue
        findings, impression = _clean(row["findings"]), _clean(row["impression"])
        if (require_findings and not findings) or not (findings or impression):
            continue
        chosen = sorted(images_of[study_id])[:max_images_per_study]
        relative = [
            f"files/p{subject[:2]}/p{subject}/s{study_id}/{dicom}.jpg"
            for _, dicom, subject in chosen
        ]
        images = resolve_images(images_root, relative, study_id=study_id, missing=missing_images)
        if images is None:
            continue
        study_split = split_of[chosen[0][1]]
        records.append(
            StudyRecord(study_id, images, findings, impression, study_split, "mimic_cxr")
        )
        if max_samples is not None and len(records) >= max_samples:
            break
    return records
