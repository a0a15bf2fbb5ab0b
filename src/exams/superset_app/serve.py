"""``exams superset serve``: Superset (gunicorn) in the foreground, the way ``make demo`` ends.

gunicorn runs as a child of this process, under umask 077. Its request log goes to a file
(SUPERSET_ACCESS_LOG, default ``$SUPERSET_HOME/access.log``; ``-`` for stdout), so that the
terminal keeps what matters: once Superset answers ``/health``, the URL, the user and the
password (or where it comes from) are printed — again, at the bottom — with how to stop it.
Ctrl-C stops gunicorn (it gets the terminal's SIGINT too); SIGTERM (``docker stop``, where this
process is PID 1) is passed on to it. Any other end of gunicorn is an error.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from exams import settings
from exams.errors import ConfigError, ExamsError
from exams.settings import SupersetSettings, load_superset
from exams.superset_app import (
    ACCESS_LOG_FILE,
    ADMIN_USERNAME,
    PRIVATE_UMASK,
    ensure_private_home,
    secret_key,
    sqlite_metadata_file,
    superset_env,
)
from exams.superset_app import bundle as bundle_mod
from exams.superset_app.provision import Login, known_admin_password, superset_bin

log = logging.getLogger(__name__)

HEALTH_POLL_S = 1.0
WORKERS = 1  # one process: in-process caches and login counters hold for the whole server
THREADS = 4


@dataclass(frozen=True)
class Serving:
    """What the terminal shows once Superset answers."""

    url: str
    login: Login
    access_log: str
    https: bool

    def banner(self) -> str:
        if self.login.from_environment:
            password = "the value of SUPERSET_ADMIN_PASSWORD"
        elif self.login.password:
            password = f"{self.login.password}   (kept in {self.login.source})"
        else:
            password = f"the one given to set-up ({self.login.source})"
        lines = [
            "",
            f"  Superset is ready: {self.url}",
            f"    user:        {self.login.username}",
            f"    password:    {password}",
            f"    request log: {self.access_log}",
        ]
        if self.https:
            lines.append("    SUPERSET_HTTPS: open it through your TLS proxy's https:// address")
        lines += ["  It runs in the foreground: Ctrl-C stops it.", ""]
        return "\n".join(lines)


def imported_warehouse_uris(s: SupersetSettings) -> list[str] | None:
    """The DuckDB URIs Superset's metadata holds (None: cannot tell)."""
    db_file = sqlite_metadata_file(s)
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


def _check_ready(s: SupersetSettings) -> None:
    db_file = sqlite_metadata_file(s)
    if db_file is not None and not db_file.is_file():
        raise ConfigError("Superset is not set up: run `make superset-setup` first")
    warehouse = settings.load().warehouse
    expected = f"duckdb:///{bundle_mod.warehouse_path(warehouse)}"
    uris = imported_warehouse_uris(s)
    if uris is not None and expected not in uris:
        log.warning(
            "the dashboards read %s, not %s: run `make superset-setup` (or superset-import) to "
            "point them at it",
            ", ".join(uris) or "nothing", expected,
        )  # fmt: skip
    if not warehouse.is_file():
        log.warning("no published warehouse at %s yet (run `make pipeline`)", warehouse)


def access_log_path(s: SupersetSettings) -> str:
    return s.access_log or str(s.home / ACCESS_LOG_FILE)


def gunicorn_argv(s: SupersetSettings) -> list[str]:
    return [
        str(superset_bin("gunicorn")),
        "--workers", str(WORKERS),
        "--worker-class", "gthread",
        "--threads", str(THREADS),
        "--timeout", "120",
        "--bind", f"{s.bind_host}:{s.port}",
        "--no-control-socket",
        "--limit-request-line", "0",
        "--limit-request-field_size", "0",
        "--access-logfile", access_log_path(s),
        "superset.app:create_app()",
    ]  # fmt: skip


# a wildcard bind address → the loopback address this process polls
WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}


def _local_url(s: SupersetSettings) -> tuple[str, str]:
    """(URL to show, /health URL this process polls)."""
    host = f"[{s.bind_host}]" if ":" in s.bind_host else s.bind_host
    shown = "localhost" if s.bind_host in WILDCARDS else host
    polled = WILDCARDS.get(s.bind_host, host)
    return f"http://{shown}:{s.port}/", f"http://{polled}:{s.port}/health"


def _healthy(url: str) -> bool:
    # As the TLS proxy would: with SUPERSET_HTTPS, a plain-http request is redirected otherwise.
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def serve(announce: Callable[[Serving], None]) -> None:
    """gunicorn in the foreground; `announce` once Superset answers /health. Returns when it
    was stopped (Ctrl-C, SIGTERM); raises ExamsError if it ended on its own."""
    superset_bin("gunicorn")  # the Superset environment, before anything is made
    s = load_superset()
    ensure_private_home(s)
    secret_key(s)  # outside demo/test mode, no SUPERSET_SECRET_KEY stops here, not in gunicorn
    _check_ready(s)
    shown, health = _local_url(s)
    password, source = known_admin_password(s)
    serving = Serving(shown, Login(ADMIN_USERNAME, password, source), access_log_path(s), s.https)
    log.info(
        "starting Superset on %s:%d (request log: %s)", s.bind_host, s.port, serving.access_log
    )
    proc = subprocess.Popen(gunicorn_argv(s), env=superset_env(s), umask=PRIVATE_UMASK)
    stopping = False

    def _pass_on(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, _pass_on)
    try:
        while proc.poll() is None and not _healthy(health):
            time.sleep(HEALTH_POLL_S)
        if proc.poll() is None:
            announce(serving)
        rc = proc.wait()
    except KeyboardInterrupt:
        stopping = True
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        rc = proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if stopping or rc in (0, -signal.SIGINT, -signal.SIGTERM):
        log.info("Superset stopped")
        return
    raise ExamsError(f"Superset (gunicorn) ended with exit status {rc} (see its log above)")
