"""A session's extract folder: its files, its manifest, and the check that a folder on disk is
exactly the one a publication gives.

Files: per table `<name>.csv` (UTF-8 with BOM, `;`, decimal comma: what Excel in France opens)
and `<name>.parquet` (pyarrow, the tables' explicit schema); `ndrc_<session>.xlsx` (openpyxl:
one sheet per table and a `colonnes` sheet describing every column and its source); and
`manifest.json`, written last, listing every other file with its sha256 and row count, the
schema version, the secrecy threshold and the publication (`run_id`) the folder was written from.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

from exams.errors import InvariantBroken
from exams.extracts.tables import Table

# 2.0: Parquet written from the tables' explicit schema (string, int32 session, int64 counts,
# float64 rates; no pandas metadata); the workbook's column sheet names each column's source.
SCHEMA_VERSION = "2.0"
MANIFEST = "manifest.json"
SOURCES_NOTE = (
    "Source : exports de résultats des rectorats, recalculés par la plateforme (marts.pass_rates, "
    "marts.block_capitalisation de l'entrepôt publié). Cellules de moins de {threshold} candidats "
    "masquées, avec masquage complémentaire."
)


@dataclass(frozen=True)
class Expected:
    """What a session's folder must hold to belong to the publication."""

    session: int
    run_id: str  # the publication's identity: its check run
    threshold: int

    @property
    def files(self) -> set[str]:
        tables = [f"ndrc_{self.session}_pass_rates", f"ndrc_{self.session}_blocks"]
        return {f"{t}.{ext}" for t in tables for ext in ("csv", "parquet")} | {
            f"ndrc_{self.session}.xlsx"
        }


def _csv_text(column_type: pa.DataType) -> Callable[[Any], str]:
    if pa.types.is_floating(column_type):
        return lambda v: "" if v is None else str(v).replace(".", ",", 1)
    return lambda v: "" if v is None else str(v)


def write_csv(table: Table, path: Path) -> None:
    texts = [(c.name, _csv_text(c.type)) for c in table.columns]
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        writer.writerow([name for name, _ in texts])
        writer.writerows([text(row[name]) for name, text in texts] for row in table.rows)


def write_parquet(table: Table, path: Path) -> None:
    pq.write_table(table.to_arrow(), path)


def write_xlsx(tables: list[Table], path: Path, threshold: int) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    for table in tables:
        ws = wb.create_sheet(table.kind)
        names = [c.name for c in table.columns]
        ws.append(names)
        for row in table.rows:
            ws.append([row[n] for n in names])
    ws = wb.create_sheet("colonnes")
    ws.append(["table", "colonne", "description", "source"])
    for table in tables:
        for c in table.columns:
            ws.append([table.name, c.name, c.description, c.source])
    ws.append([])
    ws.append([SOURCES_NOTE.format(threshold=threshold)])
    wb.save(path)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_folder(folder: Path, tables: list[Table], expected: Expected) -> None:
    """Write every file of the session into `folder` (new, empty), the manifest last, each
    flushed to disk."""
    files: dict[str, int] = {}
    for table in tables:
        write_csv(table, folder / f"{table.name}.csv")
        write_parquet(table, folder / f"{table.name}.parquet")
        files |= {f"{table.name}.csv": len(table), f"{table.name}.parquet": len(table)}
    xlsx = f"ndrc_{expected.session}.xlsx"
    write_xlsx(tables, folder / xlsx, expected.threshold)
    files[xlsx] = sum(len(t) for t in tables)
    if set(files) != expected.files:  # else the folder would never verify
        raise InvariantBroken(f"extracts wrote {sorted(files)}, expected {sorted(expected.files)}")
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "session": expected.session,
        "run_id": expected.run_id,
        "secrecy_threshold": expected.threshold,
        "files": [{"file": f, "sha256": sha256(folder / f), "rows": n}
                  for f, n in sorted(files.items())],
    }  # fmt: skip
    for name in files:
        _fsync(folder / name)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _fsync(folder / MANIFEST)
    _fsync(folder)


def problem(folder: Path, expected: Expected) -> str | None:
    """Why `folder` is not the session's extract of the publication (None: it is). Reads only:
    a folder that matches is left exactly as it is. Symlinks are never followed."""
    if not folder.is_dir() or folder.is_symlink():
        return "no folder" if not os.path.lexists(folder) else "not a folder"
    entries = {e.name: e for e in os.scandir(folder)}
    if MANIFEST not in entries or not entries[MANIFEST].is_file(follow_symlinks=False):
        return "no manifest"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed = {f["file"]: f["sha256"] for f in manifest["files"]}
        found = {k: manifest[k] for k in ("schema_version", "session", "run_id",
                                          "secrecy_threshold")}  # fmt: skip
    except (ValueError, KeyError, TypeError) as e:
        return f"unreadable manifest ({type(e).__name__}: {e})"
    wanted = {"schema_version": SCHEMA_VERSION, "session": expected.session,
              "run_id": expected.run_id, "secrecy_threshold": expected.threshold}  # fmt: skip
    for key, value in wanted.items():
        if found[key] != value:
            return f"manifest {key} is {found[key]!r}, not {value!r}"
    if set(listed) != expected.files:
        return f"manifest lists {sorted(listed)}"
    if extra := sorted(set(entries) - expected.files - {MANIFEST}):
        return f"extra entries {extra}"
    for name, digest in sorted(listed.items()):
        if name not in entries or not entries[name].is_file(follow_symlinks=False):
            return f"{name} is missing"
        if sha256(folder / name) != digest:
            return f"{name} differs from its manifest sha256"
    return None
