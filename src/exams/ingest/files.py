"""One export file before its rows are parsed: its name, its entry in the raw folder, and its
bytes read once by streaming (sha256, encoding, physical lines, longest line, last terminator),
then its header.

Nothing here loops over rows: the file is read in 1 MiB chunks (numpy finds the line breaks of
a chunk), with bounded memory whatever its shape; rows are parsed by DuckDB (`read.py`).
What the rejection messages say is French: they reach the data-quality dashboard.
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import io
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from exams import reference

CHUNK = 1 << 20
# exactly the pattern, ASCII digits only, nothing before or after (fullmatch, re.ASCII)
NAME_PATTERN = re.compile(r"NDRC_([0-9]{4})_([0-9]{2})_([0-9]{8}T[0-9]{6})\.csv", re.ASCII)
NAME_TEMPLATE = "NDRC_<session>_<code_academie>_<AAAAMMJJTHHMMSS>.csv"
# bytes Windows-1252 leaves undefined: a file holding one is not Windows-1252
CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
NEWLINE = 10


class FileRejected(Exception):
    """The file cannot be read as a whole: every data row goes to quarantine with this reason
    (`code` from ref_reason_codes; `detail` in French, never a value read from the file)."""

    def __init__(self, code: str, detail: str):
        reference.reason(code)  # every code given is in the seed
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class FileName:
    session: int | None = None
    academy_code: str | None = None
    exported_at: datetime | None = None


@dataclass(frozen=True)
class Entry:
    """An entry of the raw folder named like a delivery: a file to read (`problem` None) or an
    entry that is not one (a directory, a FIFO, a link out of the folder or dangling)."""

    name: str
    path: Path
    problem: str | None = None


@dataclass
class ScannedFile:
    path: Path
    sha256: str
    size: int
    mtime_ns: int
    lines: int  # physical lines, trailing empty lines excluded (header included)
    encoding: str | None  # utf-8, utf-8-sig, cp1252; None when undecodable
    encoding_problem: str = ""  # why the encoding was not recognised
    longest_line: int = 0  # bytes, without its terminator (exact when over half the limit)
    longest_line_number: int = 0
    ends_with_terminator: bool = True
    utf8_path: Path | None = None  # transcoded copy when the file is not UTF-8
    delimiter: str = ";"
    header: list[str] = field(default_factory=list)  # canonical names, in file order

    @property
    def source(self) -> Path:
        """What the parsers read: the UTF-8 copy of a Windows-1252 file, else the file."""
        return self.utf8_path or self.path


def parse_name(name: str) -> FileName:
    m = NAME_PATTERN.fullmatch(name)
    if not m:
        raise FileRejected(
            "BAD_FILE_NAME",
            f"le nom ne suit pas exactement le modèle {NAME_TEMPLATE} (chiffres ASCII, "
            "rien avant ni après)",
        )
    try:
        at = datetime.strptime(m.group(3), "%Y%m%dT%H%M%S")
    except ValueError as e:
        raise FileRejected(
            "BAD_FILE_NAME", "l'horodatage du nom n'est pas une date et une heure valides"
        ) from e
    return FileName(int(m.group(1)), m.group(2), at)


def list_entries(raw_dir: Path) -> list[Entry]:
    """Every entry of the raw folder but hidden ones (a name starting with `.`), in name order.

    A regular file is read; a symbolic link only when it leads to a regular file directly in
    the raw folder (read like that file: same bytes, so DUPLICATE); anything else (directory,
    FIFO, socket, device, a link out of the folder or dangling) is an entry with a problem,
    REJECTED as NOT_A_REGULAR_FILE, never skipped silently. Nothing is opened here.
    """
    folder = Path(os.path.realpath(raw_dir))
    entries = []
    with os.scandir(raw_dir) as it:
        for e in it:
            if e.name.startswith("."):
                continue
            path = Path(raw_dir) / e.name
            entries.append(Entry(e.name, path, _problem(e, path, folder)))
    return sorted(entries, key=lambda entry: entry.name)


def _problem(e: os.DirEntry, path: Path, folder: Path) -> str | None:
    try:
        if e.is_symlink():
            target = Path(os.path.realpath(path))
            if not target.exists():
                return "lien symbolique cassé"
            if target.parent != folder:
                return "lien symbolique vers un fichier hors du dossier de dépôt"
            mode = target.stat().st_mode
        else:
            mode = e.stat(follow_symlinks=False).st_mode
    except OSError as err:
        return f"entrée illisible ({err.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "dossier"
    if stat.S_ISFIFO(mode):
        return "tube nommé (FIFO)"
    return "fichier spécial (ni fichier ordinaire, ni dossier)"


def open_regular(path: Path) -> int:
    """A descriptor on the regular file at `path` (never blocks on a FIFO swapped in)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "n'est plus un fichier ordinaire", str(path))
    return fd


