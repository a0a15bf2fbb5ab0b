"""Superset set-up, dashboard import and analyst accounts (``exams superset setup|build|analyst``).

setup    superset db upgrade → superset init → admin user → import the dashboards and apply
         dashboards/security.yaml (idempotent; ``skip_import``: everything but the import, which
         needs the warehouse)
build    render dashboards/ into a ZIP (private temporary folder), import it (overwrite) and
         apply dashboards/security.yaml (roles, row-level security); idempotent
analyst  a rectorat analyst's account bound to one académie's role (idempotent; an unknown
         académie is refused)

Runs with the Superset environment (``.venv/superset/bin/exams``). ``superset db upgrade`` and
``superset init`` are Superset's own commands; accounts and the import run in
:mod:`exams.superset_app.worker`, a subprocess that receives the passwords on stdin, never on
its command line nor in its environment (``superset_env`` leaves them out). Every process runs
under umask 077: the metadata file (and its journal), the key and password files and the request
log are created 0600 in a 0700 home.

The admin password is SUPERSET_ADMIN_PASSWORD, else generated once (``secrets``) and kept, 0600,
in ``$SUPERSET_HOME/admin_password``; every set-up resets the admin's password to it, so the
password in force is always the one ``serve`` shows.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from exams import errors, settings
from exams.errors import ConfigError, ExamsError
from exams.settings import SupersetSettings, load_superset
from exams.superset_app import (
    ADMIN_USERNAME,
    BUNDLE_DIR,
    PASSWORD_FILE,
    PRIVATE_UMASK,
    access,
    ensure_private_home,
    make_home,
    secret_key,
    superset_env,
    superset_home,
    write_private,
)
from exams.superset_app import bundle as bundle_mod
from exams.superset_app.worker import RESULT_PREFIX

log = logging.getLogger(__name__)

ADMIN_PASSWORD_VARIABLE = "SUPERSET_ADMIN_PASSWORD"


def superset_bin(name: str) -> Path:
    """A command of the Superset environment (the one running this code)."""
    exe = Path(sys.executable).parent / name
    if not exe.exists():
        raise ConfigError(
            f"{exe} not found: run Superset commands with the Superset environment "
            "(.venv/superset/bin/exams superset …, or make superset-setup)"
        )
    return exe


def _tail(proc: subprocess.CompletedProcess, lines: int = 40) -> str:
    return "\n".join((proc.stdout + proc.stderr).splitlines()[-lines:])


def run_superset(*args: str, s: SupersetSettings) -> None:
    """``superset <args>`` (no secret in its arguments), private files, output kept unless it
    fails."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(superset_bin("superset")), *args],
        env=superset_env(s),
        capture_output=True,
        text=True,
        umask=PRIVATE_UMASK,
    )
    name = " ".join(args)
    log.info("superset %s (%.0f s, exit %d)", name, time.monotonic() - t0, proc.returncode)
    if proc.returncode != 0:
        log.error("superset %s said:\n%s", name, _tail(proc))
        raise ExamsError(f"superset {name} failed (exit {proc.returncode})")


def run_worker(tasks: list[dict], s: SupersetSettings) -> list[dict]:
    """Run worker tasks (one Superset app context); the request, passwords included, goes on
    stdin. Expected failures come back as their exams.errors class."""
    superset_bin("superset")  # the worker needs this environment's superset package
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "exams.superset_app.worker"],
        input=json.dumps({"tasks": tasks}),
        env=superset_env(s),
        capture_output=True,
        text=True,
        umask=PRIVATE_UMASK,
    )
    kinds = ", ".join(t["task"] for t in tasks)
    log.info("Superset worker: %s (%.0f s, exit %d)", kinds, time.monotonic() - t0, proc.returncode)
    answers = [
        json.loads(line.removeprefix(RESULT_PREFIX))
        for line in proc.stdout.splitlines()
        if line.startswith(RESULT_PREFIX)
    ]
    answer = answers[-1] if answers else {}
    if "error" in answer:
        kind = getattr(errors, answer.get("kind", ""), ExamsError)
        raise (kind if isinstance(kind, type) and issubclass(kind, ExamsError) else ExamsError)(
            answer["error"]
        )
    if proc.returncode != 0 or "results" not in answer:
        log.error("Superset worker (%s) said:\n%s", kinds, _tail(proc, 60))
        raise ExamsError(f"Superset worker ({kinds}) failed (exit {proc.returncode})")
    for message in answer.get("warnings", []):
        log.warning("%s", message)
    return answer["results"]


def check_warehouse(allow_missing: bool) -> Path:
    wh = settings.load().warehouse
    if not wh.is_file():
        msg = f"no published warehouse at {wh} (run `make pipeline`, or set EXAMS_WAREHOUSE)"
        if not allow_missing:
            raise ConfigError(msg)
        log.warning("%s; the dashboards will show errors until it exists", msg)
    return wh


# ---- admin password ------------------------------------------------------------------------
def admin_password(s: SupersetSettings | None = None) -> tuple[str, str]:
    """(password, where it comes from). Never a fixed default.

    SUPERSET_ADMIN_PASSWORD wins; otherwise a password generated once with `secrets` and kept
    (created 0600) in $SUPERSET_HOME/admin_password, so that re-running set-up keeps it.
    """
    s = s or load_superset()
    if s.admin_password:
        return s.admin_password, ADMIN_PASSWORD_VARIABLE
    pw_file = superset_home(s) / PASSWORD_FILE
    if pw_file.is_file() and pw_file.read_text().strip():
        return pw_file.read_text().strip(), str(pw_file)
    make_home(s)
    password = secrets.token_urlsafe(18)
    write_private(pw_file, password + "\n")
    log.info("generated an admin password, kept in %s", pw_file)
    return password, str(pw_file)


