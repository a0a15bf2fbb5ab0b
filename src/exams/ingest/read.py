"""Parse export files into the temp table `batch_rows`, with the physical line of every row.

Files sharing a dialect and a header layout are read by ONE `read_csv` over the list of files
(DuckDB parses them in parallel; per-file statements would cost more than the rows of a small
file). The table keeps DuckDB's reading order (insertion order is preserved), so a row's line is
its position within its file + 2, which holds only when the file has exactly one record per
physical line: a file whose record count differs from its line count (blank lines, quoted
newlines, ragged rows) or that DuckDB refuses is re-read alone, then, if needed, line by line by
Python's csv module, which knows each record's physical line.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from pathlib import Path

import duckdb

from exams.ingest.files import FileRejected, ScannedFile, parse_name
from exams.ingest.state import insert_rows

log = logging.getLogger(__name__)


def _csv_options(max_line_bytes: int) -> str:
    return (
        "header = false, skip = 1, delim = ?, quote = '\"', escape = '\"', all_varchar = true, "
        "null_padding = true, nullstr = '\x01', auto_detect = false, strict_mode = true, "
        f"parallel = true, max_line_size = {max(max_line_bytes + 2, 1024)}"
    )


class Batch:
    """The parts (temp tables) of one batch, and the view `batch_rows` over them: file_name,
    sha256, the session and académie of the file's name (file_session, file_academy),
    line_number, the canonical columns (trimmed, '' when absent), field_count_ok."""

    def __init__(self, con: duckdb.DuckDBPyConnection, columns: list[str], work: Path,
                 max_line_bytes: int) -> None:  # fmt: skip
        self.con = con
        self.columns = columns
        self.work = work
        self.max_line_bytes = max_line_bytes
        self.csv = _csv_options(max_line_bytes)
        self.tables: list[str] = []
        self.selects: list[str] = []

    def table(self) -> str:
        name = f"batch_part_{len(self.tables)}"
        self.tables.append(name)
        return name

    def publish_view(self) -> None:
        empty = "SELECT NULL::VARCHAR AS file_name, NULL::VARCHAR AS sha256, NULL::INTEGER AS "
        empty += "file_session, NULL::VARCHAR AS file_academy, NULL::BIGINT AS "
        empty += f"line_number, {', '.join(f'NULL::VARCHAR AS {c}' for c in self.columns)}, "
        empty += "NULL::BOOLEAN AS field_count_ok LIMIT 0"
        body = "\nUNION ALL\n".join(self.selects) or empty
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW batch_rows AS {body}")

    def drop(self) -> None:
        self.con.execute("DROP VIEW IF EXISTS batch_rows")
        for t in self.tables:
            self.con.execute(f"DROP TABLE IF EXISTS {t}")


def read_batch(
    con: duckdb.DuckDBPyConnection,
    files: list[ScannedFile],
    columns: list[str],
    work: Path,
    max_line_bytes: int,
) -> tuple[Batch, dict[str, FileRejected]]:
    """Parse every file; returns the batch (view `batch_rows` with `columns`) and the files
    that cannot be parsed at all. Other columns are parsed but not kept."""
    batch = Batch(con, columns, work, max_line_bytes)
    groups: dict[tuple[str, tuple[str, ...]], list[ScannedFile]] = defaultdict(list)
    for sf in files:
        groups[(sf.delimiter, tuple(sf.header))].append(sf)
    alone: list[ScannedFile] = []
    for group in groups.values():
        alone += _read_group(batch, group)
    rejected: dict[str, FileRejected] = {}
    for sf in alone:
        try:
            _read_one(batch, sf)
        except FileRejected as rejection:
            rejected[sf.path.name] = rejection
        except OSError as e:
            rejected[sf.path.name] = FileRejected(
                "UNREADABLE_FILE", f"le fichier n'a pas pu être relu ({e.strerror or e})"
            )
    batch.publish_view()
    return batch, rejected


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(ncols: int) -> str:
    return "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"


def _canonical_select(header: list[str], columns: list[str]) -> str:
    pos = {name: i for i, name in enumerate(header) if name in columns}
    return ", ".join(
        f"{_trimmed(f'c{pos[c]}')} AS {c}" if c in pos else f"'' AS {c}" for c in columns
    )


def _trimmed(field: str) -> str:
    """The field without surrounding spaces, '' when absent; trim() only where there is
    something to trim (most fields have nothing: half the cost)."""
    return (
        f"CASE WHEN starts_with({field}, ' ') OR ends_with({field}, ' ') THEN trim({field}) "
        f"ELSE coalesce({field}, '') END"
    )


def _kept(header: list[str], columns: list[str]) -> str:
    """The fields materialised: the kept columns, and the last field, which tells whether the
    line had every field (null_padding pads a short line with NULLs at the end; a long line is
    a parse error)."""
    keep = {i for i, name in enumerate(header) if name in columns} | {len(header) - 1}
    return ", ".join(f"c{i}" for i in sorted(keep))


def _all_fields(ncols: int) -> str:
    return f"c{ncols - 1} IS NOT NULL"


def _read_group(batch: Batch, group: list[ScannedFile]) -> list[ScannedFile]:
    """One read_csv for files of one layout; returns the files to re-read alone."""
    con, ncols = batch.con, len(group[0].header)
    raw = batch.table()
    try:
        con.execute(
            f"""CREATE TEMP TABLE {raw} AS
            SELECT file_index, {_kept(group[0].header, batch.columns)}
            FROM read_csv(?, {batch.csv}, columns = {_columns(ncols)})""",
            [[str(sf.utf8_path or sf.path) for sf in group], group[0].delimiter],
        )
    except duckdb.Error as e:
        if len(group) > 1:
            log.info("%d files read together failed (%s); reading them one by one", len(group),
                     str(e).splitlines()[0])  # fmt: skip
        return group
    counts = dict(con.execute(f"SELECT file_index, count(*) FROM {raw} GROUP BY 1").fetchall())
    offsets, offset, alone = [], 0, []
    for i, sf in enumerate(group):  # one entry per file, not per row
        n = counts.get(i, 0)
        if n == sf.lines - 1:
            fn = parse_name(sf.path.name)
            offsets.append((i, offset, sf.path.name, sf.sha256, fn.session, fn.academy_code))
        else:
            alone.append(sf)
        offset += n
    if offsets:
        files = batch.table()
        con.execute(
            f"CREATE TEMP TABLE {files} "
            "(file_index UBIGINT, row_offset BIGINT, file_name VARCHAR, sha256 VARCHAR, "
            "file_session INTEGER, file_academy VARCHAR)"
        )
        insert_rows(con, files, offsets)
        # rowid is the reading order: files in list order, rows in file order
        batch.selects.append(
            f"""SELECT f.file_name, f.sha256, f.file_session, f.file_academy,
                g.rowid - f.row_offset + 2 AS line_number,
                {_canonical_select(group[0].header, batch.columns)},
                {_all_fields(ncols)} AS field_count_ok
            FROM {raw} AS g JOIN {files} AS f USING (file_index)"""
        )
    return alone


def _read_one(batch: Batch, sf: ScannedFile) -> None:
    """A file on its own: DuckDB if it has one record per line, else Python's csv module."""
    con, ncols = batch.con, len(sf.header)
    source = sf.utf8_path or sf.path
    table = batch.table()
    try:
        con.execute(
            f"""CREATE TEMP TABLE {table} AS
            SELECT {_kept(sf.header, batch.columns)}
            FROM read_csv(?, {batch.csv}, columns = {_columns(ncols)})""",
            [str(source), sf.delimiter],
        )
        n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if n == sf.lines - 1:
            _add(batch, sf, table, "rowid + 2", _all_fields(ncols))
            return
        log.info("%s: %d records for %d lines; re-reading line by line", sf.path.name, n,
                 sf.lines - 1)
    except duckdb.Error as e:
        log.info("%s: DuckDB could not parse it (%s); re-reading line by line", sf.path.name,
                 str(e).splitlines()[0])
    _read_slow(batch, sf)


