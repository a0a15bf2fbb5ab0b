"""``exams superset setup|build|serve|analyst|render``: Superset provisioning.

Run with the Superset environment's ``exams`` (``.venv/superset/bin/exams``; the Makefile's
superset-setup, superset-import, serve and analyst targets). The logic lives in
:mod:`exams.superset_app.provision` and :mod:`exams.superset_app.serve`; this module only reads
the options, asks for a password on a terminal and prints what the operator must see.

Passwords are never options: the analyst's comes from SUPERSET_ANALYST_PASSWORD, else is asked
twice on a terminal (getpass), else is generated and printed once.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from exams.errors import ConfigError
from exams.settings import load_superset

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command()
def setup(
    allow_missing_warehouse: Annotated[
        bool, typer.Option(help="set up even if the warehouse is not published yet")
    ] = False,
    skip_import: Annotated[
        bool, typer.Option(help="metadata, admin and roles only (no warehouse needed)")
    ] = False,
) -> None:
    """Metadata, admin user, dashboards and access imported (idempotent)."""
    from exams.superset_app import provision

    login = provision.setup(allow_missing_warehouse, skip_import)
    if not login.from_environment:
        typer.echo(f"Superset: user {login.username}, password {login.password} ({login.source})")


@app.command()
def build(
    allow_missing_warehouse: Annotated[
        bool, typer.Option(help="import even if the warehouse is not published yet")
    ] = False,
) -> None:
    """Import dashboards/ (overwrite) and apply dashboards/security.yaml."""
    from exams.superset_app import provision

    provision.build(allow_missing_warehouse)


def _ask_password(username: str) -> str | None:
    """Twice, hidden; empty: none given (keep an existing account's, generate a new one's)."""
    first = getpass.getpass(
        f"Password for {username} (empty: keep the current one, or generate one for a new "
        "account): "
    )
    if not first:
        return None
    if getpass.getpass("Again: ") != first:
        raise ConfigError("the two passwords differ: nothing changed")
    return first


@app.command()
def analyst(
    academy: Annotated[str, typer.Option(help="académie code, e.g. 10")],
    username: Annotated[str, typer.Option(help="the analyst's user name")],
) -> None:
    """A rectorat analyst's account bound to one académie's role (idempotent).

    Password: SUPERSET_ANALYST_PASSWORD, else asked on a terminal, else generated and printed
    once (a new account; an existing one keeps its own).
    """
    from exams.superset_app import provision

    academy = provision.check_analyst(academy, username)
    password = load_superset().analyst_password or (
        _ask_password(username) if sys.stdin.isatty() else None
    )
    account = provision.analyst(academy, username, password)
    typer.echo(f"analyst '{account.username}' {account.action}, role « {account.role} »")
    if account.generated_password:
        typer.echo(
            f"generated password for '{account.username}': {account.generated_password} "
            "(shown once, kept nowhere: pass it on now)"
        )


@app.command()
def serve() -> None:
    """Superset in the foreground on SUPERSET_BIND_HOST:SUPERSET_PORT (Ctrl-C stops it)."""
    from exams.superset_app import serve as serving

    serving.serve(announce=lambda ready: typer.echo(ready.banner()))


@app.command()
def render(out: Annotated[Path, typer.Argument(help="ZIP to write")]) -> None:
    """Only write the bundle ZIP somewhere (for inspection)."""
    from exams.superset_app import provision

    typer.echo(provision.render_to(out))
