"""The publication — the served warehouse and its extracts — what it was built from, and the
one place that decides whether tonight rebuilds it.

Three small records in the private state folder:
- the plan (`<stem>.plan.json`), written by ingest: this run's fingerprint and whether it
  rebuilds; the later stages read it (a stage with nothing to do says so and stops);
- the checked file (`<stem>.checked.json`), written by the check stage once every blocking
  check passed: the sha256 of the candidate file it approved; publish moves nothing else;
- the publication (`<stem>.published.json`), written by publish: the fingerprint it was built
  from.

The fingerprint covers what the tables are made of: the manifest (every file, its bytes, its
status and reason), the code and reference data (models, seeds, macros, suites, the package),
and the pseudonymisation key (its check value): a changed key republishes. Tonight rebuilds
when the fingerprint differs from the publication's, when the served file is missing, or on
demand (EXAMS_FORCE_REBUILD). The extracts are verified against the publication every night,
rebuild or not (the extracts stage).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from exams.errors import StageFailed
from exams.ingest.keys import key_fingerprint
from exams.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR, REPO_ROOT, Settings

log = logging.getLogger(__name__)


def _record_path(s: Settings, kind: str) -> Path:
    return s.state_dir / f"{s.warehouse.stem}.{kind}.json"


def _write(path: Path, record: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def code_fingerprint() -> str:
    """What turns exports into tables: models, seeds, macros, suites, the package's code and
    dbt_project.yml. A deployment that changes them rebuilds even when no export changed."""
    digest = hashlib.sha256()
    roots = [DBT_PROJECT_DIR / d for d in ("models", "seeds", "macros")]
    roots += [EXPECTATIONS_DIR, REPO_ROOT / "src" / "exams"]
    for root in roots:
        for path in sorted(
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ):
            digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
            digest.update(path.read_bytes())
    digest.update((DBT_PROJECT_DIR / "dbt_project.yml").read_bytes())
    return digest.hexdigest()


@dataclass
class Plan:
    run_id: str
    fingerprint: str
    rebuild: bool
    why: str


def plan(s: Settings, run_id: str, manifest_fingerprint: str, key: bytes) -> Plan:
    """Decide, after ingest, whether tonight rebuilds; recorded for the later stages."""
    fingerprint = hashlib.sha256(
        f"{manifest_fingerprint}\0{code_fingerprint()}\0{key_fingerprint(key)}".encode()
    ).hexdigest()
    published = _read(_record_path(s, "published")).get("fingerprint")
    if s.force_rebuild:
        p = Plan(run_id, fingerprint, True, "rebuild asked for (EXAMS_FORCE_REBUILD)")
    elif not s.warehouse.exists():
        p = Plan(run_id, fingerprint, True, "no published warehouse yet")
    elif published != fingerprint:
        p = Plan(run_id, fingerprint, True,
                 "exports, code, reference data or key changed since the last publication")
    else:
        p = Plan(run_id, fingerprint, False, "nothing changed since the last publication")
    _write(_record_path(s, "plan"), asdict(p))
    return p


def read_plan(s: Settings) -> Plan:
    record = _read(_record_path(s, "plan"))
    if not record:
        raise StageFailed("no plan for this run: run the ingest stage first")
    return Plan(**record)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def record_checked(s: Settings, run_id: str) -> None:
    """The check stage approved the candidate file as it is now."""
    _write(_record_path(s, "checked"), {"run_id": run_id, "sha256": file_sha256(s.new_db)})


def forget_checked(s: Settings) -> None:
    _record_path(s, "checked").unlink(missing_ok=True)


def publish(s: Settings, run_id: str, plan_: Plan) -> None:
    """Move onto the served path exactly the file the checks approved, atomically.

    The candidate is first renamed to a private name in the same folder (so that nothing can
    rebuild it under us), its sha256 compared with the approved one, then `os.replace`d onto
    the served path. Anything else is refused and removed, and the served file stays as it is.
    """
    checked = _read(_record_path(s, "checked"))
    if not s.new_db.exists():
        raise StageFailed(f"{s.new_db} is missing: nothing checked to publish")
    if not checked:
        raise StageFailed(f"{s.new_db.name} was not approved by the check stage: not published")
    moving = s.new_db.with_name(s.new_db.name + ".publishing")
    os.replace(s.new_db, moving)
    try:
        sha = file_sha256(moving)
        if sha != checked.get("sha256"):
            raise StageFailed(
                f"{s.new_db.name} is not the file the checks approved (sha256 {sha[:12]}… "
                f"against {str(checked.get('sha256'))[:12]}…): not published, the served file "
                "is unchanged"
            )
        os.replace(moving, s.warehouse)
    finally:
        moving.unlink(missing_ok=True)
        forget_checked(s)
    _write(_record_path(s, "published"), {"run_id": run_id, "fingerprint": plan_.fingerprint,
                                          "sha256": sha})  # fmt: skip
    log.info("publish: %s (run %s)", s.warehouse, run_id)
