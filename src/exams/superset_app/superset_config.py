"""Superset configuration, loaded by Superset through ``SUPERSET_CONFIG_PATH``.

Every value comes from :class:`exams.settings.SupersetSettings` (``exams settings`` lists them).

- Home: ``$SUPERSET_HOME`` (default ``data/superset/``, created 0700): SQLite metadata unless
  ``SUPERSET_DATABASE_URI``, secret key in demo/test mode.
- ``SECRET_KEY`` from ``SUPERSET_SECRET_KEY``. In demo/test mode (``EXAMS_MODE``) a random key is
  generated once and kept (0600) in ``$SUPERSET_HOME/.secret_key``; in any other mode Superset
  refuses to start without it (a ConfigError, never a fixed default).
- Metadata: ``SUPERSET_DATABASE_URI`` when set (PostgreSQL in docker-compose.yml).
- CSRF on; no SQL Lab for the roles of dashboards/security.yaml; ad-hoc subqueries refused.
- Cookies: the session and remember-me cookies are ``HttpOnly`` and ``SameSite=Lax`` always,
  and ``Secure`` when ``SUPERSET_HTTPS`` is true (served behind a TLS proxy, as in
  docker-compose.yml). Talisman agrees: with ``SUPERSET_HTTPS`` it marks the session cookie
  Secure too and redirects a plain-http request to https (``force_https``) unless it came
  through the proxy (``X-Forwarded-Proto: https``, which the proxy must set; the compose
  healthcheck sends it); HSTS is sent on those requests. Without ``SUPERSET_HTTPS`` (``make
  demo`` on http://localhost) nothing is forced: a Secure cookie would never come back over
  plain http and nobody could log in.
- Throttled logins: Flask-AppBuilder's limiter (Flask-Limiter; ``RATELIMIT_ENABLED``,
  ``AUTH_RATE_LIMITED``, ``AUTH_RATE_LIMIT`` = ``SUPERSET_LOGIN_RATE_LIMIT``, default 5 per
  minute) on both login routes: the form (``POST /login/``) and the API (``POST
  /api/v1/security/login``, and ``/refresh`` on the same blueprint). Superset 6.1 applies
  ``AUTH_RATE_LIMIT`` to its own GET-only login page, not to the view that receives the form's
  POST, and FAB never limits the API: :func:`FLASK_APP_MUTATOR` applies FAB's limit to those two
  views. Attempts are counted per client address *and* user name (``RATELIMIT_KEY_FUNC``):
  guessing one account's password is throttled, while the other accounts (colleagues behind
  the same proxy or NAT, the tests' several users on 127.0.0.1) still log in. Every attempt
  counts, right or wrong; the form and the API count separately. A refused attempt gets 429
  with ``Retry-After``. Counters live in Redis when ``SUPERSET_REDIS_URL`` is set (shared by
  every gunicorn worker), else in the process (``make serve`` runs one worker). Superset's
  application-wide limit (``RATELIMIT_APPLICATION``) is off: behind a proxy every user shares
  one address, and dashboards fire bursts of requests.
- Caches: Redis when ``SUPERSET_REDIS_URL`` is set, else in-process; chart data kept 60 s.
- No examples, French UI and number format.

Superset executes this file with ``spec_from_file_location``; other environments load it too
(the fast tests, with ``runpy``): keep it importable without ``superset`` (Superset imports stay
inside functions) and self-contained apart from the light ``exams`` helpers.
"""

from __future__ import annotations

from datetime import timedelta

from exams.settings import load_superset
from exams.superset_app import make_home, metadata_uri, secret_key

_SETTINGS = load_superset()
_HOME = make_home(_SETTINGS)
DATA_DIR = str(_HOME)
_HTTPS = _SETTINGS.https

SECRET_KEY = secret_key(_SETTINGS)

# SUPERSET_DATABASE_URI (PostgreSQL in docker-compose.yml), else SQLite in the home.
SQLALCHEMY_DATABASE_URI = metadata_uri(_SETTINGS)

# --- security ----------------------------------------------------------------------------
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = int(timedelta(hours=12).total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _HTTPS
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
REMEMBER_COOKIE_SECURE = _HTTPS
PREFERRED_URL_SCHEME = "https" if _HTTPS else "http"
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
    "force_https": _HTTPS,
    "session_cookie_secure": _HTTPS,
    "session_cookie_http_only": True,
    "session_cookie_samesite": "Lax",
}

