"""The published candidate_key values are always those of the current EXAMS_PSEUDONYM_KEY: a
changed key republishes, although no export changed (warehouse-contract.md)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from helpers import assert_whole_publication, read_export, sha256_of, workspace

from exams.ingest.keys import candidate_key

OLD_KEY = "test-key-not-secret"  # pipeline_support's
NEW_KEY = "a-new-key-after-a-leak"


def _numbers(path: Path) -> set[str]:
    """The candidate numbers of an export, read independently of the ingest."""
    return {r["numero_candidat"] for r in read_export(path).values() if r.get("numero_candidat")}


def test_a_new_key_republishes_every_candidate_key(published_warehouse: Path,
                                                   tmp_path_factory) -> None:  # fmt: skip
    p = workspace(published_warehouse, tmp_path_factory).copy()
    before = sha256_of(p.warehouse)
    proc = p.exams("run", EXAMS_PSEUDONYM_KEY=NEW_KEY)
    assert "rebuild: exports, code, reference data or key changed" in proc.stderr
    assert sha256_of(p.warehouse) != before
    assert_whole_publication(p)
    con = duckdb.connect(str(p.warehouse), read_only=True)
    try:
        loaded = [name for (name,) in con.execute(
            "SELECT file_name FROM audit.file_manifest WHERE status = 'LOADED'").fetchall()]  # fmt: skip
        published = {k for (k,) in con.execute(
            "SELECT candidate_key FROM marts.fct_candidate_session").fetchall()}  # fmt: skip
        for table in ("fct_unit_result",):
            keys = {k for (k,) in con.execute(
                f"SELECT DISTINCT candidate_key FROM marts.{table}").fetchall()}  # fmt: skip
            assert keys and keys <= published
    finally:
        con.close()
    numbers = set().union(*(_numbers(p.raw / name) for name in loaded))
    assert len(numbers) > 100
    assert published == {candidate_key(n, NEW_KEY.encode()) for n in numbers}
    assert not published & {candidate_key(n, OLD_KEY.encode()) for n in numbers}
    # the next night with the same key: nothing to rebuild
    served = sha256_of(p.warehouse)
    proc = p.exams("run", EXAMS_PSEUDONYM_KEY=NEW_KEY)
    assert "no rebuild: nothing changed" in proc.stderr and sha256_of(p.warehouse) == served
