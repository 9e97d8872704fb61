"""IU X-ray (Open-i) in the R2Gen layout: ``annotation.json`` plus an images folder.

``annotation.json`` maps each split (``train``, ``val``, ``test``) to a list of studies
``{"id", "report", "image_path": [relative paths], "split"?}``; the image paths are relative
to the images folder (``images/CXR2384_IM-0942/0.png`` in R2Gen's copy). R2Gen's report is
one string (findings and impression already joined), so it becomes the findings section.
"""

from __future__ import annotations

import json
import os

from himed_train.data.records import (
    MissingImagePolicy,
    StudyRecord,
    check_limit,
    check_policy,
    require_dir,
    require_file,
    resolve_images,
)

__all__ = ["load_iu_xray", "IU_XRAY_SPLITS"]

IU_XRAY_SPLITS = ("train", "val", "test")


def load_iu_xray(
    annotation_path: str | os.PathLike[str],
    images_dir: str | os.PathLike[str],
    *,
    split: str = "train",
    missing_images: MissingImagePolicy = "error",
    max_samples: int | None = None,
) -> list[StudyRecord]:
    """Studies of one split (or ``"all"``) of an R2Gen-layout IU X-ray copy.

    Examples:
        >>> import json, pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / "images" / "CXR1_1").mkdir(parents=True)
        >>> (root / "images" / "CXR1_1" / "0.png").write_bytes(b"")
        0
        >>> ann = {"train": [{"id": "CXR1_1", "report": "Lungs are clear.",
        ...                   "image_path": ["CXR1_1/0.png"], "split": "train"}],
        ...        "val": [], "test": []}
        >>> _ = (root / "annotation.json").write_text(json.dumps(ann))
        >>> [r.reference for r in load_iu_xray(root / "annotation.json", root / "images")]
        ['Lungs are clear.']
    """
    check_policy(missing_images)
    check_limit(max_samples)
    if split not in (*IU_XRAY_SPLITS, "all"):
        raise ValueError(f"split must be one of {IU_XRAY_SPLITS} or 'all', got {split!r}")
    path = require_file(annotation_path, "annotation_path")
    images_root = require_dir(images_dir, "images_dir")
    annotation = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(annotation, dict) or not set(IU_XRAY_SPLITS) & set(annotation):
        raise ValueError(f"{path}: expected an R2Gen annotation object with keys {IU_XRAY_SPLITS}")
    splits = IU_XRAY_SPLITS if split == "all" else (split,)
    records: list[StudyRecord] = []
    for split_name in splits:
        for entry in annotation.get(split_name, []):
            study_id = str(entry["id"])
            report = str(entry.get("report", "")).strip()
            if not report:
                continue  # a study without text cannot be a reference
            images = resolve_images(
                images_root, list(entry["image_path"]), study_id=study_id, missing=missing_images
            )
            if images is None:
                continue
            records.append(StudyRecord(study_id, images, report, "", split_name, "iu_xray"))
            if max_samples is not None and len(records) >= max_samples:
                return records
    return records
