"""Apache Superset for the published warehouse: configuration, dashboard bundle, set-up, serving.

Run with the Superset environment's command line: ``.venv/superset/bin/exams superset
{setup,build,serve,analyst,render}`` (:mod:`exams.superset_app.cli`; the logic is in
:mod:`~exams.superset_app.provision` and :mod:`~exams.superset_app.serve`). What runs inside a
Superset app context (accounts, import, access) is :mod:`~exams.superset_app.worker`, started
as a subprocess that receives its secrets on stdin.

This module, :mod:`~exams.superset_app.bundle` and the planning half of
:mod:`~exams.superset_app.access` import only the standard library and PyYAML, never
``superset``: other environments may import them.

Private files: Superset's home (``SUPERSET_HOME``) holds the SQLite metadata (password hashes,
users), the secret key and the generated admin password. The folder is created 0700 and every
process that writes into it runs under umask 077 (:data:`PRIVATE_UMASK`), so that its files are
created 0600 — never chmodded afterwards. A home folder the operator made with looser modes is
left as it is, with one warning (:func:`ensure_private_home`).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from exams.errors import ConfigError
from exams.settings import DEMO_MODES, REPO_ROOT, SupersetSettings, load_superset

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_FILE = PACKAGE_DIR / "superset_config.py"
BUNDLE_DIR = REPO_ROOT / "dashboards"
ADMIN_USERNAME = "admin"
PASSWORD_FILE = "admin_password"
SECRET_KEY_FILE = ".secret_key"
ACCESS_LOG_FILE = "access.log"
PRIVATE_UMASK = 0o077  # files 0600, folders 0700
# Variables no Superset process needs: kept out of the children's environment.
PASSWORD_VARIABLES = ("SUPERSET_ADMIN_PASSWORD", "SUPERSET_ANALYST_PASSWORD")


def superset_home(s: SupersetSettings | None = None) -> Path:
    """Superset's private folder (SQLite metadata, secret key, generated admin password)."""
    return (s or load_superset()).home


def metadata_uri(s: SupersetSettings | None = None) -> str:
    """Superset's metadata database: SUPERSET_DATABASE_URI (PostgreSQL in docker-compose.yml),
    else SQLite in $SUPERSET_HOME."""
    s = s or load_superset()
    return s.database_uri or f"sqlite:///{s.home / 'superset.db'}?check_same_thread=false"


def sqlite_metadata_file(s: SupersetSettings | None = None) -> Path | None:
    """The SQLite metadata file, or None when the metadata lives elsewhere (PostgreSQL)."""
    s = s or load_superset()
    return None if s.database_uri else s.home / "superset.db"


def make_home(s: SupersetSettings | None = None) -> Path:
    """The home folder, created 0700 (umask 077 for the mkdir) when missing; an existing one is
    left as it is."""
    home = superset_home(s)
    if not home.exists():
        home.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(PRIVATE_UMASK)
        try:
            home.mkdir(mode=0o700, exist_ok=True)
        finally:
            os.umask(old)
    return home


PRIVATE_FILES = ("superset.db", SECRET_KEY_FILE, PASSWORD_FILE)


def ensure_private_home(s: SupersetSettings | None = None) -> Path:
    """:func:`make_home`, and one warning line when an existing home (or a private file a former
    version left in it) is open to other users. Modes are never changed here: the folder may be
    the operator's own."""
    home = make_home(s)
    loose = [
        f"{p.name} {stat.S_IMODE(p.stat().st_mode):03o}"
        for p in [home, *(home / name for name in PRIVATE_FILES)]
        if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077
    ]
    if loose:
        log.warning(
            "Superset's home %s is readable by other users (%s): left as it is; "
            "`chmod -R go-rwx %s` makes it private",
            home, ", ".join(loose), home,
        )  # fmt: skip
    return home


def write_private(path: Path, text: str, exclusive: bool = False) -> None:
    """Write a file created 0600 (os.open mode), never readable by another user."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def secret_key(s: SupersetSettings | None = None) -> str:
    """SUPERSET_SECRET_KEY; in demo/test mode a random key generated once and kept (0600) in
    $SUPERSET_HOME/.secret_key. Outside demo/test mode, no key is a ConfigError (never a fixed
    default)."""
    s = s or load_superset()
    if s.secret_key:
        return s.secret_key
    if s.mode not in DEMO_MODES:
        raise ConfigError(
            "SUPERSET_SECRET_KEY is not set: refusing to start Superset outside demo/test mode "
            "(set EXAMS_MODE=demo for a local run)"
        )
    key_file = make_home(s) / SECRET_KEY_FILE
    if not key_file.exists():
        try:
            write_private(key_file, secrets.token_urlsafe(48), exclusive=True)
        except FileExistsError:
            pass  # another process made it first: use theirs
    return key_file.read_text().strip()


def superset_env(
    s: SupersetSettings | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment for every ``superset`` / gunicorn / worker process: our config file and
    home, without the passwords (those go to the worker on stdin)."""
    s = s or load_superset()
    env = {k: v for k, v in os.environ.items() if k not in PASSWORD_VARIABLES}
    env["SUPERSET_HOME"] = str(s.home)
    env["SUPERSET_CONFIG_PATH"] = str(CONFIG_FILE)
    env.setdefault("FLASK_APP", "superset.app:create_app()")
    env.setdefault("PYTHONUNBUFFERED", "1")
    if extra:
        env.update(extra)
    return env