def scan(path: Path, max_line_bytes: int) -> ScannedFile:
    """sha256, encoding, physical lines and the longest line (exact when it is longer than half
    of `max_line_bytes`, the only case where it matters), in one streamed pass.

    The file must not change while it is read (size and modification time checked before and
    after): an OSError otherwise, as when it cannot be opened or vanishes.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    utf8_ok, has_nul = True, False
    newlines, size = 0, 0
    first, last = b"", b""
    current = 0  # bytes of the line being read (no terminator yet)
    longest, longest_at = 0, 0
    tail = b""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        before = os.fstat(f.fileno())
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if len(first) < 4:
                first += chunk[: 4 - len(first)]
            last = chunk[-1:]
            tail = (tail + chunk)[-4096:]
            if chunk.count(b"\n") == 0:
                current += len(chunk)
            else:
                first_break, last_break = chunk.find(b"\n"), chunk.rfind(b"\n")
                if current + first_break > longest:  # the line that ends in this chunk
                    longest, longest_at = current + first_break, newlines + 1
                if _may_hold_a_long_line(chunk, first_break, last_break, max_line_bytes):
                    length, index = _longest_inside(chunk[first_break + 1 : last_break + 1])
                    if length > longest:
                        longest, longest_at = length, newlines + 1 + index
                newlines += chunk.count(b"\n")
                current = len(chunk) - last_break - 1
            if current > longest:
                longest, longest_at = current, newlines + 1
            has_nul = has_nul or b"\x00" in chunk
            if utf8_ok:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
        after = os.fstat(f.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or (
        size != after.st_size
    ):
        raise OSError(errno.EAGAIN, "le fichier a changé pendant sa lecture", str(path))
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    stripped = tail.rstrip(b"\r\n\t ")
    trailing_breaks = tail[len(stripped) :].count(b"\n")
    lines = 0 if size == 0 or (not stripped and size <= len(tail)) else newlines - trailing_breaks + 1
    # Windows-1252 is looked at only when the file is not UTF-8 (a second pass, rare)
    cp1252_ok = not utf8_ok and not has_nul and _is_cp1252(path)
    encoding, problem = _encoding(first, utf8_ok, cp1252_ok, has_nul)
    return ScannedFile(
        path=path, sha256=digest.hexdigest(), size=size, mtime_ns=after.st_mtime_ns,
        lines=lines, encoding=encoding, encoding_problem=problem, longest_line=longest,
        longest_line_number=longest_at, ends_with_terminator=size == 0 or last == b"\n",
    )  # fmt: skip


def _may_hold_a_long_line(chunk: bytes, first: int, last: int, limit: int) -> bool:
    """Whether a line between the chunk's first and last line break may exceed `limit`: any
    line of more than `limit` bytes holds a whole aligned block of `limit // 2` bytes without a
    line break (decisions.md: a few `find` calls a chunk instead of a pass over every byte)."""
    half = max(limit // 2, 1)
    return any(chunk.find(b"\n", i, i + half) == -1 for i in range(first + 1, last - half, half))


def _longest_inside(lines: bytes) -> tuple[int, int]:
    """The longest of these complete lines (bytes, without the terminator) and its index."""
    breaks = np.flatnonzero(np.frombuffer(lines, dtype=np.uint8) == NEWLINE)
    lengths = np.diff(breaks, prepend=-1) - 1
    i = int(lengths.argmax())
    return int(lengths[i]), i + 1


def _is_cp1252(path: Path) -> bool:
    """No byte that Windows-1252 leaves undefined (any other byte decodes)."""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if CP1252_UNDEFINED.search(chunk):
                return False
    return True


def _encoding(first: bytes, utf8: bool, cp1252: bool, nul: bool) -> tuple[str | None, str]:
    if first.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return None, "encodé en UTF-32 : enregistrez-le en UTF-8 ou en Windows-1252"
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        nul and len(first) >= 2 and b"\x00" in first[:2]
    ):
        return None, "encodé en UTF-16 : enregistrez-le en UTF-8 ou en Windows-1252"
    if nul:
        return None, "contient des octets nuls (fichier binaire ?) : exportez-le en CSV texte"
    if utf8:
        return ("utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"), ""
    if cp1252:
        return "cp1252", ""
    return None, "ni UTF-8 ni Windows-1252 : enregistrez-le en UTF-8 ou en Windows-1252"


def transcode_to_utf8(src: Path, dst: Path) -> None:
    """Stream a Windows-1252 file into UTF-8 (DuckDB has no cp1252 reader here)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(src, encoding="cp1252", newline="") as fin,
        open(dst, "w", encoding="utf-8", newline="") as fout,
    ):
        while chunk := fin.read(CHUNK):
            fout.write(chunk)


