"""Superset configuration, loaded by Superset through ``SUPERSET_CONFIG_PATH``.

- Metadata: SQLite in ``$SUPERSET_HOME`` (default ``data/superset/``).
- ``SECRET_KEY`` from ``SUPERSET_SECRET_KEY``. In demo/test mode (``EXAMS_MODE``) a random key is
  generated once and kept in ``$SUPERSET_HOME/.secret_key``; in any other mode Superset refuses
  to start without it (never a fixed default).
- CSRF on, simple in-process caches, no examples, French UI and number format.

Superset executes this file with ``spec_from_file_location``: keep it self-contained apart from the
light ``exams.superset_app`` helpers.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta

from exams.settings import DEMO_MODES
from exams.superset_app import superset_home

_HOME = superset_home()
_HOME.mkdir(parents=True, exist_ok=True)
DATA_DIR = str(_HOME)


def _secret_key() -> str:
    key = os.environ.get("SUPERSET_SECRET_KEY", "")
    if key:
        return key
    mode = os.environ.get("EXAMS_MODE", "production")
    if mode not in DEMO_MODES:
        sys.stderr.write(
            "SUPERSET_SECRET_KEY is not set: refusing to start Superset outside demo/test mode "
            "(set EXAMS_MODE=demo for a local run).\n"
        )
        raise SystemExit(2)
    key_file = _HOME / ".secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}?check_same_thread=false"

# --- security ----------------------------------------------------------------------------
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = int(timedelta(hours=12).total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
PREVENT_UNSAFE_DB_CONNECTIONS = True
PUBLIC_ROLE_LIKE = None
# Users, roles and row-level security through the REST API (admin only).
FAB_ADD_SECURITY_API = True
FEATURE_FLAGS = {
    "ENABLE_TEMPLATE_PROCESSING": False,
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
    "EMBEDDED_SUPERSET": False,
}

# Strict CSP: everything is served locally (no CDN, no map tiles, no telemetry pixel).
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}

# --- caches (flask-caching 2.3.1; SimpleCache lives in the single gunicorn worker) -----------
CACHE_DEFAULT_TIMEOUT = 300
CACHE_CONFIG = {
    "CACHE_TYPE": "SimpleCache",
    "CACHE_DEFAULT_TIMEOUT": 300,
    "CACHE_KEY_PREFIX": "superset_meta_",
}
# Query results: the warehouse is replaced at most nightly; keep results briefly.
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "SimpleCache",
    "CACHE_DEFAULT_TIMEOUT": int(os.environ.get("SUPERSET_DATA_CACHE_TIMEOUT", "600")),
    "CACHE_KEY_PREFIX": "superset_data_",
}

# --- no examples -------------------------------------------------------------------------
# Examples are only created by `superset load-examples`, which set-up never runs.

# --- French by default ------------------------------------------------------------------
BABEL_DEFAULT_LOCALE = "fr"
LANGUAGES = {
    "fr": {"flag": "fr", "name": "Français"},
    "en": {"flag": "us", "name": "English"},
}
D3_FORMAT = {
    "decimal": ",",
    "thousands": "\u202f",
    "grouping": [3],
    "currency": ["", "\u00a0€"],
}

# Superset 6.1's French pack translates "Summary" (the label of a table's totals row) as
# "Dimanche". Serve the pack with that entry fixed (the pack is public UI text).
_FR_FIXES = {"Summary": "Total"}


def FLASK_APP_MUTATOR(app) -> None:  # noqa: N802 - the name Superset looks for
    import json
    from pathlib import Path

    import superset
    from flask import Response, request

    pack_file = Path(superset.__file__).parent / "translations/fr/LC_MESSAGES/messages.json"
    if not pack_file.is_file():
        return
    pack = json.loads(pack_file.read_text(encoding="utf-8"))
    messages = pack.get("locale_data", {}).get("superset", {})
    for msgid, text in _FR_FIXES.items():
        if msgid in messages:
            messages[msgid] = [text]
    body = json.dumps(pack, ensure_ascii=False)

    @app.before_request
    def _fixed_french_language_pack():
        if request.path.rstrip("/") == "/superset/language_pack/fr":
            return Response(body, mimetype="application/json")
        return None


APP_NAME = "Résultats d'examens"
ROW_LIMIT = 50000
SUPERSET_WEBSERVER_TIMEOUT = 120
LOG_LEVEL = os.environ.get("SUPERSET_LOG_LEVEL", "WARNING")
