"""Security of the real Superset: a private home, passwords never on a command line, cookies,
throttled logins, and what `exams superset serve` prints.

Most tests use the session's server (conftest.py), which runs with the default settings. HTTPS
and the throttling need other settings: a second `exams superset serve` on the same home (same
metadata, same accounts), started for this module with SUPERSET_HTTPS=true and
SUPERSET_LOGIN_RATE_LIMIT=THROTTLE — a window no test run outlasts, so that a refused login stays
refused without any timing in the test, and a value other than the default, so that the setting
is shown to be the one in force. Requests to it carry what the TLS proxy adds
(X-Forwarded-Proto: https).
"""

from __future__ import annotations

import os
import pty
import re
import secrets
import select
import stat
from collections.abc import Iterator

import pytest
import requests
from superset_harness import (
    REPO_ROOT,
    Api,
    CmdlineWatch,
    FormLogin,
    SupersetServer,
    api_login,
    create_user,
    exams_superset,
    free_port,
    set_cookies,
    start_serving,
    stop,
    wait_for_health,
)

pytestmark = pytest.mark.slow

THROTTLE = "5 per 1 hour"
ALLOWED = int(THROTTLE.split()[0])
WRONG = 55  # wrong passwords before the right one


# ---- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def https_server(
    superset_server: SupersetServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SupersetServer]:
    base = tmp_path_factory.mktemp("superset_https")
    port = free_port()
    env = {
        **superset_server.env,
        "SUPERSET_HTTPS": "true",
        "SUPERSET_LOGIN_RATE_LIMIT": THROTTLE,
        "SUPERSET_PORT": str(port),
        "SUPERSET_ACCESS_LOG": str(base / "access.log"),
    }
    server = SupersetServer(
        url=f"http://127.0.0.1:{port}",
        username=superset_server.username,
        password=superset_server.password,
        home=superset_server.home,
        warehouse=superset_server.warehouse,
        env=env,
        log=base / "serve.log",
    )
    proc = start_serving(server)
    try:
        wait_for_health(server.url, proc, server.log, https=True)
        yield server
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def throttled_user(api: Api) -> tuple[str, str]:
    """The account whose password the throttling tests try to guess."""
    return create_user(api, "cible", "Ministère")


def _attributes(set_cookie: str) -> set[str]:
    return {a.strip().lower() for a in set_cookie.split(";")[1:]}


def _session_set_cookie(response: requests.Response) -> str:
    (cookie,) = [c for c in set_cookies(response) if c.startswith("session=")]
    return cookie


def _logged_in(response: requests.Response) -> bool:
    """A form login that worked: redirected anywhere but back to the login page."""
    return response.status_code == 302 and "/login" not in response.headers["Location"]