def normalise_header_name(name: str) -> str:
    """Case-, accent- and surrounding-space-insensitive header matching."""
    text = unicodedata.normalize("NFKD", name.strip().strip('"').strip())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[\s\-]+", "_", text)


def first_lines(sf: ScannedFile, n: int = 2) -> list[str]:
    """The first `n` physical lines (each at most the longest line allowed: already checked)."""
    out = []
    with open(sf.source, encoding="utf-8-sig", newline="") as f:
        for _ in range(n):
            line = f.readline()
            if not line:
                break
            out.append(line.rstrip("\r\n"))
    return out


def read_header(sf: ScannedFile) -> None:
    """Detect the delimiter and map the header to canonical column names."""
    lines = first_lines(sf, 1)
    line = lines[0] if lines else ""
    if not line.strip():
        raise FileRejected("EMPTY_FILE", "la première ligne (en-tête) est vide")
    sf.delimiter = ";" if line.count(";") >= line.count(",") and ";" in line else ","
    names = next(csv.reader(io.StringIO(line), delimiter=sf.delimiter))
    header = [normalise_header_name(n) for n in names]
    columns = reference.export_columns()
    missing = [c for c in reference.required_export_columns() if c not in header]
    if missing:
        raise FileRejected(
            "MISSING_COLUMN",
            f"colonne(s) obligatoire(s) absente(s) de l'en-tête : {', '.join(missing)} "
            f"(séparateur lu : « {sf.delimiter} »)",
        )
    dupes = sorted({c for c in header if c in columns and header.count(c) > 1})
    if dupes:
        raise FileRejected("DUPLICATE_COLUMN", f"colonne(s) en double : {', '.join(dupes)}")
    sf.header = header


def other_delimiter_detail(sf: ScannedFile) -> str | None:
    """When no data line has the header's fields: do the lines use the other delimiter?"""
    lines = first_lines(sf, 2)
    if len(lines) < 2:
        return None
    other = "," if sf.delimiter == ";" else ";"
    if lines[1].count(other) >= len(sf.header) - 1 > 0:
        return f"les lignes utilisent « {other} » mais l'en-tête utilise « {sf.delimiter} »"
    return None
