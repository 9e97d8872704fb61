"""Reading and writing id-aligned records: JSONL, CSV, TSV, or plain line-aligned text.

Every problem with an input file is an :class:`InputError` whose message names the file and,
where it helps, the line; the CLI prints it on one line and exits with code 2.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["InputError", "STDIN", "read_texts", "write_records"]

STDIN = "-"
_ID_KEYS = ("id", "study_id", "uid")
_TEXT_KEYS = ("report", "text", "completion", "prediction", "reference")
_TABLES = {".csv": ",", ".tsv": "\t"}


class InputError(ValueError):
    """An input file is missing, unreadable or malformed (the message says where)."""


def _pick(record: dict, keys: tuple[str, ...], where: str, what: str) -> str:
    for key in keys:
        if key in record and record[key] is not None:
            return str(record[key])
    found = ", ".join(str(k) for k in record) or "none"
    raise InputError(f"{where}: no {what} column (one of {', '.join(keys)}); found {found}")


def _read_table(path: Path, delimiter: str) -> list[tuple[str, dict]]:
    # utf-8-sig: Excel writes a byte-order mark before the first header.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter, strict=True)
        records = []
        try:
            for record in reader:
                records.append((f"{path}:{reader.line_num}", record))
        except csv.Error as error:
            # The reader has consumed the rest of the file by now; the bad row starts right
            # after the last good one.
            line = int(records[-1][0].rsplit(":", 1)[1]) + 1 if records else 2
            kind = path.suffix[1:].upper()
            if "end of data" in str(error):
                raise InputError(f"{path}:{line}: unterminated quote: a quoted field opened "
                                 f"in this row never closes") from None
            raise InputError(f"{path}:{line}: malformed {kind}: {error}") from None
    return records


def _read_jsonl(path: Path) -> list[tuple[str, dict]]:
    records = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: not valid JSON ({error.msg} at column "
                                 f"{error.colno})") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{number}: expected a JSON object per line, got "
                                 f"{type(record).__name__}")
            records.append((f"{path}:{number}", record))
    return records


def _read_lines(lines: Iterable[str]) -> dict[str, str]:
    """Plain text, one report per line (as sacrebleu reads): ids are line numbers from 1."""
    return {str(number): line.rstrip("\r\n") for number, line in enumerate(lines, start=1)}


def read_texts(path: str | Path) -> dict[str, str]:
    """``{id: text}`` from a ``.jsonl``, ``.csv`` or ``.tsv`` file, plain text, or stdin.

    Tables and JSONL need an id column (``id``/``study_id``/``uid``) and a text column
    (``report``/``text``/``completion``/``prediction``/``reference``); any other file, and
    ``"-"`` (stdin), is line-aligned text whose ids are the line numbers ``"1"``, ``"2"``, ...

    Args:
        path: the file, or ``"-"`` for standard input.

    Returns:
        Texts by id, in file order.

    Raises:
        InputError: missing file, malformed JSON/CSV, missing column or duplicate id.

    Examples:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> p = os.path.join(d, "gts.csv")
        >>> _ = open(p, "w", encoding="utf-8-sig").write("study_id,report\\ns1,No effusion.\\n")
        >>> read_texts(p)
        {'s1': 'No effusion.'}
    """
    if str(path) == STDIN:
        return _read_lines(sys.stdin)
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if path.suffix == ".json":
        raise InputError(f"{path}: expected .jsonl (one JSON object per line), .csv, .tsv or "
                         f"plain text with one report per line")
    try:
        if path.suffix in _TABLES:
            records = _read_table(path, _TABLES[path.suffix])
        elif path.suffix == ".jsonl":
            records = _read_jsonl(path)
        else:
            with path.open(encoding="utf-8-sig") as handle:
                return _read_lines(handle)
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") \
            from None
    out: dict[str, str] = {}
    for where, record in records:
        key = _pick(record, _ID_KEYS, where, "id")
        if key in out:
            raise InputError(f"{where}: duplicate id {key!r}")
        out[key] = _pick(record, _TEXT_KEYS, where, "text")
    return out


def write_records(path: str | Path, records: Iterable[dict]) -> None:
    """Write dicts as ``.jsonl`` or ``.csv`` (lists become ``;``-joined in CSV).

    Args:
        path: the output file; its extension picks the format.
        records: one dict per row (CSV columns come from the first).

    Raises:
        InputError: an extension other than ``.jsonl`` / ``.csv``.

    Examples:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "out.jsonl")
        >>> write_records(p, [{"id": "1", "total": 0.5}])
        >>> open(p).read()
        '{"id": "1", "total": 0.5}\\n'
    """
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
        raise InputError(f"{path}: expected a .jsonl or .csv output file")
