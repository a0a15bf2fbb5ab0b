"""`exams superset …`: Superset provisioning (run with the Superset environment's `exams`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def setup(
    allow_missing_warehouse: bool = False,
    skip_import: Annotated[bool, typer.Option(help="metadata, admin and roles only")] = False,
) -> None:
    """Metadata, admin user, dashboards and access imported (idempotent)."""
    from exams.superset_app.__main__ import setup as do

    do(allow_missing_warehouse, skip_import)


@app.command()
def build(allow_missing_warehouse: bool = False) -> None:
    """Import dashboards/ (overwrite) and apply dashboards/security.yaml."""
    from exams.superset_app.__main__ import build as do

    do(allow_missing_warehouse)


@app.command()
def analyst(
    academy: Annotated[str, typer.Option(help="académie code, e.g. 10")],
    username: Annotated[str, typer.Option()],
) -> None:
    """A rectorat analyst's account bound to one académie's role."""
    from exams.superset_app.__main__ import analyst as do

    do(academy, username)


@app.command()
def serve() -> None:
    """Superset in the foreground on SUPERSET_PORT."""
    from exams.superset_app.__main__ import serve as do

    do()


@app.command()
def render(out: Path) -> None:
    """Only write the bundle ZIP somewhere (for inspection)."""
    from exams.superset_app.__main__ import render_to

    print(render_to(out))
