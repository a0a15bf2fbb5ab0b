"""Apache Superset for the published warehouse: configuration, dashboard bundle, set-up, serving.

Run with the Superset environment: ``.venv/superset/bin/python -m exams.superset_app {setup,build,
serve,render,analyst}``. This module, :mod:`exams.superset_app.bundle` and the planning half of
:mod:`exams.superset_app.access` import only the standard library and PyYAML, never ``superset``:
other environments may import them.
"""

from __future__ import annotations

import os
from pathlib import Path

from exams.settings import REPO_ROOT, resolve_path

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_FILE = PACKAGE_DIR / "superset_config.py"
BUNDLE_DIR = REPO_ROOT / "dashboards"
ADMIN_USERNAME = "admin"
DEFAULT_PORT = 8088


def superset_home() -> Path:
    """Superset's private folder (SQLite metadata, secret key, generated admin password)."""
    return resolve_path(os.environ.get("SUPERSET_HOME") or "data/superset")


def metadata_uri() -> str:
    """Superset's metadata database: SUPERSET_DATABASE_URI (PostgreSQL in docker-compose.yml),
    else SQLite in $SUPERSET_HOME."""
    return os.environ.get("SUPERSET_DATABASE_URI") or (
        f"sqlite:///{superset_home() / 'superset.db'}?check_same_thread=false"
    )


def sqlite_metadata_file() -> Path | None:
    """The SQLite metadata file, or None when the metadata lives elsewhere (PostgreSQL)."""
    return None if os.environ.get("SUPERSET_DATABASE_URI") else superset_home() / "superset.db"


def superset_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for every ``superset`` / gunicorn process: our config file and home."""
    env = dict(os.environ)
    env["SUPERSET_HOME"] = str(superset_home())
    env["SUPERSET_CONFIG_PATH"] = str(CONFIG_FILE)
    env.setdefault("FLASK_APP", "superset.app:create_app()")
    env.setdefault("PYTHONUNBUFFERED", "1")
    if extra:
        env.update(extra)
    return env
