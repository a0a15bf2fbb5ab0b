"""Import a rendered bundle ZIP into Superset, overwriting every object it holds.

``superset import-dashboards`` (ImportDashboardsCommand, overwrite=True) only overwrites the
dashboards themselves: databases, datasets and charts that already exist are kept as they are
(they are imported with overwrite=False), so a changed chart, metric or warehouse path would never
reach an existing Superset. This runs, as the admin user, Superset's own import commands for
databases, datasets, charts, then dashboards — each with overwrite=True — which makes the import
idempotent: Superset ends up with exactly what the bundle says.

It then applies dashboards/security.yaml (access.py): the Ministère role, one role per académie
with its row-level security rule, no SQL Lab for any of them — the same result on every re-run.

Runs inside a Superset app context: :mod:`exams.superset_app.worker`'s ``import`` task, started
by ``exams superset build`` / ``setup``.
"""

from __future__ import annotations

import importlib
from zipfile import ZipFile

import yaml

from exams import settings
from exams.superset_app import BUNDLE_DIR, access
from exams.superset_app import bundle as bundle_mod

# (import command module, class, metadata type the command validates)
COMMANDS = [
    ("superset.commands.database.importers.v1", "ImportDatabasesCommand", "Database"),
    ("superset.commands.dataset.importers.v1", "ImportDatasetsCommand", "SqlaTable"),
    ("superset.commands.chart.importers.v1", "ImportChartsCommand", "Slice"),
    ("superset.commands.dashboard.importers.v1", "ImportDashboardsCommand", "Dashboard"),
]


def import_bundle(zip_path: str, username: str) -> list[str]:
    """Import the ZIP (overwrite) as `username`, then apply its access. Returns a summary."""
    from superset import security_manager
    from superset.commands.importers.v1.utils import get_contents_from_bundle
    from superset.utils.core import override_user

    user = security_manager.find_user(username=username)
    if user is None:
        raise access.AccessError(f"user {username!r} does not exist: run set-up first")
    with ZipFile(zip_path) as bundle:
        contents = get_contents_from_bundle(bundle)
    metadata = yaml.safe_load(contents["metadata.yaml"])
    done = []
    with override_user(user):
        for module, name, model_type in COMMANDS:
            command_cls = getattr(importlib.import_module(module), name)
            typed = dict(contents)
            typed["metadata.yaml"] = yaml.safe_dump({**metadata, "type": model_type})
            command_cls(typed, overwrite=True).run()
            done.append(model_type)
    # Access from the bundle just imported (not from dashboards/, which may differ).
    imported = bundle_mod.Bundle(root=BUNDLE_DIR)
    imported.files = {
        name: yaml.safe_load(text)
        for name, text in contents.items()
        if name.endswith(".yaml") and name != "metadata.yaml"
    }
    plan = access.load_plan(imported, settings.load().warehouse, allow_no_academies=True)
    return done + access.apply(plan)
