"""The ingest stage: bring the private build database in line with the raw folder.

Each entry of the raw folder is looked at once: an entry that is not a regular file, or a file
that cannot be read tonight, is REJECTED for the night (never cached: a later night looks
again); a file already parsed with the same name, size and modification time is not read
again (a file that cannot be read on one night must not roll its académie back to an earlier
export); a new or changed file is scanned (streamed: sha256, encoding, lines, the
longest line), checked as a whole (name, line length, encoding, académie and session, header),
and its rows read, checked and stored with the other new files of its batch (store.py). Then the
manifest is recomputed (manifest.py). The raw folder is the archive of deliveries: the same
folder always gives the same tables, and a file removed from it is forgotten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from exams import reference
from exams.errors import ConfigError
from exams.ingest import manifest, state
from exams.ingest.files import (
    Entry,
    FileName,
    FileRejected,
    ScannedFile,
    list_entries,
    parse_name,
    read_header,
    scan,
    transcode_to_utf8,
)
from exams.ingest.store import Pending, _changed_since_scan, every_line, load_batch, reject_rows
from exams.progress import Progress
from exams.settings import Settings

log = logging.getLogger(__name__)

BATCH_ROWS = 2_500_000  # bounded memory: the rows of a batch wait in temporary tables


@dataclass
class IngestReport:
    files: int
    loaded: int
    rejected: int
    rows_total: int
    rows_quarantined: int
    manifest_fingerprint: str  # what the manifest holds: files, bytes, statuses

    def as_json(self) -> str:
        return json.dumps(asdict(self))


def connect(s: Settings) -> duckdb.DuckDBPyConnection:
    s.build_db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    con = duckdb.connect(str(s.build_db))
    # the same bound as dbt's profile: DuckDB spills past it instead of growing
    con.execute("SET memory_limit = ?", [s.duckdb_memory_limit])
    state.init_schema(con)
    return con


class AcademyRules:
    """Sessions and académies valid for the diploma (reference seeds), read once per run."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.lo, self.hi = int(reference.exam_rule("first_session")), int(
            reference.exam_rule("last_session")
        )
        self.academies = reference.academies()

    def check(self, fn: FileName) -> None:
        if not self.lo <= fn.session <= self.hi:
            raise FileRejected(
                "SESSION_OUT_OF_RANGE",
                f"session {fn.session} hors des sessions du diplôme ({self.lo}–{self.hi})",
            )
        if not any(
            code == fn.academy_code and (lo or 0) <= fn.session <= (hi or 9999)
            for code, _, lo, hi in self.academies
        ):
            raise FileRejected(
                "UNKNOWN_ACADEMY",
                f"le code académie {fn.academy_code} n'est pas valide pour la session "
                f"{fn.session}",
            )


