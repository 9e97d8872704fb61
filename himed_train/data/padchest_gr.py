"""PadChest-GR (grounded reports), English sentences.

* ``grounded_reports_20240819.json``: a list of studies ``{"StudyID", "ImageID",
  "findings": [{"sentence_en", "sentence_es", "abnormal", "boxes", ...}]}``; one frontal
  PNG per study.
* ``master_table.csv``: one row per (study, label) with ``StudyID`` and ``split``
  (``train`` / ``validation`` / ``test``); needed to select a split.
* images: ``<images_dir>/<ImageID>`` (the ``PadChest_GR`` folder of the release).

The report is the study's English sentences in order; PadChest-GR has no separate
impression, so the impression section stays empty.
"""

from __future__ import annotations

import json
import os

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

__all__ = ["load_padchest_gr", "PADCHEST_GR_SPLITS"]

PADCHEST_GR_SPLITS = ("train", "validation", "test")


def _sentence(text: object) -> str:
    sentence = " ".join(str(text or "").split())
    if sentence and sentence[-1] not in ".!?":
        sentence += "."  # the release stores sentences without a final stop
    return sentence


def load_padchest_gr(
    reports_json: str | os.PathLike[str],
    images_dir: str | os.PathLike[str],
    master_table_csv: str | os.PathLike[str] | None = None,
    *,
    split: str = "train",
    abnormal_only: bool = False,
    missing_images: MissingImagePolicy = "error",
    max_samples: int | None = None,
) -> list[StudyRecord]:
    """Studies of one PadChest-GR split, the report made of the English sentences.

    ``abnormal_only`` keeps only the sentences marked abnormal (the grounded findings).

    Examples:
        >>> import json, pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (root / "img1.png").write_bytes(b"")
        >>> study = {"StudyID": "st1", "ImageID": "img1.png", "findings": [
        ...     {"sentence_en": "Cardiomegaly", "sentence_es": "Cardiomegalia", "abnormal": True},
        ...     {"sentence_en": "No pleural effusion.", "abnormal": False}]}
        >>> _ = (root / "reports.json").write_text(json.dumps([study]))
        >>> _ = (root / "master.csv").write_text("StudyID,split\\nst1,train\\nst1,train\\n")
        >>> recs = load_padchest_gr(root / "reports.json", root, root / "master.csv")
        >>> recs[0].reference
        'Cardiomegaly. No pleural effusion.'
    """
    check_policy(missing_images)
    check_limit(max_samples)
    if split not in (*PADCHEST_GR_SPLITS, "all"):
        raise ValueError(f"split must be one of {PADCHEST_GR_SPLITS} or 'all', got {split!r}")
    path = require_file(reports_json, "reports_json")
    images_root = require_dir(images_dir, "images_dir")
    split_of: dict[str, str] = {}
    if master_table_csv is not None:
        table = require_file(master_table_csv, "master_table_csv")
        for i, row in enumerate(read_csv_rows(table)):
            if i == 0:
                require_columns(row, ("StudyID", "split"), table)
            split_of[row["StudyID"]] = row["split"]
    elif split != "all":
        raise ValueError(f"master_table_csv is needed to select split={split!r}; pass split='all'")

    studies = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(studies, list):
        raise ValueError(f"{path}: expected a JSON list of studies, got {type(studies).__name__}")
    records: list[StudyRecord] = []
    for study in studies:
        study_id = str(study["StudyID"])
        study_split = split_of.get(study_id, "unknown")
        if split != "all" and study_split != split:
            continue
        sentences = [
            _sentence(f.get("sentence_en"))
            for f in study.get("findings", [])
            if not abnormal_only or f.get("abnormal", False)
        ]
        findings = " ".join(s for s in sentences if s)
        if not findings:
            continue
        images = resolve_images(
            images_root, [str(study["ImageID"])], study_id=study_id, missing=missing_images
        )
        if images is None:
            continue
        records.append(StudyRecord(study_id, images, findings, "", study_split, "padchest_gr"))
        if max_samples is not None and len(records) >= max_samples:
            break
    return records
