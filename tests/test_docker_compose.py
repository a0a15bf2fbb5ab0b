"""docker-compose.yml (production; cannot be started here) agrees with the repository: every
path, make target, command, environment variable and database driver it relies on exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
APP = "/opt/exams"  # where the image puts the repository
DOCKERFILE: str = SERVICES["airflow-scheduler"]["build"]["dockerfile_inline"]
LONG_RUNNING = [n for n, s in SERVICES.items() if s.get("restart") != "no"]
SECRET_WORDS = ("PASSWORD", "SECRET", "KEY", "TOKEN")
INTERPOLATION = re.compile(r"\$\{(\w+)(:?[-?][^}]*)?\}")


def _lock(env: str) -> dict[str, str]:
    text = (ROOT / "requirements" / f"{env}.txt").read_text()
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, flags=re.M))


def _make_targets() -> set[str]:
    files = [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))]
    return {
        t
        for f in files
        for line in f.read_text().splitlines()
        if (m := re.match(r"^([\w.%/$()-]+(?:\s+[\w.%/$()-]+)*)\s*:(?!=)", line))
        for t in m[1].split()
    }


def _environment(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def _commands() -> list[list[str]]:
    cmds = [s["command"] for s in SERVICES.values() if isinstance(s.get("command"), list)]
    cmds += [
        s["healthcheck"]["test"][1:]
        for s in SERVICES.values()
        if s.get("healthcheck", {}).get("test", [""])[0] == "CMD"
    ]
    return [c for c in cmds if c[0].startswith(APP)]


def test_the_expected_services_are_there() -> None:
    assert set(SERVICES) >= {
        "postgres", "redis", "airflow-init", "airflow-api-server", "airflow-scheduler",
        "airflow-dag-processor", "airflow-triggerer", "superset-init", "superset",
    }  # fmt: skip


def test_long_running_services_have_healthchecks_and_dependencies_exist() -> None:
    for name in LONG_RUNNING:
        assert "healthcheck" in SERVICES[name], name
    for name, service in SERVICES.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in SERVICES, (name, dep)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dep], (name, dep)
            if spec["condition"] == "service_completed_successfully":
                assert SERVICES[dep].get("restart") == "no", (name, dep)


def test_images_are_pinned_and_python_matches_the_project() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        if "build" not in service:
            repo, _, tag = image.rpartition(":")
            assert repo and tag and tag != "latest", f"{name}: pin {image}"
    assert "FROM python:3.11-slim-bookworm" in DOCKERFILE
    assert 'requires-python = ">=3.11,<3.12"' in (ROOT / "pyproject.toml").read_text()


def test_dockerfile_copies_existing_paths_and_runs_existing_make_targets() -> None:
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"COPY {src}: no such path in the repository"
    targets = _make_targets()
    runs = re.findall(r"make ((?:[\w-]+ ?)+)", DOCKERFILE)
    assert runs
    for target in " ".join(runs).split():
        assert target in targets, f"make {target}: no such target"
        env = target.removeprefix("env-")
        assert (ROOT / "requirements" / f"{env}.txt").exists()
    used_envs = {m for c in _commands() for m in re.findall(r"/\.venv/(\w+)/", c[0])}
    built = {t.removeprefix("env-") for t in " ".join(runs).split()}
    assert used_envs <= built, (
        f"commands use venvs that the image never builds: {used_envs - built}"
    )


def test_commands_exist_in_their_environment() -> None:
    for cmd in _commands():
        env, exe = re.match(rf"{APP}/\.venv/(\w+)/bin/(\S+)", cmd[0]).groups()
        venv_bin = ROOT / ".venv" / env / "bin"
        if venv_bin.exists():
            assert (venv_bin / exe).exists(), f"{cmd[0]} not in the {env} environment"
        if exe == "exams":  # the subcommand and its options exist (the same CLI in every env)
            proc = subprocess.run(
                [sys.executable, "-m", "exams.cli", *cmd[1:], "--help"],
                capture_output=True, text=True, cwd=ROOT,
            )  # fmt: skip
            assert proc.returncode == 0, (cmd, proc.stdout + proc.stderr)


def test_superset_is_served_over_https_behind_the_proxy() -> None:
    """Production: Secure cookies, plain http redirected (SUPERSET_HTTPS); the healthcheck
    speaks to Superset as the TLS proxy does, or it would get the redirect."""
    from exams.settings import load_superset

    for name in ("superset-init", "superset"):
        assert load_superset(_environment(SERVICES[name])).https is True, name
    health = " ".join(SERVICES["superset"]["healthcheck"]["test"])
    assert "'X-Forwarded-Proto': 'https'" in health
    assert SERVICES["superset"]["command"][1:] == ["superset", "serve"]


def test_airflow_subcommands_exist() -> None:
    airflow = ROOT / ".venv" / "airflow" / "bin" / "airflow"
    if not airflow.exists():
        pytest.skip("no Airflow environment (make env-airflow)")
    help_text = subprocess.run([airflow, "--help"], capture_output=True, text=True).stdout
    for cmd in _commands():
        if cmd[0].endswith("/bin/airflow"):
            assert re.search(rf"^\s+{re.escape(cmd[1])}\s", help_text, re.M), cmd


def test_no_secret_in_the_file() -> None:
    for name, service in SERVICES.items():
        for key, value in _environment(service).items():
            if any(w in key for w in SECRET_WORDS) and not key.endswith(("_FILE", "_PATH")):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must come from the env"
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert INTERPOLATION.fullmatch(password), f"{name}: password in {key}"


def test_environment_variables_are_read_by_the_code() -> None:
    from dataclasses import fields

    from exams import settings

    declared = {f.metadata["env"] for cls in (settings.Settings, settings.SupersetSettings)
                for f in fields(cls)}  # fmt: skip
    code = "\n".join(p.read_text() for p in (ROOT / "src" / "exams").rglob("*.py"))
    missing = []
    for name, service in SERVICES.items():
        for key in _environment(service):
            if key.startswith(("EXAMS_", "SUPERSET_")) and key not in declared and (
                f'"{key}"' not in code
            ):
                missing.append(f"{name}: {key}")
    assert not missing, "set in docker-compose.yml but read nowhere in src/exams: " + ", ".join(
        missing
    )
    # the data paths are the settings' defaults, below the repository in the image
    env = _environment(SERVICES["airflow-scheduler"])
    defaults = settings.load({})
    for key, path in (("EXAMS_RAW_DIR", defaults.raw_dir), ("EXAMS_WAREHOUSE", defaults.warehouse),
                      ("EXAMS_EXTRACTS_DIR", defaults.extracts_dir)):  # fmt: skip
        assert env[key] == f"{APP}/{path.relative_to(settings.REPO_ROOT)}", key


def test_airflow_options_exist() -> None:
    config = next((ROOT / ".venv" / "airflow").glob("lib/python*/site-packages/airflow/config_templates/config.yml"), None)  # fmt: skip
    if config is None:
        pytest.skip("no Airflow environment (make env-airflow)")
    options = yaml.safe_load(config.read_text())
    for name, service in SERVICES.items():
        for key in _environment(service):
            if key.startswith("AIRFLOW__"):
                section, option = key.removeprefix("AIRFLOW__").lower().split("__")
                assert option in options.get(section, {}).get("options", {}), f"{name}: {key}"


def test_data_volumes_hold_the_configured_paths() -> None:
    scheduler = SERVICES["airflow-scheduler"]
    targets = {v["target"]: v for v in scheduler["volumes"] if isinstance(v, dict)}
    env = _environment(scheduler)
    for key in ("EXAMS_RAW_DIR", "EXAMS_EXTRACTS_DIR"):
        assert env[key] in targets, key
    assert str(Path(env["EXAMS_WAREHOUSE"]).parent) in targets
    assert targets[env["EXAMS_RAW_DIR"]].get("read_only") is True
    superset = {v["target"]: v for v in SERVICES["superset"]["volumes"] if isinstance(v, dict)}
    served = str(Path(_environment(SERVICES["superset"])["EXAMS_WAREHOUSE"]).parent)
    assert superset[served].get("read_only") is True
    for volume in targets.values():
        relative = volume["source"].split("}", 1)[-1].lstrip("/")
        assert (ROOT / "data" / relative).exists() or f"data/{relative}/" in (
            ROOT / ".gitignore"
        ).read_text(), volume["source"]


def test_database_drivers_are_in_the_lock_files() -> None:
    """PostgreSQL metadata and the Redis cache need their drivers in the locked environments."""
    needs = {
        "airflow": {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"},
        "superset": {"SUPERSET_DATABASE_URI", "SUPERSET_REDIS_URL"},
    }
    drivers = {"postgresql+psycopg2": ["psycopg2-binary", "psycopg2"], "redis": ["redis"]}
    missing = []
    for env, keys in needs.items():
        lock = _lock(env)
        for service in SERVICES.values():
            for key, value in _environment(service).items():
                if key in keys:
                    scheme = value.split("://")[0]
                    if not any(d in lock for d in drivers[scheme]):
                        missing.append(f"{drivers[scheme][0]} in requirements/{env}.txt ({key})")
    if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in _environment(SERVICES["airflow-scheduler"]):
        if "asyncpg" not in _lock("airflow"):  # Airflow 3's async engine on PostgreSQL
            missing.append("asyncpg in requirements/airflow.txt")
    assert not sorted(set(missing)), "missing from the lock files: " + ", ".join(
        sorted(set(missing))
    )


def test_duckdb_is_the_same_in_every_environment() -> None:
    versions = {env: _lock(env).get("duckdb") for env in ("transform", "airflow", "superset")}
    assert len(set(versions.values())) == 1, versions
