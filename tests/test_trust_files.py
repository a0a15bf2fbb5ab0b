"""Files that must not be trusted as they look (export-format.md): exact names, entries that are
not regular files, cut uploads, suspicious shrinks, a file that changes while it is read,
encodings, delimiters and huge fields — each REJECTED with a French message and the seed's hint,
none replacing the export it would have replaced, and the others publishing.

One raw folder holds every case; real `exams run` processes publish it over three nights:
1. a file is being rewritten while the night reads it (UNREADABLE_FILE), a shrink is refused;
2. the file is readable again and the shrink is accepted by name (EXAMS_ACCEPT_SHRINK);
3. the variable is unset: the accepted shrink stays LOADED.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
from helpers import assert_accounting, read_lines, write_clean
from pipeline_support import REPO_ROOT, pipeline_env, run_exams

from exams import reference
from exams.ingest import run as ingest_run
from exams.ingest import state
from exams.ingest.files import list_entries, scan
from exams.ingest.run import Ingest

A = "NDRC_2025_10_20250704T183000.csv"  # LOADED; every bad name below comes later
BAD_NAMES = [
    "NDRC_2025_10_20250710T183000.csv\n",  # a trailing newline
    "NDRC_2025_10_20250711T183000.csv ",  # a trailing space
    "NDRC_2025_10_20250712T183000.CSV",  # another extension case
    "NDRC_\uff12\uff10\uff12\uff15_10_20250713T183000.csv",  # full-width digits
    "NDRC_2025_10_\u0662\u0660\u0662\u0665\u0660\u0667\u0661\u0664T183000.csv",  # Arabic-Indic
    "copie_NDRC_2025_10_20250715T183000.csv",  # a prefix
    "NDRC_2025_10_20250716T183000.csv.bak",  # a suffix
]
# entries named like exports that are not regular files directly in the folder (2025, 10)
DIRECTORY = "NDRC_2025_10_20250801T000000.csv"
FIFO = "NDRC_2025_10_20250802T000000.csv"
DANGLING = "NDRC_2025_10_20250803T000000.csv"
OUTSIDE = "NDRC_2025_10_20250804T000000.csv"  # a link to a valid export outside the folder
INSIDE = "NDRC_2025_10_20250805T000000.csv"  # a link to A: read like A (DUPLICATE)
HIDDEN = ".NDRC_2025_10_20250806T000000.csv"  # ignored
B = "NDRC_2025_24_20250704T183000.csv"  # LOADED
CUT = "NDRC_2025_24_20250710T183000.csv"  # a cut upload of a correction: TRUNCATED_FILE
C = "NDRC_2025_70_20250704T183000.csv"  # 10 candidates
SHRINK = "NDRC_2025_70_20250710T183000.csv"  # a correction with 4 of them
HALF_BASE = "NDRC_2024_10_20240704T183000.csv"  # 10 candidates
HALF = "NDRC_2024_10_20240710T183000.csv"  # a correction with 5 of them: not fewer than half
NO_TERMINATOR = "NDRC_2023_10_20230704T183000.csv"  # complete last line without its "\n"
FIRST_SMALL = "NDRC_2023_24_20230704T183000.csv"  # one candidate: a first delivery
UTF16 = "NDRC_2023_70_20230704T183000.csv"
COMMAS = "NDRC_2021_10_20210704T183000.csv"  # ',' rows under a ';' header
HUGE_FIELD = "NDRC_2021_24_20210704T183000.csv"  # an unclosed quote swallows 70 kB of lines
CHANGING = "NDRC_2021_70_20210704T183000.csv"  # rewritten while the first night reads it

TOUCHER = """
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
base = os.stat(path).st_mtime_ns
i = 0
print("touching", flush=True)
while not os.path.exists(stop):
    i += 1
    os.utime(path, ns=(base + i * 1000, base + i * 1000))
