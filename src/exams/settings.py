"""Every setting the platform reads, in one place: one field per environment variable, with its
default and its meaning. Nothing else in the package reads `os.environ` for a setting.

`exams settings` prints them with the values in force. Paths are resolved against the
repository root unless absolute. Standard library only: the Airflow and Superset environments
import this module too.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from exams.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

DEMO_MODES = frozenset({"demo", "test"})


def resolve_path(value: str | os.PathLike[str]) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (REPO_ROOT / p)


def _names(value: str) -> frozenset[str]:
    return frozenset(n.strip() for n in value.split(",") if n.strip())


def _flag(value: str) -> bool:
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"", "0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _setting(env: str, default: object, parse: Callable[[str], object], doc: str) -> object:
    """A field read from `env` (absent or empty: `default`)."""
    return field(default=default, metadata={"env": env, "parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    raw_dir: Path = _setting(
        "EXAMS_RAW_DIR", resolve_path("data/raw"), resolve_path, "folder of delivered exports"
    )
    warehouse: Path = _setting(
        "EXAMS_WAREHOUSE", resolve_path("data/warehouse/results.duckdb"), resolve_path,
        "the published (served) DuckDB file",
    )  # fmt: skip
    extracts_dir: Path = _setting(
        "EXAMS_EXTRACTS_DIR", resolve_path("data/extracts"), resolve_path,
        "ministry extracts, one folder per session",
    )  # fmt: skip
    state_dir_override: Path | None = _setting(
        "EXAMS_STATE_DIR", None, resolve_path,
        "private state (build database with personal data); default .private/ beside the "
        "warehouse",
    )  # fmt: skip
    mode: str = _setting(
        "EXAMS_MODE", "production", str,
        "production, or demo/test (a pseudonymisation key is generated when none is given)",
    )  # fmt: skip
    pseudonym_key_value: str = _setting(
        "EXAMS_PSEUDONYM_KEY", "", str, "HMAC key of candidate_key (required in production)"
    )
    secrecy_threshold: int = _setting(
        "EXAMS_SECRECY_THRESHOLD", 5, int, "statistical secrecy: populations below are hidden"
    )
    mismatch_warn_share: float = _setting(
        "EXAMS_MISMATCH_WARN_SHARE", 0.05, float,
        "warning when more jury decisions than this share differ from the recomputed ones",
    )  # fmt: skip
    volume_warn_ratio: float = _setting(
        "EXAMS_VOLUME_WARN_RATIO", 0.5, float,
        "warning when a session × académie's candidates move by more than this ratio",
    )  # fmt: skip
    quarantine_warn_share: float = _setting(
        "EXAMS_QUARANTINE_WARN_SHARE", 0.02, float,
        "warning when a file quarantines more than this share of its rows",
    )  # fmt: skip
    max_line_bytes: int = _setting(
        "EXAMS_MAX_LINE_BYTES", 65536, int,
        "longest line an export may have (bytes); a longer one rejects the file (MALFORMED_CSV)",
    )  # fmt: skip
    shrink_min_ratio: float = _setting(
        "EXAMS_SHRINK_MIN_RATIO", 0.5, float,
        "a correction registering fewer than this share of the candidates of the file it "
        "replaces is REJECTED (SUSPICIOUS_SHRINK)",
    )  # fmt: skip
    accept_shrink: frozenset[str] = _setting(
        "EXAMS_ACCEPT_SHRINK", frozenset(), _names,
        "comma-separated file names whose shrink is meant (loaded anyway)",
    )  # fmt: skip
    duckdb_memory_limit: str = _setting(
        "EXAMS_DUCKDB_MEMORY_LIMIT", "1500MB", str, "DuckDB memory limit (it spills beyond)"
    )
    dbt_threads: int = _setting("EXAMS_DBT_THREADS", 2, int, "dbt threads")
    lock_lease_minutes: int = _setting(
        "EXAMS_LOCK_LEASE_MINUTES", 90, int,
        "how long an orchestrated run keeps the run lock between two of its stages",
    )  # fmt: skip
    run_id: str = _setting(
        "EXAMS_RUN_ID", "", str,
        "the run a stage belongs to (set by the DAG: its stages are one run); empty: a run of "
        "its own",
    )  # fmt: skip
    force_rebuild: bool = _setting(
        "EXAMS_FORCE_REBUILD", False, _flag, "rebuild and republish even if nothing changed"
    )
    suites_dir: Path = _setting(
        "EXAMS_SUITES_DIR", EXPECTATIONS_DIR / "suites", resolve_path,
        "great-expectations suites",
    )  # fmt: skip
    transform_bin: Path = _setting(
        "EXAMS_TRANSFORM_BIN", REPO_ROOT / ".venv" / "transform" / "bin", resolve_path,
        "folder of the transform environment's `exams` command (used by the DAG)",
    )  # fmt: skip
    dag_retries: int = _setting(
        "EXAMS_DAG_RETRIES", 2, int, "retries of a failed DAG task (0 for one-shot runs)"
    )

    # ---- derived paths ------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        """Private state (build database with personal data, parse cache, key, work files):
        EXAMS_STATE_DIR, else `.private/` beside the served file. Never served."""
        return self.state_dir_override or (self.warehouse.parent / ".private")

    @property
    def publish_dir(self) -> Path:
        """The served folder: the published file, its `.new` candidate (same filesystem, so
        os.replace is atomic), and the Data Docs / dbt docs sites."""
        return self.warehouse.parent

    @property
    def build_db(self) -> Path:
        """Private build database: raw rows and staging hold personal data; never served."""
        return self.state_dir / f"{self.warehouse.stem}.build.duckdb"

    @property
    def new_db(self) -> Path:
        return self.publish_dir / f"{self.warehouse.name}.new"

    @property
    def work_dir(self) -> Path:
        return self.state_dir / f"{self.warehouse.stem}.work"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / f"{self.warehouse.stem}.run.lock"

    def pseudonym_key(self) -> bytes:
        """HMAC key for candidate_key. Required outside demo/test mode.

        In demo/test mode with no key, a random key is generated once and kept in the private
        state folder (never a fixed default), so that keys stay stable across runs.
        """
        if self.pseudonym_key_value:
            return self.pseudonym_key_value.encode()
        if self.mode not in DEMO_MODES:
            raise ConfigError(
                "EXAMS_PSEUDONYM_KEY is not set: refusing to pseudonymise candidates outside "
                "demo/test mode (set EXAMS_MODE=demo for a local run)."
            )
        key_file = self.state_dir / ".pseudonym_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return key_file.read_text().strip().encode()

    def dbt_env(self) -> dict[str, str]:
        """What dbt's profile (profiles.yml, `env_var`) reads: the databases and limits."""
        return {
            "EXAMS_BUILD_DB": str(self.build_db),
            "EXAMS_PUBLISH_DB": str(self.new_db),
            "EXAMS_DBT_THREADS": str(self.dbt_threads),
            "EXAMS_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
        }


