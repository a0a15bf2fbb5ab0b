"""Helpers for the Superset tests: the running server, an authenticated API client, the form
login, and a watch over every process's command line."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SUPERSET_PY = REPO_ROOT / ".venv" / "superset" / "bin" / "python"
EXAMS = REPO_ROOT / ".venv" / "superset" / "bin" / "exams"  # `exams superset …`
ARTIFACTS = REPO_ROOT / "test-artifacts" / "superset"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exams_superset(*args: str) -> list[str]:
    """The command line of `exams superset <args>` (what mk/superset.mk runs)."""
    return [str(EXAMS), "superset", *args]


class CmdlineWatch:
    """Every command line (/proc/<pid>/cmdline, readable by any local user) seen while the
    `with` block runs, polled in a thread every POLL_S (the processes that could carry a
    password — Superset's commands, the worker — live for seconds)."""

    POLL_S = 0.02

    def __init__(self, until: subprocess.Popen | None = None) -> None:
        """until: stop once that process has ended (and was seen)."""
        self.until = until
        self.seen: set[bytes] = set()
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            ended = self.until is not None and self.until.poll() is not None
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as fh:
                            line = fh.read()
                    except OSError:
                        continue
                    if line:
                        self.seen.add(line.replace(b"\0", b" "))
            self.polls += 1
            if ended:
                return
            self._stop.wait(self.POLL_S)

    def start(self, until: subprocess.Popen | None = None) -> CmdlineWatch:
        self.until = until or self.until
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __enter__(self) -> CmdlineWatch:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def containing(self, text: str) -> list[str]:
        needle = text.encode()
        return [c.decode(errors="replace") for c in self.seen if needle in c]


@dataclass
class SupersetServer:
    url: str
    username: str
    password: str
    home: Path
    warehouse: Path
    env: dict[str, str]
    log: Path  # what `exams superset serve` wrote (stdout + stderr)
    # académie code → (username, password) of analysts made by the `analyst` command
    analysts: dict[str, tuple[str, str]] = field(default_factory=dict)
    # command lines seen while set-up and the `analyst` command ran
    watches: list[CmdlineWatch] = field(default_factory=list)

    def run_app(
        self,
        *args: str,
        timeout: int = 600,
        extra_env: dict[str, str] | None = None,
        drop_env: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess:
        env = {k: v for k, v in {**self.env, **(extra_env or {})}.items() if k not in drop_env}
        return subprocess.run(
            exams_superset(*args),
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            stdin=subprocess.DEVNULL,
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
        r = api_login(server.url, username or server.username, password or server.password)
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


def api_login(url: str, username: str, password: str, https: bool = False) -> requests.Response:
    """POST /api/v1/security/login (https: as through the TLS proxy)."""
    return requests.post(
        f"{url}/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db", "refresh": False},
        headers={"X-Forwarded-Proto": "https"} if https else {},
        timeout=30,
    )


def create_user(api: Api, username: str, role: str) -> tuple[str, str]:
    """An account holding `role`, made through the REST API; (username, password)."""
    roles = api.get("/api/v1/security/roles/", q="(page_size:100)")["result"]
    role_id = next(r["id"] for r in roles if r["name"] == role)
    password = secrets.token_urlsafe(16)
    created = api.post(
        "/api/v1/security/users/",
        {
            "first_name": "Test",
            "last_name": role,
            "username": username,
            "email": f"{username}@exams.invalid",
            "password": password,
            "active": True,
            "roles": [role_id],
        },
    )
    assert created.status_code == 201, created.text[:500]
    return username, password


def start_serving(server: SupersetServer) -> subprocess.Popen:
    """`exams superset serve` with the server's environment, its output in `server.log`, in a
    process group of its own (exams, gunicorn's master and worker), for `stop`."""
    with open(server.log, "w") as log:
        return subprocess.Popen(
            exams_superset("serve"),
            env=server.env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    """Stop a process we started in its own session, and everything it started."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class FormLogin:
    """The login form as a browser posts it: GET /login/ (session cookie + CSRF token), then
    POST /login/. Cookies are carried by hand, so that a Secure cookie also travels over the
    test's plain http (what the TLS proxy does); `https=True` sends what that proxy adds."""

    def __init__(self, url: str, https: bool = False) -> None:
        self.url = url
        self.headers = {"X-Forwarded-Proto": "https"} if https else {}
        if https:  # Flask-WTF checks the Referer of a secure POST
            self.headers["Referer"] = url.replace("http://", "https://", 1) + "/login/"
        page = requests.get(f"{url}/login/", headers=self.headers, timeout=30,
                            allow_redirects=False)  # fmt: skip
        assert page.status_code == 200, f"GET /login/: {page.status_code}"
        self.csrf = re.search(r'id="csrf_token"\s+value="([^"]+)"', page.text)[1]
        self.cookie = _session_cookie(page)

    def post(self, username: str, password: str) -> requests.Response:
        return requests.post(
            f"{self.url}/login/",
            data={"username": username, "password": password, "csrf_token": self.csrf},
            headers={**self.headers, "Cookie": f"session={self.cookie}"},
            allow_redirects=False,
            timeout=30,
        )


def set_cookies(response: requests.Response) -> list[str]:
    """The response's Set-Cookie headers, one string each."""
    return response.raw.headers.getlist("Set-Cookie")


def _session_cookie(response: requests.Response) -> str:
    for header in set_cookies(response):
        name, _, rest = header.partition("=")
        if name.strip() == "session":
            return rest.split(";", 1)[0]
    raise AssertionError(f"no session cookie in {set_cookies(response)}")


def wait_for_health(url: str, proc: subprocess.Popen, log: Path, https: bool = False) -> None:
    headers = {"X-Forwarded-Proto": "https"} if https else {}
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited ({proc.returncode}):\n{log.read_text()}")
        try:
            if requests.get(f"{url}/health", headers=headers, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"Superset did not answer /health:\n{log.read_text()}")
        time.sleep(1)
