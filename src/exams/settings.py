"""Every setting the platform reads, in one place (environment variables, with defaults).

Paths are resolved against the repository root unless absolute.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

DEMO_MODES = {"demo", "test"}


def _path(value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (REPO_ROOT / p)


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse: Path
    extracts_dir: Path
    mode: str
    secrecy_threshold: int
    mismatch_warn_share: float
    volume_warn_ratio: float
    quarantine_warn_share: float = 0.02

    state_dir_override: Path | None = None

    @property
    def state_dir(self) -> Path:
        """Private state (build database with personal data, parse cache, key, work files):
        EXAMS_STATE_DIR, else `.private/` beside the served file. Never served: mount only
        the warehouse folder's published files, or point EXAMS_STATE_DIR elsewhere."""
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

    def pseudonym_key(self) -> bytes:
        """HMAC key for candidate_key. Required outside demo/test mode.

        In demo/test mode with no key, a random key is generated once and kept in the private
        state folder (never a fixed default), so that keys stay stable across runs.
        """
        key = os.environ.get("EXAMS_PSEUDONYM_KEY", "")
        if key:
            return key.encode()
        if self.mode not in DEMO_MODES:
            raise SystemExit(
                "EXAMS_PSEUDONYM_KEY is not set: refusing to pseudonymise candidates outside "
                "demo/test mode (set EXAMS_MODE=demo for a local run)."
            )
        key_file = self.state_dir / ".pseudonym_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.parent.chmod(0o700)
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip().encode()


def load() -> Settings:
    env = os.environ.get
    return Settings(
        raw_dir=_path(env("EXAMS_RAW_DIR", "data/raw")),
        warehouse=_path(env("EXAMS_WAREHOUSE", "data/warehouse/results.duckdb")),
        extracts_dir=_path(env("EXAMS_EXTRACTS_DIR", "data/extracts")),
        mode=env("EXAMS_MODE", "production"),
        secrecy_threshold=int(env("EXAMS_SECRECY_THRESHOLD", "5")),
        mismatch_warn_share=float(env("EXAMS_MISMATCH_WARN_SHARE", "0.05")),
        volume_warn_ratio=float(env("EXAMS_VOLUME_WARN_RATIO", "0.5")),
        quarantine_warn_share=float(env("EXAMS_QUARANTINE_WARN_SHARE", "0.02")),
        state_dir_override=_path(env("EXAMS_STATE_DIR")) if env("EXAMS_STATE_DIR") else None,
    )