def _add(batch: Batch, sf: ScannedFile, table: str, line: str, ok: str) -> None:
    fn = parse_name(sf.path.name)
    batch.selects.append(
        f"""SELECT {_literal(sf.path.name)} AS file_name, {_literal(sf.sha256)} AS sha256,
            {fn.session}::INTEGER AS file_session, {_literal(fn.academy_code)} AS file_academy,
            {line} AS line_number, {_canonical_select(sf.header, batch.columns)},
            {ok} AS field_count_ok
        FROM {table}"""
    )


def _read_slow(batch: Batch, sf: ScannedFile) -> None:
    """Line-exact fallback for odd files (blank lines, quoted line breaks, ragged rows): Python's
    csv module records the physical line of each record, written to a clean CSV for DuckDB in
    the private work folder (removed at once). A record is never longer than the longest line
    allowed times the lines it spans, and a field never longer than the longest line allowed."""
    con, ncols = batch.con, len(sf.header)
    tmp = batch.work / f"{sf.sha256}.lines.csv"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    start = 2
    csv.field_size_limit(batch.max_line_bytes)
    try:
        try:
            with (
                open(sf.source, encoding="utf-8-sig", newline="") as fin,
                open(tmp, "w", encoding="utf-8", newline="") as fout,
            ):
                reader = csv.reader(fin, delimiter=sf.delimiter, strict=True)
                writer = csv.writer(fout, delimiter=";")
                next(reader)
                start = reader.line_num + 1
                for rec in reader:  # only reached for malformed files
                    if rec and any(v.strip() for v in rec):
                        ok = len(rec) == ncols
                        rec = (rec + [""] * ncols)[:ncols]
                        writer.writerow([start, int(ok), *rec])
                    start = reader.line_num + 1
        except csv.Error as e:
            raise _malformed(sf, start, e) from e
        names = ["line_number", "ok"] + [f"c{i}" for i in range(ncols)]
        table = batch.table()
        con.execute(
            f"""CREATE TEMP TABLE {table} AS
            SELECT * FROM read_csv(?, header = false, delim = ';', quote = '"', escape = '"',
                all_varchar = true, nullstr = '\x01', auto_detect = false,
                columns = {{{", ".join(f"'{n}': 'VARCHAR'" for n in names)}}})""",
            [str(tmp)],
        )
        _add(batch, sf, table, "line_number::BIGINT", "ok = '1'")
    finally:
        tmp.unlink(missing_ok=True)


def _malformed(sf: ScannedFile, line: int, e: csv.Error) -> FileRejected:
    """What Python's csv module found, in words an operator understands."""
    text = str(e)
    if not sf.ends_with_terminator and ("EOF" in text or "end of data" in text):
        return FileRejected(
            "TRUNCATED_FILE",
            f"le fichier s'arrête au milieu d'un champ entre guillemets (ligne {line})",
        )
    if "field larger than field limit" in text:
        return FileRejected(
            "MALFORMED_CSV",
            f"ligne {line} : un champ dépasse {batch_limit_text()} (guillemet non fermé ?)",
        )
    if "EOF" in text or "end of data" in text:
        return FileRejected(
            "MALFORMED_CSV", f"ligne {line} : un guillemet ouvert n'est jamais refermé"
        )
    return FileRejected("MALFORMED_CSV", f"ligne {line} : structure CSV illisible ({text})")


def batch_limit_text() -> str:
    return f"{csv.field_size_limit():,} octets".replace(",", "\u202f")