"""


def published_name(name: str) -> str:
    """A file name as audit tables publish it (warehouse-contract.md: every character outside
    A–Z a–z 0–9 _ . - percent-encoded, as UTF-8 bytes)."""
    return quote(name, safe="").replace("~", "%7E")


def _build_raw(tmp: Path) -> Path:
    raw = tmp / "raw"
    write_clean(raw, 2025, "10", n=5, seed=1, name=A)
    for i, name in enumerate(BAD_NAMES):
        write_clean(raw, 2025, "10", n=6, seed=100 + i, name=name)
    (raw / DIRECTORY).mkdir()
    write_clean(raw / DIRECTORY, 2025, "10", n=6, seed=200, name="inside_the_directory.csv")
    os.mkfifo(raw / FIFO)
    os.symlink(tmp / "nowhere.csv", raw / DANGLING)
    outside = write_clean(tmp / "outside", 2025, "10", n=6, seed=201, name=OUTSIDE)
    os.symlink(outside, raw / OUTSIDE)
    os.symlink(A, raw / INSIDE)  # relative: a file of the folder
    write_clean(raw, 2025, "10", n=6, seed=202, name=HIDDEN)

    write_clean(raw, 2025, "24", n=5, seed=3, name=B)
    cut = write_clean(raw, 2025, "24", n=5, seed=4, name=CUT)
    text = cut.read_text(encoding="utf-8").rstrip("\n")
    last = text.rsplit("\n", 1)[1]
    cut.write_text(text[: len(text) - len(last)] + ";".join(last.split(";")[:6]), "utf-8")

    write_clean(raw, 2025, "70", n=10, seed=5, name=C)
    write_clean(raw, 2025, "70", n=4, seed=6, name=SHRINK)

    write_clean(raw, 2024, "10", n=10, seed=13, name=HALF_BASE)
    write_clean(raw, 2024, "10", n=5, seed=14, name=HALF)

    p = write_clean(raw, 2023, "10", n=3, seed=7, name=NO_TERMINATOR)
    p.write_text(p.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    write_clean(raw, 2023, "24", n=1, seed=8, name=FIRST_SMALL)
    p = write_clean(raw, 2023, "70", n=3, seed=9, name=UTF16)
    p.write_bytes(p.read_text(encoding="utf-8").encode("utf-16"))

    p = write_clean(raw, 2021, "10", n=3, seed=10, name=COMMAS)
    lines = read_lines(p)
    p.write_text(";".join(lines[0]) + "\n" + "".join(",".join(f) + "\n" for f in lines[1:]),
                 encoding="utf-8")  # fmt: skip
    p = write_clean(raw, 2021, "24", n=3, seed=11, name=HUGE_FIELD)
    lines = read_lines(p)
    lines[3][3] = '"' + "\n".join(["x" * 99] * 700)  # line 4 opens a quote, never closed
    p.write_text("\n".join(";".join(f) for f in lines) + "\n", encoding="utf-8")
    # large enough that reading it takes a while: the toucher changes it meanwhile
    write_clean(raw, 2021, "70", n=1500, seed=12, name=CHANGING)
    return raw


class Nights:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.raw = _build_raw(tmp)
        self.warehouse = tmp / "wh" / "results.duckdb"
        self.env = pipeline_env(self.raw, self.warehouse, tmp / "extracts")
        self.manifests: list[dict[str, dict]] = []
        self.logs: list[str] = []

    def manifest(self) -> dict[str, dict]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            assert_accounting(con, "audit.file_manifest", "audit.quarantine")
            cur = con.execute("SELECT * FROM audit.file_manifest")
            names = [d[0] for d in cur.description]
            return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        finally:
            con.close()

    def first_night(self) -> None:
        """`exams run` while another process keeps rewriting CHANGING (its modification time):
        the ingest finds it changed while read. The writer stops once ingest is over (the
        plan is written), so that the night's other stages do not share the two cores."""
        stop = self.tmp / "stop-touching"
        toucher = subprocess.Popen([sys.executable, "-c", TOUCHER, str(self.raw / CHANGING),
                                    str(stop)], stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert toucher.stdout.readline().strip() == "touching"
        plan = self.warehouse.parent / ".private" / "results.plan.json"
        run = subprocess.Popen(
            [str(REPO_ROOT / ".venv" / "transform" / "bin" / "exams"), "run"], env=self.env,
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            while not plan.exists() and run.poll() is None:
                os.sched_yield()
        finally:
            stop.touch()
            toucher.wait(timeout=60)
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, out + err
        self.logs.append(err)
        self.manifests.append(self.manifest())

    def night(self, **env: str) -> None:
        proc = run_exams("run", env={**self.env, **env})
        self.logs.append(proc.stderr)
        self.manifests.append(self.manifest())


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Nights:
    n = Nights(tmp_path_factory.mktemp("trust_files"))
    n.first_night()
    n.night(EXAMS_ACCEPT_SHRINK=f"{SHRINK}, another_name.csv")
    n.night()
    return n


def _row(nights: Nights, name: str, night: int = 0) -> dict:
    return nights.manifests[night][published_name(name)]


def _rejected(nights: Nights, name: str, code: str, night: int = 0) -> dict:
    row = _row(nights, name, night)
    seed = reference.reason(code)
    assert (row["status"], row["reason_code"]) == ("REJECTED", code), row
    assert row["rows_loaded"] == 0 and row["rows_quarantined"] == row["rows_total"]
    assert row["reason_label"] == seed.label and row["hint"] == seed.hint
    assert row["reason"].startswith(f"{code}: ")
    return row


def test_the_nights_published_and_every_file_is_accounted_for(nights: Nights) -> None:
    for manifest in nights.manifests:
        assert manifest[A]["status"] == "LOADED"
        assert manifest[B]["status"] == "LOADED"
    # accounting is asserted on every night's published manifest (Nights.manifest)
    assert len(nights.manifests) == 3


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_a_name_not_exactly_the_pattern_is_rejected_and_replaces_nothing(
    nights: Nights, name: str
) -> None:
    row = _rejected(nights, name, "BAD_FILE_NAME")
    assert row["rows_total"] > 0 and row["sha256"] is not None
    assert row["exported_at"] is None and row["session"] is None
    assert "chiffres ASCII" in row["reason"]
    con = duckdb.connect(str(nights.warehouse), read_only=True)
    try:
        scope = con.execute(
            "SELECT DISTINCT reason_code, scope FROM audit.quarantine WHERE file_name = ?",
            [published_name(name)],
        ).fetchall()
    finally:
        con.close()
    assert scope == [("BAD_FILE_NAME", "file")]
    assert _row(nights, A)["status"] == "LOADED"  # the earlier export of 2025/10


@pytest.mark.parametrize(
    ("name", "what"),
    [(DIRECTORY, "dossier"), (FIFO, "tube nommé (FIFO)"), (DANGLING, "lien symbolique cassé"),
     (OUTSIDE, "lien symbolique vers un fichier hors du dossier de dépôt")],
)  # fmt: skip
def test_an_entry_that_is_not_a_regular_file_is_rejected_without_reading_it(
    nights: Nights, name: str, what: str
) -> None:
    for night in range(3):
        row = _rejected(nights, name, "NOT_A_REGULAR_FILE", night)
        assert row["sha256"] is None and row["rows_total"] == 0
        assert row["reason"] == f"NOT_A_REGULAR_FILE: {what}"
        assert row["session"] == 2025 and row["academy_code"] == "10"
        assert _row(nights, A, night)["status"] == "LOADED"


def test_a_link_to_a_file_of_the_folder_is_read_like_it_and_hidden_files_are_ignored(
    nights: Nights,
) -> None:
    row = _row(nights, INSIDE)
    assert row["status"] == "DUPLICATE" and row["reason"] == f"mêmes octets que {A}"
    assert row["sha256"] == _row(nights, A)["sha256"]
    assert row["rows_total"] == _row(nights, A)["rows_total"] > 0
    assert not any(HIDDEN.lstrip(".") in name for name in nights.manifests[0])
    assert not any("inside_the_directory" in name for name in nights.manifests[0])


def test_a_cut_upload_is_rejected_and_the_earlier_export_stays(nights: Nights) -> None:
    row = _rejected(nights, CUT, "TRUNCATED_FILE")
    lines = (nights.raw / CUT).read_text(encoding="utf-8").count("\n") + 1
    assert row["rows_total"] == lines - 1  # every data line, the cut one included
    assert f"la dernière ligne ({lines})" in row["reason"] and "sans fin de ligne" in row["reason"]
    assert _row(nights, B)["status"] == "LOADED"


def test_a_complete_last_line_without_its_terminator_is_loaded(nights: Nights) -> None:
    row = _row(nights, NO_TERMINATOR)
    text = (nights.raw / NO_TERMINATOR).read_text(encoding="utf-8")
    assert not text.endswith("\n")
    assert row["status"] == "LOADED" and row["rows_total"] == text.count("\n")
    assert row["rows_quarantined"] == 0


def test_a_first_delivery_is_never_a_shrink(nights: Nights) -> None:
    row = _row(nights, FIRST_SMALL)
    assert row["status"] == "LOADED" and row["reason_code"] is None


def test_a_correction_with_half_the_candidates_is_not_a_shrink(nights: Nights) -> None:
    assert (_row(nights, HALF)["status"], _row(nights, HALF_BASE)["status"]) == (
        "LOADED", "SUPERSEDED")  # fmt: skip


def test_a_shrink_is_refused_then_accepted_by_name_and_stays_accepted(nights: Nights) -> None:
    row = _rejected(nights, SHRINK, "SUSPICIOUS_SHRINK")
    assert row["rows_total"] > 0 and row["sha256"] is not None
    assert "4 candidat(s) inscrit(s) contre 10" in row["reason"]
    assert "EXAMS_ACCEPT_SHRINK" in row["reason"]
    assert _row(nights, C)["status"] == "LOADED"
    for night in (1, 2):  # accepted by name, then listed no more
        shrink, earlier = _row(nights, SHRINK, night), _row(nights, C, night)
        assert (shrink["status"], shrink["reason_code"]) == ("LOADED", None)
        assert shrink["rows_loaded"] == shrink["rows_total"] > 0
        assert earlier["status"] == "SUPERSEDED"
    assert "shrink accepted (EXAMS_ACCEPT_SHRINK)" in nights.logs[1]
    # the third night changed nothing: nothing was rebuilt
    assert "no rebuild: nothing changed" in nights.logs[2]


def test_a_file_changing_while_read_is_rejected_for_the_night_and_read_the_next(
    nights: Nights,
) -> None:
    row = _rejected(nights, CHANGING, "UNREADABLE_FILE")
    assert row["sha256"] is None and row["rows_total"] == 0
    assert "le fichier a changé pendant sa lecture" in row["reason"]
    # the others published that night
    assert sum(r["status"] == "LOADED" for r in nights.manifests[0].values()) >= 5
    again = _row(nights, CHANGING, 1)
    assert again["status"] == "LOADED" and again["rows_loaded"] > 0


def _night(raw: Path, tmp: Path):
    """The ingest's own steps, called in order by the test so that it can act between them
    (the race of a file removed or rewritten while the night reads it, made deterministic)."""
    from helpers import KEY, ingest_settings

    s = ingest_settings(raw, tmp)
    con = ingest_run.connect(s)
    reference.load_into(con)
    state.sync_meta(con, KEY)  # as ingest_run.run does: else the next night starts afresh
    state.forget_unfinished(con)
    return s, con, Ingest(con, s, KEY)


def _manifest_after(raw: Path, tmp: Path) -> dict[str, tuple]:
    """The next night: a real ingest of the folder."""
    from helpers import ingest

    con = ingest(raw, tmp)
    try:
        assert_accounting(con)
        return {r[0]: r[1:] for r in con.execute(
            "SELECT file_name, status, reason_code, rows_total, rows_loaded, sha256 "
            "FROM raw.file_manifest").fetchall()}  # fmt: skip
    finally:
        con.close()


def test_a_file_removed_between_listing_and_reading_is_rejected_for_the_night(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    kept = write_clean(raw, 2025, "10", n=3, seed=1)
    gone = write_clean(raw, 2025, "24", n=3, seed=2)
    _, con, night = _night(raw, tmp_path)
    try:
        entries = list_entries(raw)
        assert [e.name for e in entries] == [kept.name, gone.name]
        gone.unlink()  # after the listing, before the reading
        looked = {e.name: o for e, o in night._looked_at(entries, {})}
    finally:
        con.close()
    assert looked[gone.name] == "UNREADABLE_FILE: No such file or directory"
    assert looked[kept.name].sha256  # the other file is read


def test_a_file_removed_after_its_scan_is_rejected_for_the_night_and_read_the_next(
    tmp_path: Path,
) -> None:
    """Scanned (sha256, lines), then gone when its header is read: REJECTED for the night
    only (no sha256, zero rows, never cached), the other file of the batch is stored; the next
    night, the file back in place, it is read."""
    raw = tmp_path / "raw"
    first = write_clean(raw, 2025, "10", n=3, seed=1)
    other = write_clean(raw, 2025, "24", n=3, seed=2)
    saved = first.read_bytes()
    _, con, night = _night(raw, tmp_path)
    try:
        scanned = [scan(raw / name, night.s.max_line_bytes) for name in (first.name, other.name)]
        first.unlink()
        pending = [p for p in map(night.prepare, scanned) if p is not None]
        night.flush(pending)
        from exams.ingest import manifest

        manifest.build(con, frozenset(), 0.5)
        tonight = {r[0]: r[1:] for r in con.execute(
            "SELECT file_name, status, reason_code, sha256, rows_total FROM raw.file_manifest"
        ).fetchall()}  # fmt: skip
        assert_accounting(con)
    finally:
        con.close()
    assert tonight[first.name] == ("REJECTED", "UNREADABLE_FILE", None, 0)
    assert tonight[other.name][:2] == ("LOADED", None)
    first.write_bytes(saved)
    after = _manifest_after(raw, tmp_path)
    assert after[first.name][:2] == ("LOADED", None) and after[first.name][3] > 0


def test_a_file_changed_after_its_scan_is_rejected_and_read_again_next_night(
    tmp_path: Path,
) -> None:
    """Scanned, then rewritten (same bytes, a new modification time: an upload still going on)
    before its rows are parsed: REJECTED tonight (UNREADABLE_FILE), read again the next night
    even though its bytes did not change."""
    raw = tmp_path / "raw"
    path = write_clean(raw, 2025, "10", n=3, seed=1)
    _, con, night = _night(raw, tmp_path)
    try:
        sf = scan(path, night.s.max_line_bytes)
        pending = night.prepare(sf)
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        night.flush([pending])
        from exams.ingest import manifest

        manifest.build(con, frozenset(), 0.5)
        status, code, detail, sha256, rows_total = con.execute(
            "SELECT status, reason_code, reason_detail, sha256, rows_total FROM raw.file_manifest"
        ).fetchone()
        assert_accounting(con)
    finally:
        con.close()
    assert (status, code) == ("REJECTED", "UNREADABLE_FILE")
    assert detail == "le fichier a changé pendant sa lecture"
    # as when the scan itself sees the change: the bytes read vouch for nothing
    assert (sha256, rows_total) == (None, 0)
    after = _manifest_after(raw, tmp_path)
    assert after[path.name][:3] == ("LOADED", None, after[path.name][2])
    assert after[path.name][3] == after[path.name][2] > 0


def test_utf16_is_rejected_with_what_to_do(nights: Nights) -> None:
    row = _rejected(nights, UTF16, "UNREADABLE_ENCODING")
    assert "UTF-16" in row["reason"] and "enregistrez-le en UTF-8" in row["reason"]
    assert row["rows_total"] > 0


def test_rows_using_commas_under_a_semicolon_header_are_rejected(nights: Nights) -> None:
    row = _rejected(nights, COMMAS, "DELIMITER_MISMATCH")
    assert "les lignes utilisent « , » mais l'en-tête utilise « ; »" in row["reason"]


def test_a_huge_field_is_rejected_with_its_line(nights: Nights) -> None:
    row = _rejected(nights, HUGE_FIELD, "MALFORMED_CSV")
    assert "ligne 4 : un champ dépasse 65\u202f536 octets (guillemet non fermé ?)" in row["reason"]
    physical = (nights.raw / HUGE_FIELD).read_text(encoding="utf-8").count("\n")
    assert row["rows_total"] == physical - 1


def test_every_rejection_message_is_french_and_actionable(nights: Nights) -> None:
    for night in nights.manifests:
        for row in night.values():
            if row["status"] != "REJECTED":
                continue
            seed = reference.reason(row["reason_code"])
            assert row["hint"] == seed.hint and row["reason_label"] == seed.label
            detail = row["reason"].split(": ", 1)[1]
            # French words, not an exception's text
            assert any(w in detail for w in (" le ", " la ", " les ", "fichier", "lien", "ligne",
                                              "dossier", "tube", "encodé", "candidat"))  # fmt: skip
            assert "Error" not in detail and "Traceback" not in detail


# ---- bounded memory --------------------------------------------------------------------------

MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(proc.stderr)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _ingest_peak_rss(raw: Path, warehouse: Path) -> tuple[int, int, str]:
    """Exit status, peak resident set (bytes) and log of a real `exams ingest` process, measured
    by a fresh parent of its own (RUSAGE_CHILDREN counts the children it waited for: only it)."""
    exe = str(REPO_ROOT / ".venv" / "transform" / "bin" / "exams")
    proc = subprocess.run([sys.executable, "-c", MEASURE, exe, "ingest"],
                          env=pipeline_env(raw, warehouse), capture_output=True, text=True,
                          cwd=REPO_ROOT)  # fmt: skip
    rc, kib = proc.stdout.split()
    return int(rc), int(kib) * 1024, proc.stderr


def test_a_single_line_of_200_mb_is_rejected_in_bounded_memory(tmp_path: Path) -> None:
    """A 200 MB file of one line: REJECTED (MALFORMED_CSV) saying what was found, and the peak
    memory of the ingest process stays far below the file's size: it is streamed."""
    small = tmp_path / "small"
    write_clean(small, 2025, "10", n=3)
    rc, baseline, _ = _ingest_peak_rss(small, tmp_path / "wh0" / "results.duckdb")
    assert rc == 0
    raw = tmp_path / "raw"
    raw.mkdir()
    big = raw / "NDRC_2025_10_20250704T183000.csv"
    size = 200 * 2**20
    try:
        with big.open("wb") as f:
            block = b"2025;10;" + b"x" * (2**20 - 8)
            for _ in range(size // len(block)):
                f.write(block)
        rc, peak, log = _ingest_peak_rss(raw, tmp_path / "wh" / "results.duckdb")
    finally:
        big.unlink()
    assert rc == 0, log
    assert f"MALFORMED_CSV: la ligne 1 fait {size} octets, plus que les 65536 permis" in log
    assert peak < size, (peak, baseline)
    assert peak - baseline < 64 * 2**20, (peak, baseline)
    con = duckdb.connect(str(tmp_path / "wh" / ".private" / "results.build.duckdb"),
                         read_only=True)  # fmt: skip
    try:
        assert con.execute(
            "SELECT status, reason_code, rows_total, rows_loaded, rows_quarantined "
            "FROM raw.file_manifest"
        ).fetchone() == ("REJECTED", "MALFORMED_CSV", 0, 0, 0)
        assert_accounting(con)
    finally:
        con.close()


def _unclosed_quote(raw: Path, mib: int) -> Path:
    """Short lines, but a quote opened on line 2 is never closed: one field of `mib` MiB."""
    path = write_clean(raw, 2025, "10", n=1)
    header = path.read_text(encoding="utf-8").split("\n")[0]
    with path.open("w", encoding="utf-8") as f:
        f.write(header + '\n2025;10;"')
        block = ("y" * 1023 + "\n") * 1024
        for _ in range(mib):
            f.write(block)
    return path


def test_an_unclosed_quote_over_200_mb_is_rejected_in_bounded_memory(tmp_path: Path) -> None:
    """The same shape at 20 MiB and at 200 MiB: the peak memory of the ingest grows by far less
    than the 180 MiB between them (what reading the field whole would add)."""
    peaks = []
    for mib in (20, 200):
        raw = tmp_path / f"raw{mib}"
        path = _unclosed_quote(raw, mib)
        try:
            rc, peak, log = _ingest_peak_rss(raw, tmp_path / f"wh{mib}" / "results.duckdb")
        finally:
            path.unlink()
        assert rc == 0, log
        assert "MALFORMED_CSV: ligne 2 : un champ dépasse 65\u202f536 octets" in log
        peaks.append(peak)
    assert peaks[1] - peaks[0] < 96 * 2**20, peaks
