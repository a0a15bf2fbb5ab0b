"""Helpers shared by the tests that run the pipeline (importable under a unique name:
several test folders have their own conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO_ROOT / "data" / "raw"
VENV = REPO_ROOT / ".venv"
EXAMS = VENV / "transform" / "bin" / "exams"


def pipeline_env(raw_dir: Path, warehouse: Path, extracts: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        EXAMS_MODE="test",
        EXAMS_RAW_DIR=str(raw_dir),
        EXAMS_WAREHOUSE=str(warehouse),
        EXAMS_EXTRACTS_DIR=str(extracts or warehouse.parent / "extracts"),
        EXAMS_PSEUDONYM_KEY="test-key-not-secret",
    )
    return env


def run_exams(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    exe = str(EXAMS) if EXAMS.exists() else sys.executable
    cmd = [exe, *args] if EXAMS.exists() else [exe, "-m", "exams.cli", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO_ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"exams {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc
