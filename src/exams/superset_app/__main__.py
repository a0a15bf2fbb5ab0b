"""``python -m exams.superset_app {setup,build,serve,render,analyst}`` — with .venv/superset's python.

setup   superset db upgrade → admin user → superset init → import the dashboards and apply
        dashboards/security.yaml (idempotent; --skip-import: everything but the import, which
        needs no warehouse)
build   render dashboards/ into a ZIP (temporary folder), import it (overwrite) and apply
        dashboards/security.yaml (roles, row-level security); idempotent
analyst a rectorat analyst's account bound to one académie's role (idempotent; an unknown
        académie is refused): --academy 10 --username jdupont, password from
        SUPERSET_ANALYST_PASSWORD (generated and printed for a new account when empty)
serve   gunicorn in the foreground on 0.0.0.0:${SUPERSET_PORT:-8088}
render  only write the ZIP somewhere (for inspection)

Settings (environment): EXAMS_WAREHOUSE (published DuckDB file), SUPERSET_HOME (default
data/superset), SUPERSET_DATABASE_URI (metadata; default SQLite in the home), SUPERSET_REDIS_URL
(caches; default in-process), SUPERSET_SECRET_KEY (required outside EXAMS_MODE demo/test),
SUPERSET_ADMIN_PASSWORD (else generated once and kept in $SUPERSET_HOME/admin_password),
SUPERSET_PORT, SUPERSET_BIND_HOST (default 0.0.0.0).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from exams import settings
from exams.superset_app import (
    ADMIN_USERNAME,
    BUNDLE_DIR,
    DEFAULT_PORT,
    sqlite_metadata_file,
    superset_env,
    superset_home,
)
from exams.superset_app import bundle as bundle_mod

PASSWORD_FILE = "admin_password"


def log(msg: str) -> None:
    print(f"[superset] {msg}", flush=True)


def superset_exe() -> str:
    exe = Path(sys.executable).parent / "superset"
    if not exe.exists():
        raise SystemExit(f"{exe} not found: run with the Superset environment's python")
    return str(exe)


def run_superset(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    proc = subprocess.run(
        [superset_exe(), *args],
        env=superset_env(),
        capture_output=True,
        text=True,
    )
    log(
        f"superset {args[0] if args[0] != 'fab' else ' '.join(args[:2])} "
        f"({time.monotonic() - t0:.0f} s, exit {proc.returncode})"
    )
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"superset {' '.join(args[:2])} failed (exit {proc.returncode})")
    return proc


def warehouse() -> Path:
    return settings.load().warehouse


def check_warehouse(allow_missing: bool) -> Path:
    wh = warehouse()
    if not wh.is_file():
        msg = f"no published warehouse at {wh} (run `make pipeline`, or set EXAMS_WAREHOUSE)"
        if not allow_missing:
            raise SystemExit(msg)
        log(f"warning: {msg}; the dashboards will show errors until it exists")
    return wh


# ---- admin password ------------------------------------------------------------------------
def admin_password() -> tuple[str, str]:
    """(password, where it comes from). Never a fixed default.

    SUPERSET_ADMIN_PASSWORD wins; otherwise a password generated once with `secrets` and kept
    (mode 0600) in $SUPERSET_HOME/admin_password, so that re-running set-up keeps it.
    """
    env_pw = os.environ.get("SUPERSET_ADMIN_PASSWORD", "")
    if env_pw:
        return env_pw, "SUPERSET_ADMIN_PASSWORD"
    pw_file = superset_home() / PASSWORD_FILE
    if pw_file.is_file() and pw_file.read_text().strip():
        return pw_file.read_text().strip(), str(pw_file)
    pw_file.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    log(f"generated an admin password, kept in {pw_file}")
    return password, str(pw_file)


def admin_exists() -> bool | None:
    """Whether the admin user is already in the SQLite metadata (None: cannot tell)."""
    db_file = sqlite_metadata_file()
    if db_file is None:
        return None
    if not db_file.is_file():
        return False
    try:
        con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
        try:
            row = con.execute(
                "SELECT count(*) FROM ab_user WHERE username = ?", (ADMIN_USERNAME,)
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return bool(row[0])


def ensure_admin() -> None:
    password, source = admin_password()
    if admin_exists():
        # Re-run: reset the password so that the one in force is always the one set-up and
        # serve print (SUPERSET_ADMIN_PASSWORD, or the generated one kept in the home).
        run_superset("fab", "reset-password", "--username", ADMIN_USERNAME, "--password", password)
        log(f"admin user '{ADMIN_USERNAME}' kept, password reset (from {source})")
        return
    proc = run_superset(
        "fab",
        "create-admin",
        "--username",
        ADMIN_USERNAME,
        "--firstname",
        "Admin",
        "--lastname",
        "Examens",
        "--email",
        "admin@exams.invalid",
        "--password",
        password,
    )
    if "already exist" in (proc.stdout + proc.stderr).lower():
        run_superset("fab", "reset-password", "--username", ADMIN_USERNAME, "--password", password)
    elif "admin user admin created" not in (proc.stdout + proc.stderr).lower():
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("superset fab create-admin did not create the admin user")
    log(f"admin user '{ADMIN_USERNAME}' ready (password from {source})")


# ---- bundle -------------------------------------------------------------------------------
def build(allow_missing_warehouse: bool = False) -> None:
    """Render the bundle into a temporary ZIP and import it, overwriting what it holds.

    Superset's `import-dashboards` keeps existing databases/datasets/charts untouched, so the
    import runs Superset's import commands for each type with overwrite (see importer.py).
    """
    wh = check_warehouse(allow_missing_warehouse)
    with tempfile.TemporaryDirectory(prefix="exams-superset-bundle-") as tmp:
        zip_path = bundle_mod.render(BUNDLE_DIR, wh, Path(tmp) / "bundle.zip")
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "exams.superset_app.importer", str(zip_path), ADMIN_USERNAME],
            env=superset_env(),
            capture_output=True,
            text=True,
        )
        log(f"import ({time.monotonic() - t0:.0f} s, exit {proc.returncode})")
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
            raise SystemExit(f"dashboard import failed (exit {proc.returncode})")
    for line in proc.stderr.splitlines():
        if line.startswith("warning:"):
            log(line)
    summary = [line for line in proc.stdout.splitlines() if line.startswith("imported")]
    if summary:
        log(summary[-1])
    log(f"dashboards imported from {BUNDLE_DIR} on {wh}, access from security.yaml applied")


def setup(allow_missing_warehouse: bool = False, skip_import: bool = False) -> None:
    t0 = time.monotonic()
    home = superset_home()
    home.mkdir(parents=True, exist_ok=True)
    if not skip_import:
        check_warehouse(allow_missing_warehouse)
        # Validate the bundle and security.yaml before the slow steps.
        from exams.superset_app import access

        bundle = bundle_mod.load(BUNDLE_DIR)
        bundle_mod.validate(bundle)
        try:
            access.load_plan(bundle, warehouse(), allow_no_academies=True)
        except access.AccessError as exc:
            raise SystemExit(f"error: {exc}") from exc
    log(f"home {home}")
    run_superset("db", "upgrade")
    ensure_admin()
    run_superset("init")
    if not skip_import:
        build(allow_missing_warehouse)
    log(f"set-up done in {time.monotonic() - t0:.0f} s")
    password, source = admin_password()
    if source != "SUPERSET_ADMIN_PASSWORD":
        log(f"log in as '{ADMIN_USERNAME}' with password {password} (kept in {source})")


# ---- analysts -----------------------------------------------------------------------------
def analyst(academy: str, username: str) -> None:
    """A rectorat analyst bound to one académie's role (access.py, in a Superset process)."""
    from exams.superset_app import access

    if academy.isdigit() and len(academy) == 1:
        academy = academy.zfill(2)  # ACADEMY=1 → 01, as in the seed
    try:
        plan = access.load_plan(warehouse=warehouse())
    except access.AccessError as exc:
        raise SystemExit(f"error: {exc}") from exc
    if plan.academy_role(academy) is None:
        known = ", ".join(r.academy.code for r in plan.roles if r.academy)
        raise SystemExit(f"error: unknown académie {academy!r} (known: {known})")
    if not username.strip() or any(c.isspace() for c in username):
        raise SystemExit(f"error: invalid user name {username!r}")
    proc = subprocess.run(
        [sys.executable, "-m", "exams.superset_app.access", "analyst", "--academy", academy,
         "--username", username],
        env=superset_env(),
        capture_output=True,
        text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(f"analyst account not created (exit {proc.returncode})")
    for line in proc.stdout.splitlines():
        if not line.startswith("Loaded your LOCAL configuration"):
            log(line)


# ---- serve --------------------------------------------------------------------------------
def imported_warehouse_uris() -> list[str] | None:
    """The DuckDB URIs Superset's metadata holds (None: cannot tell)."""
    db_file = sqlite_metadata_file()
    if db_file is None:
        return None
    try:
        con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT sqlalchemy_uri FROM dbs").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return [r[0] for r in rows if str(r[0]).startswith("duckdb:")]


def serve() -> None:
    port = int(os.environ.get("SUPERSET_PORT") or DEFAULT_PORT)
    host = os.environ.get("SUPERSET_BIND_HOST") or "0.0.0.0"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    db_file = sqlite_metadata_file()
    if db_file is not None and not db_file.is_file():
        raise SystemExit("Superset is not set up: run `make superset-setup` first")
    expected_uri = f"duckdb:///{bundle_mod.warehouse_path(warehouse())}"
    uris = imported_warehouse_uris()
    if uris is not None and expected_uri not in uris:
        log(
            f"warning: the dashboards read {', '.join(uris) or 'nothing'}, not {expected_uri}: "
            "run `make superset-setup` (or superset-import) to point them at it"
        )
    if not warehouse().is_file():
        log(f"warning: no published warehouse at {warehouse()} yet (run `make pipeline`)")
    password, source = admin_password()
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(
        f"\n  Superset: http://{shown}:{port}/\n"
        f"  user: {ADMIN_USERNAME}\n"
        f"  password: {password if source != 'SUPERSET_ADMIN_PASSWORD' else '(SUPERSET_ADMIN_PASSWORD)'}\n"
        f"  warehouse: {warehouse()}\n",
        flush=True,
    )
    argv = [
        str(gunicorn),
        "-w",
        "1",
        "-k",
        "gthread",
        "--threads",
        "4",
        "--timeout",
        "120",
        "-b",
        f"{host}:{port}",
        "--no-control-socket",
        "--limit-request-line",
        "0",
        "--limit-request-field_size",
        "0",
        "--access-logfile",
        os.environ.get("SUPERSET_ACCESS_LOG", "-"),
        "superset.app:create_app()",
    ]
    os.execve(argv[0], argv, superset_env())


def render_to(out: Path) -> Path:
    return bundle_mod.render(BUNDLE_DIR, warehouse(), out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m exams.superset_app",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("setup", "build"):
        p = sub.add_parser(name)
        p.add_argument("--allow-missing-warehouse", action="store_true")
        if name == "setup":
            p.add_argument(
                "--skip-import",
                action="store_true",
                help="metadata, admin and roles only (no warehouse needed); `build` imports later",
            )
    p = sub.add_parser("analyst", help="rectorat analyst account (make analyst)")
    p.add_argument("--academy", required=True, help="académie code, e.g. 10")
    p.add_argument("--username", required=True)
    sub.add_parser("serve")
    p = sub.add_parser("render")
    p.add_argument("out", type=Path, help="ZIP to write")
    args = parser.parse_args(argv)
    if args.cmd == "setup":
        setup(args.allow_missing_warehouse, args.skip_import)
    elif args.cmd == "build":
        build(args.allow_missing_warehouse)
    elif args.cmd == "analyst":
        analyst(args.academy, args.username)
    elif args.cmd == "serve":
        serve()
    elif args.cmd == "render":
        print(bundle_mod.render(BUNDLE_DIR, warehouse(), args.out))


if __name__ == "__main__":
    main()