class Ingest:
    """One ingest run over an open build database."""

    def __init__(self, con: duckdb.DuckDBPyConnection, s: Settings, key: bytes) -> None:
        self.con, self.s, self.key = con, s, key
        self.work = s.work_dir / "ingest"
        self.rules = AcademyRules(con)

    # ---- recording ------------------------------------------------------------------------
    def record(self, p: Pending, rejection: FileRejected | None, total: int, quarantined: int,
               candidates: int) -> None:  # fmt: skip
        sf, fn = p.sf, p.fn
        self.con.execute(
            "INSERT INTO ingest.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [sf.path.name, sf.sha256, sf.size, sf.mtime_ns, fn.session, fn.academy_code,
             fn.exported_at, sf.encoding, sf.delimiter if sf.header else None,
             rejection and rejection.code, rejection and rejection.detail, total, quarantined,
             candidates],
        )  # fmt: skip

    def reject_for_tonight(self, name: str, code: str, detail: str) -> None:
        FileRejected(code, detail)  # the code is in the seed
        self.con.execute("INSERT INTO ingest.night_files VALUES (?, ?, ?)", [name, code, detail])
        log.warning("%s: REJECTED for tonight (%s: %s)", name, code, detail)

    # ---- one file -------------------------------------------------------------------------
    def prepare(self, sf: ScannedFile) -> Pending | None:
        """Check a file as a whole (name, line length, encoding, académie and session, header).
        A rejected file is recorded at once with every physical line quarantined; an accepted
        one waits for its batch (a Windows-1252 file transcoded to a private UTF-8 copy)."""
        fn = FileName()
        try:
            fn = parse_name(sf.path.name)
            if sf.longest_line > self.s.max_line_bytes:
                raise FileRejected(
                    "MALFORMED_CSV",
                    f"la ligne {sf.longest_line_number} fait {sf.longest_line} octets, plus que "
                    f"les {self.s.max_line_bytes} permis (EXAMS_MAX_LINE_BYTES) : fichier "
                    "corrompu ou sans fins de ligne ?",
                )
            if sf.encoding is None:
                raise FileRejected("UNREADABLE_ENCODING", sf.encoding_problem)
            self.rules.check(fn)
            if sf.encoding == "cp1252":
                sf.utf8_path = self.work / f"{sf.sha256}.utf8.csv"
                transcode_to_utf8(sf.path, sf.utf8_path)
            read_header(sf)
        except FileRejected as rejection:
            _drop_copy(sf)
            n = reject_rows(self.con, sf, rejection, every_line(sf))
            self.record(Pending(sf, fn), rejection, n, n, 0)
            return None
        except OSError:
            # (trust tests) the file vanished or changed after its scan, while its header was
            # read or it was transcoded: REJECTED for tonight only, the other files go on
            # (export-format.md); it stopped the whole ingest. Any other failure (a full disk
            # while transcoding) is not the file's doing: the run fails.
            _drop_copy(sf)
            problem = _changed_since_scan(sf)
            if problem is None:
                raise
            self.reject_for_tonight(sf.path.name, "UNREADABLE_FILE", problem)
            return None
        return Pending(sf, fn)

    def flush(self, batch: list[Pending]) -> None:
        try:
            load_batch(self.con, batch, self.key, self.record, self.work,
                       self.s.max_line_bytes, for_tonight=self.reject_for_tonight)  # fmt: skip
        finally:
            for p in batch:
                _drop_copy(p.sf)

    # ---- the folder -----------------------------------------------------------------------
    def run(self) -> None:
        known = self.con.execute(
            "SELECT file_name, size, mtime_ns, sha256 FROM ingest.files").fetchall()  # fmt: skip
        cached = {(r[0], r[1], r[2]): r[3] for r in known}
        parsed = {(r[0], r[3]) for r in known}
        names = {r[0] for r in known}
        entries = list_entries(self.s.raw_dir)
        present: list[tuple[str, str]] = []
        batch: list[Pending] = []
        batch_rows = 0
        with Progress("ingest", total=len(entries)) as progress:
            for entry, outcome in self._looked_at(entries, cached):
                progress.advance(entry.name)
                if isinstance(outcome, str):  # the entry is rejected for tonight
                    code, _, detail = outcome.partition(":")
                    self.reject_for_tonight(entry.name, code, detail.strip())
                    continue
                if isinstance(outcome, tuple):  # parsed before, same size and time
                    present.append(outcome)
                    continue
                sf = outcome
                present.append((entry.name, sf.sha256))
                if (entry.name, sf.sha256) in parsed:  # same bytes, touched: nothing to parse
                    self.con.execute(
                        "UPDATE ingest.files SET size = ?, mtime_ns = ? "
                        "WHERE file_name = ? AND sha256 = ?",
                        [sf.size, sf.mtime_ns, entry.name, sf.sha256],
                    )
                    continue
                if entry.name in names:  # other bytes under a known name
                    state.forget(self.con, entry.name)
                pending = self.prepare(sf)
                if pending:
                    batch.append(pending)
                    batch_rows += sf.lines
                if batch_rows >= BATCH_ROWS:
                    self.flush(batch)
                    batch, batch_rows = [], 0
        self.flush(batch)
        state.forget_absent(self.con, present)

    def _looked_at(
        self, entries: list[Entry], cached: dict[tuple[str, int, int], str]
    ) -> Iterator[tuple[Entry, str | tuple[str, str] | ScannedFile]]:
        """Each entry with what it is: "CODE: detail" (rejected tonight), (name, sha256) (parsed
        before) or its scan. New files are scanned ahead in a thread (hashlib and numpy release
        the GIL), so that hashing overlaps the parse of the previous batch."""

        def looked(entry: Entry) -> str | tuple[str, str] | ScannedFile:
            if entry.problem:
                return f"NOT_A_REGULAR_FILE: {entry.problem}"
            try:
                st = os.stat(entry.path)
                sha = cached.get((entry.name, st.st_size, st.st_mtime_ns))
                if sha is not None:  # parsed before: not read again (decisions.md)
                    return (entry.name, sha)
                return scan(entry.path, self.s.max_line_bytes)
            except OSError as e:
                return f"UNREADABLE_FILE: {e.strerror or e}"

        with ThreadPoolExecutor(max_workers=2) as pool:
            yield from zip(entries, pool.map(looked, entries), strict=True)

    def report(self) -> IngestReport:
        files, loaded, rejected, total, quarantined = self.con.execute(
            """SELECT count(*), count(*) FILTER (WHERE status = 'LOADED'),
                count(*) FILTER (WHERE status = 'REJECTED'),
                coalesce(sum(rows_total), 0), coalesce(sum(rows_quarantined), 0)
            FROM raw.file_manifest"""
        ).fetchone()
        rows = self.con.execute(
            "SELECT file_name, sha256, status, reason_code FROM raw.file_manifest "
            "ORDER BY file_name"
        ).fetchall()
        fingerprint = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
        return IngestReport(files, loaded, rejected, int(total), int(quarantined), fingerprint)


def _drop_copy(sf: ScannedFile) -> None:
    if sf.utf8_path is not None:
        sf.utf8_path.unlink(missing_ok=True)


def _clear_work(work: Path) -> None:
    """Files a killed run left in the private work folder (transcoded copies of exports)."""
    if work.is_dir():
        for leftover in work.iterdir():
            if leftover.is_file():
                leftover.unlink()


def run(s: Settings, key: bytes) -> IngestReport:
    """Bring the build database in line with the raw folder; recompute the manifest."""
    if not s.raw_dir.is_dir():
        raise ConfigError(f"the raw folder {s.raw_dir} does not exist (EXAMS_RAW_DIR)")
    work = s.work_dir / "ingest"
    _clear_work(work)
    con = connect(s)
    try:
        reference.load_into(con)
        state.sync_meta(con, key)
        state.forget_unfinished(con)
        ingest = Ingest(con, s, key)
        try:
            ingest.run()
        finally:
            _clear_work(work)
        manifest.build(con, s.accept_shrink, s.shrink_min_ratio)
        return ingest.report()
    finally:
        con.close()
