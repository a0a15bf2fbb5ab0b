"""Support for the production-like Airflow tests: a throw-away PostgreSQL cluster, the Airflow
components as separate processes, a small REST client, and data helpers.

Every process started here is stopped by its id (process group and recorded descendants), also
when a test or the set-up itself fails.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import httpx

from exams import orchestration

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = REPO_ROOT / ".venv" / "airflow" / "bin" / "airflow"
EXAMS = REPO_ROOT / ".venv" / "transform" / "bin" / "exams"
SAMPLE_DIR = REPO_ROOT / "data" / "raw"
DAG_ID = orchestration.DAG_ID
PG_USER = "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


# ---- processes ---------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _signal(pid: int, sig: int, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_processes(procs: list[subprocess.Popen], grace: float = 20.0) -> None:
    """SIGTERM each process's group and every descendant (BashOperator's commands run in their
    own sessions), wait up to `grace` seconds, then SIGKILL whatever is left."""
    pids: set[int] = set()
    for p in procs:
        if p.poll() is None:
            pids |= {p.pid} | descendants(p.pid)
            _signal(p.pid, signal.SIGTERM, group=True)  # start_new_session: pgid == pid
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for p in procs:
            p.poll()
        if not any(_alive(pid) for pid in pids):
            break
        time.sleep(0.3)
    for p in procs:
        if p.poll() is None:
            _signal(p.pid, signal.SIGKILL, group=True)
    for pid in list(pids):
        if _alive(pid):
            pids |= descendants(pid)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# ---- PostgreSQL ------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The server binaries, installed from Debian if the machine has none."""

    def find() -> Path | None:
        dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda d: int(d.parent.name))
        return next((d for d in reversed(dirs) if (d / "initdb").exists()), None)

    if find() is None and not (shutil.which("pg_ctlcluster") and shutil.which("initdb")):
        subprocess.run(
            "apt-get update -qq && apt-get install -y -qq postgresql",
            shell=True,
            check=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    bindir = find()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    return bindir


@dataclass
class Postgres:
    """A cluster in a temporary folder owned by `postgres`, on a free localhost port."""

    bindir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="exams-pg-")))
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    started: bool = False

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def _as_postgres(self, *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["runuser", "-u", PG_USER, "--", *cmd],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self) -> None:
        user = pwd.getpwnam(PG_USER)
        os.chown(self.root, user.pw_uid, user.pw_gid)
        pwfile = self.root / "superuser.pw"
        pwfile.write_text(secrets.token_urlsafe(16) + "\n")
        os.chown(pwfile, user.pw_uid, user.pw_gid)
        pwfile.chmod(0o600)
        self._as_postgres(str(self.bindir / "initdb"), "-D", str(self.data), "-U", PG_USER,
                          "-E", "UTF8", "--locale=C", "--auth-local=peer",
                          "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self.started = True  # from here on, stop() must run
        self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                          "-w", "-t", "60", "-o", options, "start")  # fmt: skip
        self._as_postgres(str(self.bindir / "psql"), "-h", str(self.root), "-p", str(self.port),
                          "-U", PG_USER, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q",
                          "-c", f"CREATE ROLE airflow LOGIN PASSWORD '{self.password}'",
                          "-c", "CREATE DATABASE airflow OWNER airflow")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow:{self.password}@127.0.0.1:{self.port}/airflow"

    def stop(self) -> None:
        if self.started:
            try:
                self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                                  "-w", "-t", "30", "stop", timeout=60)  # fmt: skip
            except (RuntimeError, subprocess.TimeoutExpired):
                pid_file = self.data / "postmaster.pid"
                if pid_file.exists():  # the postmaster this fixture started, by its id
                    pid = int(pid_file.read_text().split()[0])
                    _signal(pid, signal.SIGQUIT)
                    time.sleep(2)
                    if _alive(pid):
                        _signal(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


# ---- Airflow -------------------------------------------------------------------------------


@dataclass
class PipelineDirs:
    base: Path

    @property
    def raw(self) -> Path:
        return self.base / "raw"

    @property
    def warehouse(self) -> Path:
        return self.base / "warehouse" / "results.duckdb"

    @property
    def extracts(self) -> Path:
        return self.base / "extracts"

    @property
    def work(self) -> Path:
        return self.warehouse.parent / ".private" / f"{self.warehouse.stem}.work"

    def env(self) -> dict[str, str]:
        return {
            "EXAMS_MODE": "test",
            "EXAMS_PSEUDONYM_KEY": "test-key-not-secret",
            "EXAMS_RAW_DIR": str(self.raw),
            "EXAMS_WAREHOUSE": str(self.warehouse),
            "EXAMS_EXTRACTS_DIR": str(self.extracts),
            "EXAMS_DAG_RETRIES": "0",
        }


def clean_environ() -> dict[str, str]:
    """This process's environment without Airflow/pipeline settings (tests/airflow sets some)."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "EXAMS_")) and k not in drop
    }


@dataclass
class AirflowStack:
    home: Path
    db_url: str
    dirs: PipelineDirs
    port: int = field(default_factory=free_port)
    user: str = "ops"
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = clean_environ()
        env.update(self.dirs.env())
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.db_url,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
            AIRFLOW__CORE__AUTH_MANAGER=(
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{self.user}:admin",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.base_url}/execution/",
            AIRFLOW__CORE__FERNET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
            AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
            AIRFLOW__API__WORKERS="1",
            # only the runs this test triggers: unpausing must not also start tonight's
            # scheduled (catchup=False) run, which would race with the triggered one
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
        )
        return env

    def log(self, name: str) -> Path:
        return self.home / f"{name}.out"

    def migrate(self, env: dict[str, str]) -> None:
        proc = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, cwd=self.home,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(
                f"airflow db migrate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = self.env()
        self.migrate(env)
        commands = {
            "api-server": [
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],  # fmt: skip
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
        }
        for name, args in commands.items():
            with self.log(name).open("wb") as out:
                self.procs[name] = subprocess.Popen(
                    [str(AIRFLOW), *args], env=env, cwd=self.home, stdout=out,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip

    def stop(self) -> None:
        stop_processes(list(self.procs.values()))

    def check_running(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(
                    f"airflow {name} exited ({p.returncode}):\n{tail(self.log(name))}"
                )

    def diagnostics(self) -> str:
        return "\n".join(f"--- {n} ---\n{tail(self.log(n), 25)}" for n in self.procs)

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self.check_running()
            try:
                r = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
                last = r.text
                h = r.json() if r.status_code == 200 else {}
                if all(
                    (h.get(c) or {}).get("status") == "healthy"
                    for c in ("metadatabase", "scheduler", "dag_processor")
                ):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise TimeoutError(f"Airflow not healthy after {timeout}s: {last}\n{self.diagnostics()}")

    def password(self, timeout: float = 60) -> str:
        path = self.home / "simple_auth_manager_passwords.json.generated"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return json.loads(path.read_text())[self.user]
            except (OSError, ValueError, KeyError):
                time.sleep(0.5)
        raise TimeoutError(f"no password for {self.user} in {path}")


class Api:
    """The Airflow 3 public REST API (v2) with a bearer token from POST /auth/token."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        r = httpx.post(f"{base_url}/auth/token", json={"username": username, "password": password},
                       timeout=30)  # fmt: skip
        assert r.status_code == 201, f"POST /auth/token: {r.status_code} {r.text}"
        self.token = r.json()["access_token"]
        self.client = httpx.Client(
            base_url=f"{base_url}/api/v2",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def _ok(self, r: httpx.Response, *codes: int) -> dict:
        assert r.status_code in (codes or (200,)), (
            f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
        )
        return r.json()

    def wait_for_dag(self, stack: AirflowStack, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stack.check_running()
            r = self.client.get(f"/dags/{DAG_ID}")
            if r.status_code == 200:
                return r.json()
            time.sleep(1)
        errors = self.client.get("/importErrors").text
        raise TimeoutError(f"{DAG_ID} not parsed after {timeout}s; import errors: {errors}\n"
                           f"{stack.diagnostics()}")  # fmt: skip

    def set_paused(self, paused: bool) -> dict:
        return self._ok(self.client.patch(f"/dags/{DAG_ID}", json={"is_paused": paused}))

    def trigger(self, conf: dict | None = None) -> str:
        body = {"logical_date": None, "conf": conf or {}}
        return self._ok(self.client.post(f"/dags/{DAG_ID}/dagRuns", json=body), 200)["dag_run_id"]

    def run(self, run_id: str) -> dict:
        return self._ok(self.client.get(f"/dags/{DAG_ID}/dagRuns/{run_id}"))

    def task_states(self, run_id: str) -> dict[str, str | None]:
        tis = self._ok(self.client.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances"))
        return {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}

    def wait_run(self, stack: AirflowStack, run_id: str, timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            stack.check_running()
            state = self.run(run_id)["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        return f"timeout after {timeout}s in state {state}"

    def failure_report(self, stack: AirflowStack, run_id: str) -> str:
        lines = [f"task states: {self.task_states(run_id)}"]
        for log in sorted(stack.home.glob(f"logs/dag_id={DAG_ID}/run_id={run_id}/task_id=*/*.log")):
            lines.append(f"--- {log.parent.name}/{log.name} ---\n{tail(log, 30)}")
        return "\n".join(lines) + "\n" + stack.diagnostics()


def run_dag(api: Api, stack: AirflowStack, conf: dict | None = None) -> tuple[str, dict]:
    """Trigger one run through the REST API and wait for its end; (state, task states)."""
    run_id = api.trigger(conf)
    state = api.wait_run(stack, run_id)
    states = api.task_states(run_id)
    if state != "success":
        raise AssertionError(f"run {run_id}: {state}\n{api.failure_report(stack, run_id)}")
    return run_id, states


# ---- the published data ----------------------------------------------------------------------


def marts_snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1"
        ).fetchall()]  # fmt: skip
        return {t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall() for t in tables}
    finally:
        con.close()


def query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_extract_folder(folder: Path) -> dict:
    """manifest.json lists exactly the folder's files, each with its sha256; returns it."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["file"]: f["sha256"] for f in manifest["files"]}
    present = {p.name for p in folder.iterdir() if p.name != "manifest.json"}
    assert set(listed) == present, (folder, sorted(listed), sorted(present))
    for name, digest in listed.items():
        assert sha256(folder / name) == digest, f"{folder / name}: sha256 differs from manifest"
    assert {f".{ext}" for ext in ("csv", "parquet", "xlsx")} <= {Path(n).suffix for n in listed}
    return manifest


# ---- a corrected export ------------------------------------------------------------------------

NAME = re.compile(r"^NDRC_(\d{4})_(\d{2})_(\d{8}T\d{6})\.csv$")
COEF = {"E1": 3, "E2": 3, "E3": 3, "E4": 5, "E5A": 2, "E5B": 2, "E6": 3}
PRO = ("E4", "E5A", "E5B", "E6")


def _norm(name: str) -> str:
    import unicodedata

    name = unicodedata.normalize("NFKD", name.replace("\ufeff", ""))
    return "".join(c for c in name if not unicodedata.combining(c)).strip().lower()


def _hundredths(text: str) -> int:
    return round(float(text.replace(",", ".")) * 100)


def _format(h: int, decimal: str) -> str:
    """As the exports write grades: 1250 -> '12,5', 1200 -> '12,0', 1205 -> '12,05'."""
    text = f"{h // 100}.{h % 100:02d}"
    text = text[:-1] if text.endswith("0") else text
    return (text + "0" if text.endswith(".") else text).replace(".", decimal)


def _decide(session: int, grades: dict[str, int]) -> tuple[str, int]:
    """The diploma's rule (domain.md) for a candidate graded NOTE on all seven épreuves."""
    den = sum(COEF.values())
    num = sum(COEF[e] * g for e, g in grades.items())
    den_p = sum(COEF[e] for e in PRO)
    num_p = sum(COEF[e] * grades[e] for e in PRO)
    if num >= 1000 * den:
        decision = "ADMIS"
    elif session >= 2022 and num >= 800 * den and num_p >= 1000 * den_p:
        decision = "CONTROLE"
    else:
        decision = "REFUSE"
    return decision, (2 * num + den) // (2 * den)


def write_correction(raw_dir: Path, old: Path) -> tuple[Path, str]:
    """A later export of the same (session, académie): one admitted candidate's professional
    grades lowered by the jury, decision and average recomputed; returns (path, candidate)."""
    session, academy, stamp = NAME.match(old.name).groups()
    data = old.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8-sig" if bom else "utf-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("cp1252"), "cp1252"
    newline = "\r\n" if "\r\n" in text else "\n"
    header_line = text.split(newline, 1)[0]
    delim = ";" if header_line.count(";") > header_line.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    col = {_norm(h): i for i, h in enumerate(rows[0])}
    n, ep, st, note, dec, avg = (col[c] for c in ("numero_candidat", "code_epreuve", "statut",
                                                   "note", "decision", "moyenne"))  # fmt: skip
    decimal = "," if any("," in r[note] for r in rows[1:] if len(r) > note) else "."

    by_candidate: dict[str, list[list[str]]] = {}
    for r in rows[1:]:
        if r:
            by_candidate.setdefault(r[n], []).append(r)
    for number, cand_rows in by_candidate.items():  # noqa: B007 - returned below
        if not (
            len(cand_rows) == len(COEF)
            and {r[ep] for r in cand_rows} == set(COEF)
            and all(r[st] == "NOTE" for r in cand_rows)
            and all(r[dec] == "ADMIS" for r in cand_rows)
        ):
            continue
        grades = {r[ep]: _hundredths(r[note]) for r in cand_rows}
        if _decide(int(session), grades)[0] != "ADMIS":
            continue  # the export disagrees with the rule already: not a clean example
        for e in PRO:  # the jury corrects the professional épreuves downwards
            grades[e] = min(grades[e], 600)
        decision, average = _decide(int(session), grades)
        if decision == "ADMIS":
            continue
        for r in cand_rows:
            r[note] = _format(grades[r[ep]], decimal)
            r[dec] = decision
            r[avg] = _format(average, decimal)
        break
    else:
        raise AssertionError(f"no admitted candidate graded on every épreuve in {old.name}")

    later = datetime.strptime(stamp, "%Y%m%dT%H%M%S") + timedelta(days=10)
    path = raw_dir / f"NDRC_{session}_{academy}_{later:%Y%m%dT%H%M%S}.csv"
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delim, lineterminator=newline).writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path, number