def known_admin_password(s: SupersetSettings | None = None) -> tuple[str, str]:
    """Like :func:`admin_password`, but never generates one: ("", SUPERSET_ADMIN_PASSWORD) when
    set-up was given the password and this process was not."""
    s = s or load_superset()
    pw_file = superset_home(s) / PASSWORD_FILE
    if s.admin_password or (pw_file.is_file() and pw_file.read_text().strip()):
        return admin_password(s)
    return "", ADMIN_PASSWORD_VARIABLE


# ---- set-up and import ----------------------------------------------------------------------
@dataclass(frozen=True)
class Login:
    username: str
    password: str  # "" when only set-up knew it (SUPERSET_ADMIN_PASSWORD not given here)
    source: str  # SUPERSET_ADMIN_PASSWORD, or the file it is kept in

    @property
    def from_environment(self) -> bool:
        return self.source == ADMIN_PASSWORD_VARIABLE and bool(self.password)


def _import_task(tmp: Path, allow_missing_warehouse: bool) -> dict:
    wh = check_warehouse(allow_missing_warehouse)
    zip_path = bundle_mod.render(BUNDLE_DIR, wh, tmp / "bundle.zip")
    return {"task": "import", "zip": str(zip_path), "username": ADMIN_USERNAME}


def _log_import(results: list[dict]) -> None:
    for result in results:
        if result["task"] == "import":
            log.info("imported (overwrite): %s", ", ".join(result["summary"]))
            log.info("dashboards from %s imported, access from security.yaml applied", BUNDLE_DIR)


def build(allow_missing_warehouse: bool = False) -> None:
    """Render the bundle into a temporary ZIP and import it, overwriting what it holds.

    Superset's `import-dashboards` keeps existing databases/datasets/charts untouched, so the
    import runs Superset's import commands for each type with overwrite (see importer.py).
    """
    s = load_superset()
    with tempfile.TemporaryDirectory(prefix="exams-superset-bundle-") as tmp:
        task = _import_task(Path(tmp), allow_missing_warehouse)
        _log_import(run_worker([task], s))


def setup(allow_missing_warehouse: bool = False, skip_import: bool = False) -> Login:
    """Metadata, roles, admin user, then (unless skip_import) dashboards and access. Returns how
    to log in."""
    t0 = time.monotonic()
    superset_bin("superset")  # the Superset environment, before anything is made
    s = load_superset()
    home = ensure_private_home(s)
    secret_key(s)  # outside demo/test mode, no SUPERSET_SECRET_KEY stops here
    if not skip_import:
        check_warehouse(allow_missing_warehouse)
        # Validate the bundle and security.yaml before the slow steps.
        bundle = bundle_mod.load(BUNDLE_DIR)
        bundle_mod.validate(bundle)
        access.load_plan(bundle, settings.load().warehouse, allow_no_academies=True)
    log.info("Superset home %s", home)
    run_superset("db", "upgrade", s=s)
    run_superset("init", s=s)
    password, source = admin_password(s)
    tasks = [{"task": "admin", "username": ADMIN_USERNAME, "password": password}]
    with tempfile.TemporaryDirectory(prefix="exams-superset-bundle-") as tmp:
        if not skip_import:
            tasks.append(_import_task(Path(tmp), allow_missing_warehouse))
        results = run_worker(tasks, s)
    log.info("admin user '%s' %s (password from %s)", ADMIN_USERNAME, results[0]["action"], source)
    _log_import(results)
    log.info("set-up done in %.0f s", time.monotonic() - t0)
    return Login(ADMIN_USERNAME, password, source)


# ---- analysts -----------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalystAccount:
    username: str
    action: str  # created, updated
    role: str
    generated_password: str | None  # shown once; None when given or kept


def check_analyst(academy: str, username: str) -> str:
    """The académie code as the seed writes it (ACADEMY=1 → 01); an unknown académie or an
    invalid user name is a ConfigError (before any password is asked)."""
    if academy.isdigit() and len(academy) == 1:
        academy = academy.zfill(2)
    plan = access.load_plan(warehouse=settings.load().warehouse)
    if plan.academy_role(academy) is None:
        known = ", ".join(r.academy.code for r in plan.roles if r.academy)
        raise ConfigError(f"unknown académie {academy!r} (known: {known})")
    if not username.strip() or any(c.isspace() for c in username):
        raise ConfigError(f"invalid user name {username!r}")
    return academy


def analyst(academy: str, username: str, password: str | None) -> AnalystAccount:
    """Create or update a rectorat analyst bound to one académie's role.

    password: the one to set; None keeps an existing account's password, and gives a new one a
    generated password (returned, to be shown once).
    """
    academy = check_analyst(academy, username)
    generated = secrets.token_urlsafe(15)
    task = {"task": "analyst", "academy": academy, "username": username,
            "password": password or "", "new_password": generated}  # fmt: skip
    (result,) = run_worker([task], load_superset())
    return AnalystAccount(
        username=username,
        action=result["action"],
        role=result["role"],
        generated_password=generated if result["password"] == "generated" else None,
    )


def render_to(out: Path) -> Path:
    """Only write the bundle ZIP (for inspection)."""
    return bundle_mod.render(BUNDLE_DIR, settings.load().warehouse, out)
