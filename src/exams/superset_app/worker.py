"""What runs inside a Superset app context: accounts (admin, analysts) and the dashboard import.

Internal: :mod:`exams.superset_app.provision` starts ``python -m exams.superset_app.worker``
with the Superset environment's python (``superset_env``: our config, the home) and writes one
JSON request on its stdin::

    {"tasks": [{"task": "admin", "username": "admin", "password": "…"},
               {"task": "import", "zip": "/tmp/…/bundle.zip", "username": "admin"}]}

Passwords travel only there: never on a command line (``ps``, ``/proc/<pid>/cmdline``, which
every local user can read) nor in the environment. The tasks run in order in one app context
(one start of Superset); the worker answers with one line on stdout, :data:`RESULT_PREFIX` +
JSON: ``{"results": [...], "warnings": [...]}``, or ``{"error": "…", "kind": "ConfigError"}``
for an expected failure (``exams.errors``). Anything else is a traceback on stderr and a
non-zero exit status. Results never hold a password.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from exams import errors, settings
from exams.superset_app import access

RESULT_PREFIX = "exams-superset-worker: "
log = logging.getLogger(__name__)


def admin(username: str, password: str) -> dict:
    """Create the admin user (role Admin), or reset its password and make sure it is an active
    Admin: the password in force is always the one set-up and serve show."""
    from superset import security_manager as sm

    role = sm.find_role(sm.auth_role_admin)
    if role is None:
        raise errors.ConfigError(f"role {sm.auth_role_admin} missing: `superset init` did not run")
    user = sm.find_user(username=username)
    if user is None:
        created = sm.add_user(
            username=username,
            first_name="Admin",
            last_name="Examens",
            email=f"{username}@exams.invalid",
            role=role,
            password=password,
        )
        if not created:
            raise errors.ExamsError(f"could not create the admin user {username!r}")
        return {"task": "admin", "action": "created"}
    if role not in user.roles:
        user.roles = [*user.roles, role]
    user.active = True
    sm.update_user(user)
    sm.reset_password(user.id, password)
    return {"task": "admin", "action": "updated"}


def analyst(academy: str, username: str, password: str, new_password: str) -> dict:
    plan = access.load_plan(warehouse=settings.load().warehouse)
    action, role, source = access.ensure_analyst(plan, academy, username, password, new_password)
    return {"task": "analyst", "action": action, "role": role, "password": source}


def import_bundle(zip: str, username: str) -> dict:  # noqa: A002 - the request's key
    from exams.superset_app.importer import import_bundle as run

    return {"task": "import", "summary": run(zip, username)}


TASKS: dict[str, Callable[..., dict]] = {
    "admin": admin,
    "analyst": analyst,
    "import": import_bundle,
}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _answer(payload: dict) -> None:
    sys.stdout.write(RESULT_PREFIX + json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main() -> int:
    request = json.loads(sys.stdin.read())
    warnings = _Collect()
    logging.getLogger("exams").addHandler(warnings)
    logging.getLogger("exams").setLevel(logging.INFO)

    from superset.app import create_app

    app = create_app()
    results: list[dict] = []
    try:
        with app.app_context():
            for task in request["tasks"]:
                args = {k: v for k, v in task.items() if k != "task"}
                results.append(TASKS[task["task"]](**args))
    except errors.ExamsError as exc:
        kind = next(c for c in type(exc).__mro__ if c.__module__ == errors.__name__)
        _answer({"error": str(exc), "kind": kind.__name__})
        return exc.exit_code
    except Exception as exc:
        messages = getattr(exc, "normalized_messages", None)  # Superset's import commands
        if callable(messages):
            log.error("import refused: %s", messages())
        raise
    _answer({"results": results, "warnings": warnings.messages})
    return 0


if __name__ == "__main__":
    sys.exit(main())