# --- throttled logins (see the module docstring) --------------------------------------------
RATELIMIT_ENABLED = True
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = _SETTINGS.login_rate_limit
RATELIMIT_APPLICATION = None
RATELIMIT_HEADERS_ENABLED = True  # Retry-After on a refused attempt
# Redis (docker-compose.yml): counted across workers and restarts of a worker; else in-process.
RATELIMIT_STORAGE_URI = _SETTINGS.redis_url or "memory://"
RATELIMIT_KEY_PREFIX = "exams_login"
_USERNAME_KEY_MAX = 150  # characters of a submitted user name that go into the counter's key


def RATELIMIT_KEY_FUNC() -> str:  # noqa: N802 - the name Flask-AppBuilder looks for
    """Client address + the user name the login attempt names (form field or JSON member),
    lower-cased (Flask-AppBuilder matches user names case-insensitively)."""
    from flask import request
    from flask_limiter.util import get_remote_address

    username = ""
    if request.method == "POST":
        if request.is_json:
            body = request.get_json(silent=True)
            username = body.get("username", "") if isinstance(body, dict) else ""
        else:
            username = request.form.get("username", "")
    name = str(username).strip().lower()[:_USERNAME_KEY_MAX]
    return f"{get_remote_address()}|{name}"


# --- caches (flask-caching 2.3.1) ----------------------------------------------------------
# SUPERSET_REDIS_URL set (docker-compose.yml): RedisCache, shared by every gunicorn worker and
# the init container. Otherwise SimpleCache, private to the single gunicorn worker.
# Chart data is cached SUPERSET_DATA_CACHE_TIMEOUT seconds (default 60): a nightly publication
# (a new file os.replace()d onto the served path, which Superset cannot see) shows on the
# dashboards within a minute, while a dashboard's burst of identical queries is still served
# from the cache. The import needs no cache clearing: a changed chart, dataset or row-level
# security rule changes the query, hence the cache key.
_REDIS_URL = _SETTINGS.redis_url
DATA_CACHE_TIMEOUT = _SETTINGS.data_cache_timeout


def _cache(prefix: str, timeout: int) -> dict:
    config = {"CACHE_DEFAULT_TIMEOUT": timeout, "CACHE_KEY_PREFIX": prefix}
    if _REDIS_URL:
        return {**config, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": _REDIS_URL}
    return {**config, "CACHE_TYPE": "SimpleCache"}


CACHE_DEFAULT_TIMEOUT = 300
CACHE_CONFIG = _cache("superset_meta_", 300)
DATA_CACHE_CONFIG = _cache("superset_data_", DATA_CACHE_TIMEOUT)

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
    _throttle_logins(app)
    _fix_french_pack(app)


def _throttle_logins(app) -> None:
    """FAB's login limit (AUTH_RATE_LIMIT, FAB's limiter) on the two views that check passwords:
    the form's POST /login/ (FAB's AuthDBView; Superset 6.1 limits its own GET-only login page
    instead) and the API's POST /api/v1/security/login (FAB's SecurityApi, never limited by
    FAB). A refused attempt is one warning line, not Superset's traceback of the HTTP error."""
    import logging

    from flask import has_request_context
    from flask_appbuilder.security.api import SecurityApi
    from flask_appbuilder.security.views import AuthDBView
    from flask_limiter.errors import RateLimitExceeded

    from exams.errors import InvariantBroken

    sm = app.appbuilder.sm
    if not sm.is_auth_limited:
        return
    views = [v for v in app.appbuilder.baseviews if isinstance(v, AuthDBView | SecurityApi)]
    kinds = {type(v) for v in views}
    if not any(issubclass(k, AuthDBView) for k in kinds) or SecurityApi not in kinds:
        raise InvariantBroken(f"login views not found, cannot throttle logins: {kinds}")
    for view in views:
        sm.limiter.limit(sm.auth_rate_limit, methods=["POST"])(view.blueprint)

    def _one_line(record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, RateLimitExceeded):
            who = RATELIMIT_KEY_FUNC() if has_request_context() else "?"
            record.msg = "login attempt refused (%s, over %s)"
            record.args, record.exc_info = (who, exc.description), None
        return True

    logging.getLogger("superset.views.error_handling").addFilter(_one_line)


def _fix_french_pack(app) -> None:
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
LOG_LEVEL = _SETTINGS.log_level
