"""Superset configuration, loaded by Superset through ``SUPERSET_CONFIG_PATH``.

- Home: ``$SUPERSET_HOME`` (default ``data/superset/``): SQLite metadata unless
  ``SUPERSET_DATABASE_URI``, secret key in demo/test mode.
- ``SECRET_KEY`` from ``SUPERSET_SECRET_KEY``. In demo/test mode (``EXAMS_MODE``) a random key is
  generated once and kept in ``$SUPERSET_HOME/.secret_key``; in any other mode Superset refuses
  to start without it (never a fixed default).
- Metadata: ``SUPERSET_DATABASE_URI`` when set (PostgreSQL in docker-compose.yml).
- CSRF on; no SQL Lab for the roles of dashboards/security.yaml; ad-hoc subqueries refused.
- Caches: Redis when ``SUPERSET_REDIS_URL`` is set, else in-process; chart data kept 60 s.
- No examples, French UI and number format.

Superset executes this file with ``spec_from_file_location``: keep it self-contained apart from the
light ``exams.superset_app`` helpers.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta

from exams.settings import DEMO_MODES
from exams.superset_app import metadata_uri, superset_home

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

# SUPERSET_DATABASE_URI (PostgreSQL in docker-compose.yml), else SQLite in the home.
SQLALCHEMY_DATABASE_URI = metadata_uri()

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
    # No subquery in ad-hoc metrics, columns or filters: an analyst's custom SQL cannot reach a
    # table their role does not hold (audit.*), nor get round row-level security.
    "ALLOW_ADHOC_SUBQUERY": False,
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

# --- caches (flask-caching 2.3.1) ----------------------------------------------------------
# SUPERSET_REDIS_URL set (docker-compose.yml): RedisCache, shared by every gunicorn worker and
# the init container. Otherwise SimpleCache, private to the single gunicorn worker.
# Chart data is cached SUPERSET_DATA_CACHE_TIMEOUT seconds (default 60): a nightly publication
# (a new file os.replace()d onto the served path, which Superset cannot see) shows on the
# dashboards within a minute, while a dashboard's burst of identical queries is still served
# from the cache. The import needs no cache clearing: a changed chart, dataset or row-level
# security rule changes the query, hence the cache key.
_REDIS_URL = os.environ.get("SUPERSET_REDIS_URL", "")
DATA_CACHE_TIMEOUT = int(os.environ.get("SUPERSET_DATA_CACHE_TIMEOUT", "60"))


def _cache(prefix: str, timeout: int) -> dict:
    config = {"CACHE_DEFAULT_TIMEOUT": timeout, "CACHE_KEY_PREFIX": prefix}
    if _REDIS_URL:
        return {**config, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": _REDIS_URL}
    return {**config, "CACHE_TYPE": "SimpleCache"}


CACHE_DEFAULT_TIMEOUT = 300
CACHE_CONFIG = _cache("superset_meta_", 300)
DATA_CACHE_CONFIG = _cache("superset_data_", DATA_CACHE_TIMEOUT)
if _REDIS_URL:
    # login rate limits counted across workers, not per process
    RATELIMIT_STORAGE_URI = _REDIS_URL

# --- no examples -------------------------------------------------------------------------
# Examples are only created by `superset load-examples`, which set-up never runs.

# --- French by default ------------------------------------------------------------------
BABEL_DEFAULT_LOCALE = "fr"
LANGUAGES = {
    "fr": {"flag": "fr", "name": "Français"},
    "en": {"flag": "us", "name": "English"},
}
# d3-format locale: "72,4 %" (French: a narrow no-break space before the percent sign, as
# between thousands) from every ".1%" format — numbers, axes, labels, tooltips, table totals.
D3_FORMAT = {
    "decimal": ",",
    "thousands": "\u202f",
    "grouping": [3],
    "currency": ["", "\u00a0€"],
    "percent": "\u202f%",
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
