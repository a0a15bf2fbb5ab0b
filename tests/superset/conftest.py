"""A real Superset (set-up + gunicorn from .venv/superset) on the published warehouse.

The warehouse is the one the real pipeline publishes (`published_warehouse`, tests/conftest.py).
EXAMS_TEST_WAREHOUSE=/path/results.duckdb points these tests at a copy of another published file
instead (development only). Superset runs on a free local port with its home (SQLite metadata,
secret key) in a temporary folder; gunicorn is stopped at the end of the session.

Accounts: admin; one rectorat analyst per académie of the sample (10, 24, 70) — the one of 10
made by `python -m exams.superset_app analyst` (what `make analyst` runs) while gunicorn starts,
the others through the REST API — and one Ministère account.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

try:  # the exams package is installed (editable) in every venv; fall back to the source tree
    import exams  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(REPO_ROOT / "src"))

from superset_harness import SUPERSET_PY, Api, SupersetServer, free_port  # noqa: E402

from exams.superset_app import access  # noqa: E402

SAMPLE_ACADEMIES = ("10", "24", "70")  # the académies of the committed sample (data/raw)
CLI_ANALYST = ("10", "rectorat10")  # made by `python -m exams.superset_app analyst`


@pytest.fixture(scope="session")
def superset_warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    override = os.environ.get("EXAMS_TEST_WAREHOUSE")
    if override:
        path = Path(override).resolve()
        assert path.is_file(), f"EXAMS_TEST_WAREHOUSE={override} does not exist"
        # a copy: the last test re-publishes the served file
        copy = tmp_path_factory.mktemp("published") / "warehouse" / "results.duckdb"
        copy.parent.mkdir()
        shutil.copyfile(path, copy)
        return copy
    return request.getfixturevalue("published_warehouse")


def _stop(proc: subprocess.Popen) -> None:
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


@pytest.fixture(scope="session")
def superset_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SupersetServer]:
    assert SUPERSET_PY.exists(), "Superset environment missing: run `make env-superset`"
    home = tmp_path_factory.mktemp("superset_home")
    port = free_port()
    password = secrets.token_urlsafe(16)
    env = dict(os.environ)
    env.pop("SUPERSET_SECRET_KEY", None)  # test mode: generated and kept in the home
    env.update(
        EXAMS_MODE="test",
        SUPERSET_HOME=str(home),
        SUPERSET_ADMIN_PASSWORD=password,
        SUPERSET_PORT=str(port),
        SUPERSET_BIND_HOST="127.0.0.1",
        SUPERSET_ACCESS_LOG=str(home / "access.log"),
    )
    t0 = time.monotonic()
    # Metadata, admin and roles need no warehouse: prepare them while the pipeline publishes it.
    prep_log = home / "setup.log"
    with open(prep_log, "w") as log:
        prep = subprocess.Popen(
            [str(SUPERSET_PY), "-m", "exams.superset_app", "setup", "--skip-import"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        warehouse = request.getfixturevalue("superset_warehouse")
        prep.wait(timeout=600)
    finally:
        _stop(prep)
    assert prep.returncode == 0, f"set-up failed:\n{prep_log.read_text()[-8000:]}"
    env["EXAMS_WAREHOUSE"] = str(warehouse)
    server = SupersetServer(
        url=f"http://127.0.0.1:{port}",
        username="admin",
        password=password,
        home=home,
        warehouse=warehouse,
        env=env,
        log=home / "gunicorn.log",
    )
    build = server.run_app("build")
    assert build.returncode == 0, f"import failed:\n{build.stdout}\n{build.stderr[-6000:]}"
    setup_s = time.monotonic() - t0

    # `make analyst ACADEMY=10 …` while gunicorn starts (both on 2 cores; SQLite waits)
    code, username = CLI_ANALYST
    analyst_password = secrets.token_urlsafe(16)
    analyst_cli = subprocess.Popen(
        [str(SUPERSET_PY), "-m", "exams.superset_app", "analyst", "--academy", code,
         "--username", username],
        env={**env, "SUPERSET_ANALYST_PASSWORD": analyst_password},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip

    with open(server.log, "w") as log:
        proc = subprocess.Popen(
            [str(SUPERSET_PY), "-m", "exams.superset_app", "serve"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: gunicorn master + worker
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"gunicorn exited ({proc.returncode}):\n{server.log.read_text()}"
                )
            try:
                if requests.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"Superset did not answer /health:\n{server.log.read_text()}")
            time.sleep(1)
        out, _ = analyst_cli.communicate(timeout=300)
        assert analyst_cli.returncode == 0, f"analyst account:\n{out[-4000:]}"
        assert f"analyst '{username}' created" in out, out[-2000:]
        server.analysts[code] = (username, analyst_password)
        print(
            f"\n[superset] warehouse + set-up {setup_s:.0f} s, serving after {time.monotonic() - t0:.0f} s"
        )
        yield server
    finally:
        _stop(analyst_cli)
        _stop(proc)


@pytest.fixture(scope="session")
def api(superset_server: SupersetServer) -> Api:
    return Api(superset_server)


@pytest.fixture(scope="session")
def access_plan() -> access.AccessPlan:
    return access.load_plan()


def _create_user(api: Api, username: str, role: str) -> tuple[str, str]:
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


@pytest.fixture(scope="session")
def rectorat_users(
    api: Api, superset_server: SupersetServer, access_plan: access.AccessPlan
) -> dict[str, tuple[str, str]]:
    """académie code → (username, password) of an account holding only that académie's role."""
    users = dict(superset_server.analysts)
    for code in SAMPLE_ACADEMIES:
        if code not in users:
            users[code] = _create_user(api, f"rectorat{code}", access_plan.academy_role(code).name)
    return users


@pytest.fixture(scope="session")
def rectorat_apis(
    superset_server: SupersetServer, rectorat_users: dict[str, tuple[str, str]]
) -> dict[str, Api]:
    return {code: Api(superset_server, *creds) for code, creds in rectorat_users.items()}


@pytest.fixture(scope="session")
def ministry_api(api: Api, superset_server: SupersetServer) -> Api:
    return Api(superset_server, *_create_user(api, "ministere", "Ministère"))
