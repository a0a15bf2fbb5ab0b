"""A real Superset (set-up + gunicorn from .venv/superset) on the published warehouse.

The warehouse is the one the real pipeline publishes (`published_warehouse`, tests/conftest.py).
EXAMS_TEST_WAREHOUSE=/path/results.duckdb points these tests at a copy of another published file
instead (development only). Superset runs on a free local port through `exams superset serve`
(what `make serve` runs), with its home (SQLite metadata, secret key, generated admin password,
request log) in a temporary folder that set-up creates; it is stopped at the end of the session.

Accounts: admin, with the password set-up generates (the harness reads it where set-up keeps
it); one rectorat analyst per académie of the sample (10, 24, 70) — the one of 10 made by
`exams superset analyst` (what `make analyst` runs) while gunicorn starts, the others through the
REST API — and one Ministère account. Every command line seen while set-up and `analyst` run is
kept (`server.watches`) for test_superset_security.py.

The server runs with the default login throttling (SUPERSET_LOGIN_RATE_LIMIT, counted per
address and user name): no test logs one user in more than a few times, through the form or
the API. The throttling itself is tested on a second server (test_superset_security.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

try:  # the exams package is installed (editable) in every venv; fall back to the source tree
    import exams  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(REPO_ROOT / "src"))

from superset_harness import (  # noqa: E402
    EXAMS,
    Api,
    CmdlineWatch,
    SupersetServer,
    create_user,
    exams_superset,
    free_port,
    start_serving,
    stop,
    wait_for_health,
)

from exams.superset_app import access  # noqa: E402

SAMPLE_ACADEMIES = ("10", "24", "70")  # the académies of the committed sample (data/raw)
CLI_ANALYST = ("10", "rectorat10")  # made by `exams superset analyst`


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


@pytest.fixture(scope="session")
def superset_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SupersetServer]:
    assert EXAMS.exists(), "Superset environment missing: run `make env-superset`"
    base = tmp_path_factory.mktemp("superset")
    home = base / "home"  # made by set-up
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SUPERSET_")  # test mode: key and admin password generated
    }
    env.update(
        EXAMS_MODE="test",
        SUPERSET_HOME=str(home),
        SUPERSET_PORT=str(port),
        SUPERSET_BIND_HOST="127.0.0.1",
    )
    t0 = time.monotonic()
    watches: list[CmdlineWatch] = []
    # Metadata, admin and roles need no warehouse: prepare them while the pipeline publishes it.
    prep_log = base / "setup.log"
    with open(prep_log, "w") as log:
        prep = subprocess.Popen(
            exams_superset("setup", "--skip-import"),
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    watches.append(CmdlineWatch().start(until=prep))
    try:
        warehouse = request.getfixturevalue("superset_warehouse")
        prep.wait(timeout=600)
    finally:
        stop(prep)
        watches[-1].stop()
    assert prep.returncode == 0, f"set-up failed:\n{prep_log.read_text()[-8000:]}"
    env["EXAMS_WAREHOUSE"] = str(warehouse)
    server = SupersetServer(
        url=f"http://127.0.0.1:{port}",
        username="admin",
        password=(home / "admin_password").read_text().strip(),
        home=home,
        warehouse=warehouse,
        env=env,
        log=base / "serve.log",
        watches=watches,
    )
    build = server.run_app("build")
    assert build.returncode == 0, f"import failed:\n{build.stdout}\n{build.stderr[-6000:]}"
    setup_s = time.monotonic() - t0

    # `make analyst ACADEMY=10 …` while gunicorn starts (both on 2 cores; SQLite waits)
    code, username = CLI_ANALYST
    analyst_password = secrets.token_urlsafe(16)
    analyst_cli = subprocess.Popen(
        exams_superset("analyst", "--academy", code, "--username", username),
        env={**env, "SUPERSET_ANALYST_PASSWORD": analyst_password},
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    watches.append(CmdlineWatch().start(until=analyst_cli))

    proc = start_serving(server)
    try:
        wait_for_health(server.url, proc, server.log)
        out, _ = analyst_cli.communicate(timeout=300)
        watches[-1].stop()
        assert analyst_cli.returncode == 0, f"analyst account:\n{out[-4000:]}"
        assert f"analyst '{username}' created" in out, out[-2000:]
        server.analysts[code] = (username, analyst_password)
        print(
            f"\n[superset] warehouse + set-up {setup_s:.0f} s, serving after {time.monotonic() - t0:.0f} s"
        )
        yield server
    finally:
        watches[-1].stop()
        stop(analyst_cli)
        stop(proc)


@pytest.fixture(scope="session")
def api(superset_server: SupersetServer) -> Api:
    return Api(superset_server)


@pytest.fixture(scope="session")
def access_plan() -> access.AccessPlan:
    return access.load_plan()


@pytest.fixture(scope="session")
def rectorat_users(
    api: Api, superset_server: SupersetServer, access_plan: access.AccessPlan
) -> dict[str, tuple[str, str]]:
    """académie code → (username, password) of an account holding only that académie's role."""
    users = dict(superset_server.analysts)
    for code in SAMPLE_ACADEMIES:
        if code not in users:
            users[code] = create_user(api, f"rectorat{code}", access_plan.academy_role(code).name)
    return users


@pytest.fixture(scope="session")
def rectorat_apis(
    superset_server: SupersetServer, rectorat_users: dict[str, tuple[str, str]]
) -> dict[str, Api]:
    return {code: Api(superset_server, *creds) for code, creds in rectorat_users.items()}


@pytest.fixture(scope="session")
def ministry_api(api: Api, superset_server: SupersetServer) -> Api:
    return Api(superset_server, *create_user(api, "ministere", "Ministère"))