def _read(cls: type, environ: Mapping[str, str] | None) -> dict[str, object]:
    """The fields of `cls` set in the environment, parsed; a bad value names its variable."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(cls):
        raw = env.get(f.metadata["env"], "")
        if raw.strip() == "":
            continue
        try:
            values[f.name] = f.metadata["parse"](raw.strip())
        except ValueError as e:
            raise ConfigError(f"{f.metadata['env']}={raw!r} is not valid: {e}") from e
    return values


def load(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """The settings in force: the environment (or `environ`), then `overrides` by field name."""
    return Settings(**{**_read(Settings, environ), **overrides})  # type: ignore[arg-type]


def describe(s: Settings) -> list[tuple[str, str, str]]:
    """(variable, value in force, meaning) for every setting; secrets are not shown."""
    out = []
    for f in fields(Settings):
        value = getattr(s, f.name)
        if f.metadata["env"] == "EXAMS_PSEUDONYM_KEY":
            value = "(set)" if value else "(not set)"
        elif isinstance(value, frozenset):
            value = ",".join(sorted(value))
        out.append((f.metadata["env"], str(value), f.metadata["doc"]))
    return out


# ---- Superset (read in the Superset environment) ---------------------------------------------
@dataclass(frozen=True)
class SupersetSettings:
    home: Path = _setting(
        "SUPERSET_HOME", resolve_path("data/superset"), resolve_path,
        "Superset's private folder (SQLite metadata, secret key, generated admin password)",
    )  # fmt: skip
    database_uri: str = _setting(
        "SUPERSET_DATABASE_URI", "", str, "Superset metadata database (default SQLite in home)"
    )
    secret_key: str = _setting("SUPERSET_SECRET_KEY", "", str, "Flask secret key")
    admin_password: str = _setting(
        "SUPERSET_ADMIN_PASSWORD", "", str, "admin password (else generated once, kept in home)"
    )
    analyst_password: str = _setting(
        "SUPERSET_ANALYST_PASSWORD", "", str,
        "password of the analyst account `exams superset analyst` creates or updates (else asked "
        "on a terminal, else generated)",
    )  # fmt: skip
    port: int = _setting("SUPERSET_PORT", 8088, int, "web server port")
    bind_host: str = _setting("SUPERSET_BIND_HOST", "0.0.0.0", str, "web server address")
    access_log: str = _setting(
        "SUPERSET_ACCESS_LOG", "", str,
        "web server request log (default: access.log in home; '-': standard output)",
    )  # fmt: skip
    redis_url: str = _setting("SUPERSET_REDIS_URL", "", str, "Redis for caches and rate limits")
    data_cache_timeout: int = _setting(
        "SUPERSET_DATA_CACHE_TIMEOUT", 60, int, "seconds chart data is cached"
    )
    https: bool = _setting(
        "SUPERSET_HTTPS", False, _flag,
        "served over HTTPS (behind a TLS proxy setting X-Forwarded-Proto): cookies marked "
        "Secure, plain http redirected to https",
    )  # fmt: skip
    login_rate_limit: str = _setting(
        "SUPERSET_LOGIN_RATE_LIMIT", "5 per 1 minute", str,
        "login attempts allowed (Flask-Limiter syntax) per client address and user name, on the "
        "login form and on the API; beyond, 429 until the window has passed",
    )  # fmt: skip
    log_level: str = _setting("SUPERSET_LOG_LEVEL", "WARNING", str, "Superset's log level")
    mode: str = _setting("EXAMS_MODE", "production", str, "production, or demo/test")


def load_superset(environ: Mapping[str, str] | None = None) -> SupersetSettings:
    return SupersetSettings(**_read(SupersetSettings, environ))  # type: ignore[arg-type]