# ---- the home -----------------------------------------------------------------------------
def test_home_and_its_files_are_private(superset_server: SupersetServer):
    """What set-up and serve made: the folder 0700, every file in it 0600 (metadata and its
    journal, secret key, generated admin password, request log), created so."""
    home = superset_server.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("superset.db", ".secret_key", "admin_password", "access.log"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    entries = list(home.rglob("*"))
    assert len(entries) >= 4
    for path in entries:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


# ---- passwords never on a command line ------------------------------------------------------
def test_passwords_never_on_a_command_line(superset_server: SupersetServer):
    """While set-up (generated admin password) and `analyst` (SUPERSET_ANALYST_PASSWORD) ran,
    no process's /proc/<pid>/cmdline held a password."""
    setup_watch, analyst_watch = superset_server.watches
    # the watches saw the processes that handle the passwords
    assert setup_watch.containing("superset db upgrade")
    assert setup_watch.containing("superset init")
    assert setup_watch.containing("exams.superset_app.worker")
    assert analyst_watch.containing("exams.superset_app.worker")
    assert analyst_watch.containing("superset analyst --academy 10")
    admin_password = (superset_server.home / "admin_password").read_text().strip()
    for password in (admin_password, superset_server.analysts["10"][1]):
        for watch in superset_server.watches:
            assert not watch.containing(password)


def test_a_new_analyst_without_a_password_gets_one_shown_once(superset_server: SupersetServer):
    username = "analyste24"
    with CmdlineWatch() as watch:
        proc = superset_server.run_app(
            "analyst", "--academy", "24", "--username", username,
            drop_env=("SUPERSET_ANALYST_PASSWORD",),
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert f"analyst '{username}' created" in proc.stdout
    password = re.search(rf"generated password for '{username}': (\S+)", proc.stdout)[1]
    assert proc.stdout.count(password) == 1 and password not in proc.stderr
    assert watch.containing("exams.superset_app.worker") and not watch.containing(password)
    assert api_login(superset_server.url, username, password).status_code == 200

    again = superset_server.run_app(
        "analyst", "--academy", "24", "--username", username,
        drop_env=("SUPERSET_ANALYST_PASSWORD",),
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert f"analyst '{username}' updated" in again.stdout
    assert "generated password" not in again.stdout  # an existing account keeps its own
    assert api_login(superset_server.url, username, password).status_code == 200


PROMPTS = (b"for a new account): ", b"Again: ")  # the ends of `analyst`'s two prompts


def _on_a_terminal(argv: list[str], env: dict[str, str], answers: list[str]) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal as its controlling terminal; answer each password
    prompt (PROMPTS) with the next of `answers`. (exit status, what it showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once
        os.chdir(REPO_ROOT)
        os.execve(argv[0], argv, env)
    shown, pending = b"", list(answers)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 300)
            if not ready:
                raise AssertionError(f"no output from {argv}: {shown.decode()[-2000:]}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if pending and shown.endswith(PROMPTS):
                os.write(fd, pending.pop(0).encode() + b"\n")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_the_analyst_password_is_asked_twice_on_a_terminal(superset_server: SupersetServer):
    env = {k: v for k, v in superset_server.env.items() if k != "SUPERSET_ANALYST_PASSWORD"}
    argv = exams_superset("analyst", "--academy", "70", "--username", "analyste70")

    rc, shown = _on_a_terminal(argv, env, ["premier-essai", "autre-essai"])
    assert rc == 2 and "the two passwords differ" in shown, shown[-2000:]

    password = secrets.token_urlsafe(12)
    with CmdlineWatch() as watch:
        rc, shown = _on_a_terminal(argv, env, [password, password])
    assert rc == 0, shown[-3000:]
    assert watch.containing("exams.superset_app.worker") and not watch.containing(password)
    assert "Password for analyste70" in shown and "Again: " in shown
    assert "analyst 'analyste70' created" in shown
    assert password not in shown  # never echoed
    assert api_login(superset_server.url, "analyste70", password).status_code == 200


# ---- what serve prints ------------------------------------------------------------------------
def test_serve_prints_the_login_once_superset_answers(superset_server: SupersetServer):
    shown = superset_server.log.read_text()
    home = superset_server.home
    ready = shown.index(f"Superset is ready: {superset_server.url}/")
    banner = shown[ready:]
    admin_password = (home / "admin_password").read_text().strip()
    assert re.search(r"user:\s+admin\n", banner)
    assert re.search(rf"password:\s+{re.escape(admin_password)}\s+\(kept in {home}/admin_password\)", banner)  # fmt: skip
    assert re.search(rf"request log:\s+{home}/access.log\n", banner)
    assert "Ctrl-C stops it" in banner
    # after gunicorn listens and Superset answered serve's /health probe, logged in the file
    assert shown.index("Listening at") < ready
    access = (home / "access.log").read_text()
    assert re.search(r'"GET /health HTTP/1.1" 200 .*Python-urllib', access)
    # the request log (the harness's /health probes too) is in the file, not on the terminal
    assert re.search(r'"GET /health HTTP/1.1" 200 .*python-requests', access)
    assert "GET /health" not in shown


def test_setup_again_resets_the_admin_password_from_the_environment(
    superset_server: SupersetServer,
):
    """A second set-up with SUPERSET_ADMIN_PASSWORD: the admin's password becomes that one
    (reset in the worker, never on a command line) and is not printed."""
    new = secrets.token_urlsafe(16)
    with CmdlineWatch() as watch:
        proc = superset_server.run_app(
            "setup", "--skip-import", extra_env={"SUPERSET_ADMIN_PASSWORD": new}
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "admin user 'admin' updated (password from SUPERSET_ADMIN_PASSWORD)" in proc.stderr
    assert new not in proc.stdout + proc.stderr
    assert watch.containing("superset init") and watch.containing("exams.superset_app.worker")
    assert not watch.containing(new)
    old = superset_server.password
    assert api_login(superset_server.url, "admin", old).status_code == 401
    assert api_login(superset_server.url, "admin", new).status_code == 200
    superset_server.password = new  # for the tests that follow


# ---- cookies ------------------------------------------------------------------------------
def test_login_cookie_is_httponly_and_lax_over_http(superset_server: SupersetServer, api: Api):
    username, password = create_user(api, "cookies", "Ministère")
    response = FormLogin(superset_server.url).post(username, password)
    assert _logged_in(response), response.headers
    attributes = _attributes(_session_set_cookie(response))
    assert {"httponly", "samesite=lax"} <= attributes
    assert "secure" not in attributes  # plain http (make demo): a Secure cookie never returns


def test_login_cookie_is_secure_httponly_and_lax_over_https(https_server: SupersetServer):
    response = FormLogin(https_server.url, https=True).post(
        https_server.username, https_server.password
    )
    assert _logged_in(response), response.headers
    assert {"secure", "httponly", "samesite=lax"} <= _attributes(_session_set_cookie(response))


def test_https_server_redirects_plain_http_and_says_so(https_server: SupersetServer):
    plain = requests.get(f"{https_server.url}/login/", allow_redirects=False, timeout=30)
    assert plain.status_code == 302
    assert plain.headers["Location"].startswith("https://127.0.0.1:")
    proxied = requests.get(
        f"{https_server.url}/login/", headers={"X-Forwarded-Proto": "https"}, timeout=30
    )
    assert proxied.status_code == 200
    assert "max-age=" in proxied.headers["Strict-Transport-Security"]
    assert "open it through your TLS proxy's https:// address" in https_server.log.read_text()


# ---- throttled logins ------------------------------------------------------------------------
def test_form_logins_are_throttled(https_server: SupersetServer, throttled_user):
    username, password = throttled_user
    form = FormLogin(https_server.url, https=True)
    statuses = [form.post(username, f"faux-{i}").status_code for i in range(WRONG)]
    assert statuses[:ALLOWED] == [302] * ALLOWED  # wrong password: back to the form
    assert set(statuses[ALLOWED:]) == {429}
    right = form.post(username, password)
    assert right.status_code == 429, right.headers
    assert 60 < int(right.headers["Retry-After"]) <= 3600  # the hour of THROTTLE, not a minute
    # counted per user: another account logs in from the same address meanwhile
    assert _logged_in(FormLogin(https_server.url, https=True).post(
        https_server.username, https_server.password))  # fmt: skip


def test_api_logins_are_throttled(https_server: SupersetServer, throttled_user):
    username, password = throttled_user
    statuses = [
        api_login(https_server.url, username, f"faux-{i}", https=True).status_code
        for i in range(WRONG)
    ]
    assert statuses[:ALLOWED] == [401] * ALLOWED
    assert set(statuses[ALLOWED:]) == {429}
    right = api_login(https_server.url, username, password, https=True)
    assert right.status_code == 429 and "access_token" not in right.text
    assert 60 < int(right.headers["Retry-After"]) <= 3600
    other = api_login(https_server.url, https_server.username, https_server.password, https=True)
    assert other.status_code == 200 and other.json()["access_token"]
    # one line per refusal in the server's log, not a traceback
    log = https_server.log.read_text()
    assert f"login attempt refused (127.0.0.1|{username}, over {THROTTLE})" in log
    assert "RateLimitExceeded" not in log
