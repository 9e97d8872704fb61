"""Reading and writing id-aligned records as JSONL or CSV (by file extension)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

__all__ = ["read_texts", "write_records"]

_ID_KEYS = ("id", "study_id", "uid")
_TEXT_KEYS = ("report", "text", "completion", "prediction", "reference")


def _pick(record: dict, keys: tuple[str, ...], path: Path, what: str) -> str:
    for key in keys:
        if key in record:
            return str(record[key])
    raise ValueError(f"{path}: each record needs one of the {what} columns {', '.join(keys)}; "
                     f"found {', '.join(record) or 'none'}")


def read_texts(path: str | Path) -> dict[str, str]:
    """``{id: text}`` from a ``.jsonl`` or ``.csv`` file (columns ``id``/``study_id`` and
    ``report``/``text``/``completion``/...)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    elif path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            records = list(csv.DictReader(handle))
    else:
        raise ValueError(f"{path}: expected a .jsonl or .csv file")
    out: dict[str, str] = {}
    for record in records:
        key = _pick(record, _ID_KEYS, path, "id")
        if key in out:
            raise ValueError(f"{path}: duplicate id {key!r}")
        out[key] = _pick(record, _TEXT_KEYS, path, "text")
    return out


def write_records(path: str | Path, records: Iterable[dict]) -> None:
    """Write dicts as ``.jsonl`` or ``.csv`` (lists become ``;``-joined in CSV)."""
    path = Path(path)
    records = list(records)
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
    elif path.suffix == ".csv":
        fields = list(records[0]) if records else ["id"]
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for record in records:
                writer.writerow({k: ";".join(v) if isinstance(v, list) else v
                                 for k, v in record.items()})
    else:
        raise ValueError(f"{path}: expected a .jsonl or .csv output file")
