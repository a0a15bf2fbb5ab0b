"""Helpers for the Superset tests: the running server and an authenticated API client."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SUPERSET_PY = REPO_ROOT / ".venv" / "superset" / "bin" / "python"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "superset"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SupersetServer:
    url: str
    username: str
    password: str
    home: Path
    warehouse: Path
    env: dict[str, str]
    log: Path
    # académie code → (username, password) of analysts made by the `analyst` command
    analysts: dict[str, tuple[str, str]] = field(default_factory=dict)

    def run_app(
        self, *args: str, timeout: int = 600, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(SUPERSET_PY), "-m", "exams.superset_app", *args],
            env={**self.env, **(extra_env or {})},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


class Api:
    """requests.Session logged in through POST /api/v1/security/login, with a CSRF token."""

    def __init__(
        self, server: SupersetServer, username: str | None = None, password: str | None = None
    ) -> None:
        self.base = server.url
        self.s = requests.Session()
        r = self.s.post(
            f"{self.base}/api/v1/security/login",
            json={
                "username": username or server.username,
                "password": password or server.password,
                "provider": "db",
                "refresh": False,
            },
            timeout=30,
        )
        r.raise_for_status()
        self.s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        csrf = self.get("/api/v1/security/csrf_token/")["result"]
        self.s.headers.update({"X-CSRFToken": csrf, "Referer": self.base})

    def get(self, path: str, **params) -> dict:
        r = self.s.get(f"{self.base}{path}", params=params or None, timeout=60)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:500]}"
        return r.json()

    def post(self, path: str, payload: dict) -> requests.Response:
        return self.s.post(f"{self.base}{path}", json=payload, timeout=120)
