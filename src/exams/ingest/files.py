"""One export file: its name, bytes (sha256, encoding, lines) and header, read by streaming.

Nothing here loops over rows: the file is read in 1 MiB chunks, and rows are parsed by DuckDB
(see `load.py`); only a malformed file falls back to Python's csv module.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

CHUNK = 1 << 20
NAME_RE = re.compile(r"^NDRC_(\d{4})_(\d{2})_(\d{8}T\d{6})\.csv$")

COLUMNS = [
    "session", "code_academie", "numero_candidat", "nom", "prenom", "date_naissance", "sexe",
    "uai_etablissement", "categorie_candidat", "code_epreuve", "forme", "statut", "note",
    "session_origine", "decision", "moyenne",
]  # fmt: skip
# Personal columns that the pipeline never needs may be absent; every other column is required.
OPTIONAL_COLUMNS = {"nom", "prenom", "date_naissance"}
REQUIRED_COLUMNS = [c for c in COLUMNS if c not in OPTIONAL_COLUMNS]


class FileRejected(Exception):
    """The file cannot be read as a whole: every data row goes to quarantine with this reason."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class FileName:
    session: int | None = None
    academy_code: str | None = None
    exported_at: datetime | None = None


@dataclass
class ScannedFile:
    path: Path
    sha256: str
    size: int
    lines: int  # physical lines, trailing empty lines excluded (header included)
    encoding: str | None  # utf-8, utf-8-sig, cp1252; None when undecodable
    utf8_path: Path | None = None  # transcoded copy when the file is not UTF-8
    delimiter: str = ";"
    header: list[str] = field(default_factory=list)  # canonical names, in file order


def parse_name(name: str) -> FileName:
    m = NAME_RE.match(name)
    if not m:
        raise FileRejected(
            "BAD_FILE_NAME",
            f"'{name}' does not follow NDRC_<session>_<code_academie>_<YYYYMMDDTHHMMSS>.csv",
        )
    try:
        at = datetime.strptime(m.group(3), "%Y%m%dT%H%M%S")
    except ValueError as e:
        raise FileRejected("BAD_FILE_NAME", f"'{name}': bad export timestamp ({e})") from e
    return FileName(int(m.group(1)), m.group(2), at)


def scan(path: Path) -> ScannedFile:
    """sha256, encoding and physical line count in one streamed pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    utf8_ok = True
    newlines = 0
    size = 0
    first = b""
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            newlines += chunk.count(b"\n")
            if len(first) < 4:
                first += chunk[:4]
            tail = (tail + chunk)[-65536:]
            if utf8_ok:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    stripped = tail.rstrip(b"\r\n\t ")
    lines = (
        0
        if not stripped and size <= len(tail)
        else newlines - tail[len(stripped) :].count(b"\n") + 1
    )
    encoding: str | None
    if utf8_ok:
        encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
    else:
        encoding = "cp1252" if _decodes(path, "cp1252") else None
    return ScannedFile(path, digest.hexdigest(), size, lines, encoding)


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def transcode_to_utf8(src: Path, dst: Path, encoding: str) -> None:
    """Stream a Windows-1252 file into UTF-8 (DuckDB has no cp1252 reader here)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(src, encoding=encoding, newline="") as fin,
        open(dst, "w", encoding="utf-8", newline="") as fout,
    ):
        while chunk := fin.read(CHUNK):
            fout.write(chunk)


def normalise_header_name(name: str) -> str:
    """Case-, accent- and surrounding-space-insensitive header matching."""
    text = unicodedata.normalize("NFKD", name.strip().strip('"').strip())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[\s\-]+", "_", text)


def read_header(scanned: ScannedFile) -> None:
    """Detect the delimiter and map the header to canonical column names."""
    source = scanned.utf8_path or scanned.path
    enc = "utf-8-sig"  # also strips a BOM
    with open(source, encoding=enc, newline="") as f:
        line = f.readline()
    line = line.rstrip("\r\n")
    if not line.strip():
        raise FileRejected("EMPTY_FILE", "the file has no header line")
    scanned.delimiter = ";" if line.count(";") >= line.count(",") and ";" in line else ","
    names = next(csv.reader(io.StringIO(line), delimiter=scanned.delimiter))
    header = [normalise_header_name(n) for n in names]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FileRejected("MISSING_COLUMN", f"required column(s) missing: {', '.join(missing)}")
    dupes = sorted({c for c in header if c in COLUMNS and header.count(c) > 1})
    if dupes:
        raise FileRejected("DUPLICATE_COLUMN", f"column(s) given twice: {', '.join(dupes)}")
    scanned.header = header
