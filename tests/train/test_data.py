"""Dataset builders on small files laid out like the real releases, made in tmp dirs."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from himed_train.config import DataSection
from himed_train.data import (
    load_chexpert_plus,
    load_iu_xray,
    load_mimic_cxr,
    load_padchest_gr,
)
from himed_train.data.from_config import load_records
from himed_train.prompts import USER_INSTRUCTION


def touch_image(path: Path, size: int = 8) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color=(size, 0, 0)).save(path)


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, gz: bool = False) -> Path:
    lines = [",".join(header)] + [",".join(f'"{c}"' for c in row) for row in rows]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# -- IU X-ray (R2Gen annotation.json) ------------------------------------------------------


@pytest.fixture
def iu_root(tmp_path: Path) -> Path:
    ann = {"train": [], "val": [], "test": []}
    for split, ids in (
        ("train", ["CXR1_1_IM-0001", "CXR2_1_IM-0652"]),
        ("test", ["CXR3_1_IM-1384"]),
    ):
        for sid in ids:
            for k in (0, 1):
                touch_image(tmp_path / "images" / sid / f"{k}.png")
            ann[split].append({
                "id": sid, "report": f"Report of {sid}. The lungs are clear.",
                "image_path": [f"{sid}/0.png", f"{sid}/1.png"], "split": split,
            })  # fmt: skip
    ann["train"].append(
        {"id": "CXR9_empty", "report": "  ", "image_path": ["x/0.png"], "split": "train"}
    )
    (tmp_path / "annotation.json").write_text(json.dumps(ann))
    return tmp_path


def test_iu_xray_reads_a_split_with_both_views(iu_root: Path):
    records = load_iu_xray(iu_root / "annotation.json", iu_root / "images", split="train")
    assert [r.study_id for r in records] == [
        "CXR1_1_IM-0001",
        "CXR2_1_IM-0652",
    ]  # empty report dropped
    first = records[0]
    assert len(first.images) == 2 and all(Path(p).is_file() for p in first.images)
    assert first.reference == "Report of CXR1_1_IM-0001. The lungs are clear."
    assert first.split == "train" and first.dataset == "iu_xray"
    assert len(load_iu_xray(iu_root / "annotation.json", iu_root / "images", split="all")) == 3
    assert len(load_iu_xray(iu_root / "annotation.json", iu_root / "images", max_samples=1)) == 1


def test_iu_xray_missing_image_error_or_skip(iu_root: Path):
    (iu_root / "images" / "CXR2_1_IM-0652" / "1.png").unlink()
    with pytest.raises(FileNotFoundError, match="CXR2_1_IM-0652/1.png"):
        load_iu_xray(iu_root / "annotation.json", iu_root / "images")
    kept = load_iu_xray(iu_root / "annotation.json", iu_root / "images", missing_images="skip")
    assert [r.study_id for r in kept] == ["CXR1_1_IM-0001"]


def test_iu_xray_bad_arguments(iu_root: Path):
    with pytest.raises(ValueError, match="split must be one of"):
        load_iu_xray(iu_root / "annotation.json", iu_root / "images", split="validate")
    with pytest.raises(FileNotFoundError, match="annotation_path"):
        load_iu_xray(iu_root / "nope.json", iu_root / "images")
    with pytest.raises(FileNotFoundError, match="images_dir"):
        load_iu_xray(iu_root / "annotation.json", iu_root / "no-images")
    with pytest.raises(ValueError, match="missing_images"):
        load_iu_xray(iu_root / "annotation.json", iu_root / "images", missing_images="ignore")
    with pytest.raises(ValueError, match="max_samples"):
        load_iu_xray(iu_root / "annotation.json", iu_root / "images", max_samples=0)
    (iu_root / "list.json").write_text("[]")
    with pytest.raises(ValueError, match="R2Gen annotation"):
        load_iu_xray(iu_root / "list.json", iu_root / "images")


def test_iu_xray_real_annotation_layout_parses():
    """The real R2Gen annotation (shared data) has this layout; images are not shipped."""
    real = (
        Path(__file__).resolve().parents[2]
        / ".."
        / "shared"
        / "data"
        / "iu_xray"
        / "annotation.json"
    )
    if not real.is_file():
        pytest.skip(f"shared data not present at {real}")
    records = load_iu_xray(real, real.parent, split="test", missing_images="skip")
    assert records == []  # every study is dropped because no image file exists here
    with pytest.raises(FileNotFoundError, match="image"):
        load_iu_xray(real, real.parent, split="test")


# -- MIMIC-CXR-JPG -------------------------------------------------------------------------


@pytest.fixture
def mimic_root(tmp_path: Path) -> Path:
    meta = [  # dicom, subject, study, view
        ["d-lat", "10000032", "50414267", "LATERAL"],
        ["d-pa", "10000032", "50414267", "PA"],
        ["d-ap", "10000032", "50414267", "AP"],
        ["d-ap2", "10000764", "57375967", "AP"],
        ["d-test", "10000898", "50771383", "PA"],
        ["d-nofind", "10000935", "51178377", "PA"],
    ]
    split = {"d-lat": "train", "d-pa": "train", "d-ap": "train", "d-ap2": "train",
             "d-test": "test", "d-nofind": "train"}  # fmt: skip
    for dicom, subject, study, _ in meta:
        touch_image(tmp_path / f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg")
    write_csv(tmp_path / "mimic-cxr-2.0.0-metadata.csv.gz",
              ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
               "ViewPosition"],
              [[d, su, st, "CHEST (PA AND LAT)", v] for d, su, st, v in meta], gz=True)  # fmt: skip
    write_csv(tmp_path / "mimic-cxr-2.0.0-split.csv.gz",
              ["dicom_id", "study_id", "subject_id", "split"],
              [[d, st, su, split[d]] for d, su, st, _ in meta], gz=True)  # fmt: skip
    write_csv(tmp_path / "mimic_cxr_sectioned.csv",
              ["study", "impression", "findings", "last_paragraph", "comparison"],
              [["s50414267", "No acute process.", "Lungs are\n clear.", "", ""],
               ["s57375967", "Small effusion.", "Left effusion.", "", "None."],
               ["s50771383", "Normal.", "Clear lungs.", "", ""],
               ["s51178377", "Only an impression.", "", "", ""]])  # fmt: skip
    return tmp_path


def mimic(root: Path, **kw):
    return load_mimic_cxr(
        root, root / "mimic-cxr-2.0.0-metadata.csv.gz", root / "mimic-cxr-2.0.0-split.csv.gz",
        root / "mimic_cxr_sectioned.csv", **kw,
    )  # fmt: skip


def test_mimic_cxr_split_views_and_sections(mimic_root: Path):
    records = mimic(mimic_root)
    assert [r.study_id for r in records] == [
        "50414267",
        "57375967",
    ]  # test split and no-findings dropped
    first = records[0]
    assert first.images == (
        str(mimic_root / "files/p10/p10000032/s50414267/d-pa.jpg"),
    )  # PA before AP
    assert first.findings == "Lungs are clear." and first.impression == "No acute process."
    assert first.reference == "Lungs are clear. No acute process."
    two = mimic(mimic_root, max_images_per_study=3, views=("PA", "AP", "LATERAL"))[0]
    assert [Path(p).stem for p in two.images] == ["d-pa", "d-ap", "d-lat"]
    assert [r.study_id for r in mimic(mimic_root, split="test")] == ["50771383"]
    with_impression_only = mimic(mimic_root, require_findings=False)
    assert "51178377" in [r.study_id for r in with_impression_only]


def test_mimic_cxr_errors(mimic_root: Path):
    with pytest.raises(ValueError, match="split must be one of"):
        mimic(mimic_root, split="val")
    with pytest.raises(ValueError, match="max_images_per_study"):
        mimic(mimic_root, max_images_per_study=0)
    write_csv(mimic_root / "mimic_cxr_sectioned.csv", ["study_id", "text"], [["1", "x"]])
    with pytest.raises(
        ValueError, match=r"missing column\(s\) \['study', 'findings', 'impression'\]"
    ):
        mimic(mimic_root)


# -- CheXpert Plus -------------------------------------------------------------------------

CXP_HEADER = ["path_to_image", "path_to_dcm", "frontal_lateral", "ap_pa", "deid_patient_id",
              "patient_report_date_order", "report", "section_findings", "section_impression",
              "split"]  # fmt: skip


@pytest.fixture
def chexpert_root(tmp_path: Path) -> Path:
    rows = [
        [
            "train/patient00001/study1/view1_frontal.jpg",
            "Frontal",
            "AP",
            "Lungs clear.",
            "Normal.",
            "train",
        ],
        [
            "train/patient00001/study1/view2_lateral.jpg",
            "Lateral",
            "",
            "Lungs clear.",
            "Normal.",
            "train",
        ],
        [
            "train/patient00002/study1/view1_frontal.jpg",
            "Frontal",
            "PA",
            "",
            "Impression only.",
            "train",
        ],
        [
            "valid/patient64541/study1/view1_frontal.jpg",
            "Frontal",
            "AP",
            "Effusion.",
            "Effusion.",
            "valid",
        ],
    ]
    for path, *_ in rows:
        touch_image((tmp_path / "PNG" / path).with_suffix(".png"))  # released as PNG
    write_csv(tmp_path / "df_chexpert_plus_240401.csv", CXP_HEADER,
              [[p, p.replace(".jpg", ".dcm"), fl, ap, "pid", "1", "full text", f, i, s]
               for p, fl, ap, f, i, s in rows])  # fmt: skip
    return tmp_path


def test_chexpert_plus_groups_studies_and_finds_pngs(chexpert_root: Path):
    csv_path = chexpert_root / "df_chexpert_plus_240401.csv"
    records = load_chexpert_plus(csv_path, chexpert_root / "PNG")
    assert [r.study_id for r in records] == ["train/patient00001/study1"]
    assert records[0].images[0].endswith("view1_frontal.png")
    assert records[0].reference == "Lungs clear. Normal."
    both = load_chexpert_plus(
        csv_path, chexpert_root / "PNG", frontal_only=False, max_images_per_study=2
    )
    assert len(both[0].images) == 2
    assert [
        r.split for r in load_chexpert_plus(csv_path, chexpert_root / "PNG", split="valid")
    ] == ["valid"]
    loose = load_chexpert_plus(csv_path, chexpert_root / "PNG", require_findings=False)
    assert [r.study_id for r in loose] == ["train/patient00001/study1", "train/patient00002/study1"]


def test_chexpert_plus_missing_columns(chexpert_root: Path):
    bad = write_csv(chexpert_root / "bad.csv", ["path_to_image", "report"], [["a.jpg", "x"]])
    with pytest.raises(ValueError, match="section_findings"):
        load_chexpert_plus(bad, chexpert_root / "PNG")


# -- PadChest-GR ---------------------------------------------------------------------------


@pytest.fixture
def padchest_root(tmp_path: Path) -> Path:
    studies = [
        {"StudyID": "st-a", "ImageID": "a_01-001-001.png", "findings": [
            {"sentence_en": "Cardiomegaly", "sentence_es": "Cardiomegalia", "abnormal": True,
             "boxes": [[0.2, 0.3, 0.8, 0.9]], "labels": ["cardiomegaly"], "locations": []},
            {"sentence_en": "No pleural effusion.", "sentence_es": "Sin derrame.",
             "abnormal": False}]},
        {"StudyID": "st-b", "ImageID": "b_02-002-002.png", "findings": [
            {"sentence_en": "Right basal atelectasis", "abnormal": True}]},
    ]  # fmt: skip
    for study in studies:
        touch_image(tmp_path / "PadChest_GR" / study["ImageID"])
    (tmp_path / "grounded_reports_20240819.json").write_text(json.dumps(studies))
    with open(tmp_path / "master_table.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ImageID", "StudyID", "PatientID", "label", "label_group", "split"])
        writer.writerow(["a_01-001-001.png", "st-a", "p1", "cardiomegaly", "cardiomegaly", "train"])
        writer.writerow(["a_01-001-001.png", "st-a", "p1", "normal", "", "train"])
        writer.writerow(["b_02-002-002.png", "st-b", "p2", "atelectasis", "atelectasis", "test"])
    return tmp_path


def test_padchest_gr_english_sentences_and_split(padchest_root: Path):
    args = (padchest_root / "grounded_reports_20240819.json", padchest_root / "PadChest_GR",
            padchest_root / "master_table.csv")  # fmt: skip
    records = load_padchest_gr(*args)
    assert [r.study_id for r in records] == ["st-a"]
    assert records[0].reference == "Cardiomegaly. No pleural effusion."  # English, not Spanish
    assert records[0].impression == ""
    assert load_padchest_gr(*args, abnormal_only=True)[0].reference == "Cardiomegaly."
    assert [r.study_id for r in load_padchest_gr(*args, split="test")] == ["st-b"]
    everything = load_padchest_gr(*args[:2], split="all")
    assert [r.split for r in everything] == ["unknown", "unknown"]


def test_padchest_gr_split_needs_master_table(padchest_root: Path):
    with pytest.raises(ValueError, match="master_table_csv is needed"):
        load_padchest_gr(
            padchest_root / "grounded_reports_20240819.json", padchest_root / "PadChest_GR"
        )


# -- rows, HF datasets and the config path -------------------------------------------------


def test_grpo_and_sft_rows(iu_root: Path):
    record = load_iu_xray(iu_root / "annotation.json", iu_root / "images")[0]
    row = record.to_grpo_row()
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][-1]["content"] == USER_INSTRUCTION
    assert row["reference"] == record.reference and row["images"] == list(record.images)
    sft = record.to_sft_row(think="Look at the lungs.")
    answer = sft["completion"][0]["content"]
    assert sft["completion"][0]["role"] == "assistant"
    assert answer.startswith("<think>Look at the lungs.</think>")
    assert f"<finding>{record.findings}</finding>" in answer and answer.endswith("</impression>")


def test_to_hf_dataset_decodes_images(iu_root: Path):
    pytest.importorskip("datasets", reason="the datasets package (train extra) is not installed")
    from himed_train.data.hf import to_hf_dataset

    records = load_iu_xray(iu_root / "annotation.json", iu_root / "images")
    ds = to_hf_dataset(records)
    assert len(ds) == 2 and {"prompt", "images", "reference"} <= set(ds.column_names)
    assert [im.size for im in ds[0]["images"]] == [(8, 8), (8, 8)]
    sft = to_hf_dataset(records, kind="sft")
    assert sft[1]["completion"][0]["content"].startswith("<think>")
    with pytest.raises(ValueError, match="records is empty"):
        to_hf_dataset([])
    with pytest.raises(ValueError, match="kind must be"):
        to_hf_dataset(records, kind="dpo")


def test_load_records_from_a_data_section(padchest_root: Path):
    section = DataSection(
        dataset="padchest_gr",
        paths={"reports_json": str(padchest_root / "grounded_reports_20240819.json"),
               "images_dir": str(padchest_root / "PadChest_GR"),
               "master_table_csv": str(padchest_root / "master_table.csv")},
        options={"abnormal_only": True},
    )  # fmt: skip
    assert [r.reference for r in load_records(section)] == ["Cardiomegaly."]
    bad = section.model_copy(update={"options": {"colour": True}})
    with pytest.raises(ValueError, match="data.options for padchest_gr"):
        load_records(bad)
    missing = section.model_copy(update={"paths": {"images_dir": "x"}})
    with pytest.raises(ValueError, match=r"missing key\(s\) \['reports_json'\]"):
        load_records(missing)
