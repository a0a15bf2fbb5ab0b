"""Access as code: apply ``dashboards/security.yaml`` to Superset, create rectorat analysts.

The plan (which role reads which dataset, which row-level security rule goes where) is computed
from the YAML, the dashboard bundle and the reference seed of académies with the standard library
and PyYAML only, so the fast tests check it without Superset. :func:`apply` and
:func:`ensure_analyst` run inside a Superset app context (:mod:`exams.superset_app.worker`,
started by ``exams superset analyst`` / ``make analyst`` and by the import, which calls
:func:`apply` after every import).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from exams.errors import ConfigError
from exams.settings import REPO_ROOT
from exams.superset_app import BUNDLE_DIR
from exams.superset_app import bundle as bundle_mod

SECURITY_FILE = BUNDLE_DIR / bundle_mod.ACCESS_FILE
RLS_MARKER = "Géré par dashboards/security.yaml"
ACADEMY_COLUMN = "academy_code"
# Views of SQL Lab: no role of security.yaml holds any permission on them (Gamma itself holds a
# few, e.g. can_export_streaming_csv on SQLLab, can_list on SavedQuery).
SQLLAB_VIEW_MENUS = frozenset({
    "SQLLab", "SQL Lab", "SQL Editor", "SavedQuery", "Saved Queries", "Query", "Query Search",
    "TabStateView", "TableSchemaView", "SqlLabPermalinkRestApi",
})  # fmt: skip

log = logging.getLogger(__name__)


class AccessError(ConfigError):
    """security.yaml, the list of académies or an account does not allow what was asked."""


@dataclass(frozen=True)
class Academy:
    code: str
    name: str


@dataclass
class RoleSpec:
    name: str
    datasets: list[str]  # "schema.table"
    dataset_uuids: list[str]
    academy: Academy | None = None
    rls_clause: str | None = None
    rls_group_key: str | None = None
    rls_dataset_uuids: list[str] = field(default_factory=list)


@dataclass
class AccessPlan:
    base_role: str
    roles: list[RoleSpec]
    retired_roles: list[str]
    # False: the list of académies could not be read; per-académie roles and rules are left as
    # they are (never emptied of their row-level security by accident).
    academies_known: bool = True

    def academy_role(self, code: str) -> RoleSpec | None:
        return next((r for r in self.roles if r.academy and r.academy.code == code), None)


# ---- the plan (no Superset) ---------------------------------------------------------------
def load_spec(path: Path = SECURITY_FILE) -> dict:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AccessError(f"{path}: {exc}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("roles"), list):
        raise AccessError(f"{path}: expected a mapping with a `roles` list")
    return spec


def read_academies(spec: dict, warehouse: Path | None = None) -> list[Academy]:
    """The académies of the reference seed; without the seed file, the warehouse's copy of it."""
    source = spec.get("academies", {})
    seed = REPO_ROOT / source.get("seed", "dbt_project/seeds/ref_academies.csv")
    if seed.is_file():
        with seed.open(encoding="utf-8", newline="") as fh:
            rows = [(r["academy_code"], r["academy_name"]) for r in csv.DictReader(fh)]
    elif warehouse is not None and Path(warehouse).is_file() and source.get("warehouse_table"):
        import duckdb

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            rows = con.execute(
                f"SELECT academy_code, academy_name FROM {source['warehouse_table']}"
            ).fetchall()
        finally:
            con.close()
    else:
        raise AccessError(
            f"no list of académies: neither {seed} nor a published warehouse "
            f"({warehouse}) holding {source.get('warehouse_table')}"
        )
    academies = [Academy(str(code).strip(), str(name).strip()) for code, name in rows]
    codes = [a.code for a in academies]
    if not academies or len(set(codes)) != len(codes) or not all(c.isalnum() for c in codes):
        raise AccessError(f"invalid list of académies: {codes}")
    return sorted(academies, key=lambda a: a.code)


def _dataset_index(bundle: bundle_mod.Bundle) -> dict[str, dict]:
    return {f"{d['schema']}.{d['table_name']}": d for d in bundle.datasets.values()}


def plan(spec: dict, bundle: bundle_mod.Bundle, academies: list[Academy]) -> AccessPlan:
    datasets = _dataset_index(bundle)
    with_academy = [
        str(d["uuid"])
        for d in datasets.values()
        if any(c["column_name"] == ACADEMY_COLUMN for c in d.get("columns", []))
    ]
    never = spec.get("analysts_never", {})
    never_schemas = set(never.get("schemas", []))
    never_tables = set(never.get("tables", []))
    problems: list[str] = []
    roles: list[RoleSpec] = []
    for entry in spec["roles"]:
        wanted = entry.get("datasets", [])
        names = sorted(datasets) if wanted == "all" else list(wanted)
        unknown = [n for n in names if n not in datasets]
        if unknown:
            problems.append(f"role {entry.get('name')}: unknown datasets {unknown}")
            continue
        uuids = [str(datasets[n]["uuid"]) for n in names]
        if not entry.get("per_academy"):
            if "row_level_security" in entry:
                problems.append(f"role {entry['name']}: row-level security needs per_academy")
            roles.append(RoleSpec(entry["name"], names, uuids))
            continue
        if "{academy_code}" not in entry["name"]:
            problems.append(f"role {entry['name']}: a per-académie name needs {{academy_code}}")
        forbidden = [n for n in names if n.split(".")[0] in never_schemas or n in never_tables]
        if forbidden:
            problems.append(f"role {entry['name']}: analysts may never read {forbidden}")
        problems += _dashboards_fully_readable(entry["name"], bundle, set(uuids))
        rls = entry.get("row_level_security") or {}
        if "{academy_code}" not in rls.get("clause", ""):
            problems.append(
                f"role {entry['name']}: row_level_security.clause needs {{academy_code}}"
            )
            continue
        for academy in academies:
            fmt = {"academy_code": academy.code, "academy_name": academy.name}
            roles.append(
                RoleSpec(
                    name=entry["name"].format(**fmt),
                    datasets=names,
                    dataset_uuids=uuids,
                    academy=academy,
                    rls_clause=rls["clause"].format(**fmt),
                    rls_group_key=rls.get("group_key"),
                    rls_dataset_uuids=with_academy,
                )
            )
    role_names = [r.name for r in roles]
    if len(set(role_names)) != len(role_names):
        problems.append("role names are not unique")
    retired = list(spec.get("retired_roles", []))
    if set(retired) & set(role_names):
        problems.append(f"retired roles still defined: {set(retired) & set(role_names)}")
    if problems:
        raise AccessError("invalid security.yaml:\n  " + "\n  ".join(problems))
    return AccessPlan(spec.get("base_role", "Gamma"), roles, retired, bool(academies))


def _dashboards_fully_readable(role: str, bundle: bundle_mod.Bundle, uuids: set[str]) -> list:
    """A dashboard a role can open (it reads one of its datasets) must show every chart."""
    chart_ds = {str(c["uuid"]): str(c["dataset_uuid"]) for c in bundle.charts.values()}
    problems = []
    for dash in bundle.dashboards.values():
        needed = {chart_ds[u] for u in bundle_mod.chart_uuids_in_position(dash["position"])}
        if needed & uuids and not needed <= uuids:
            problems.append(
                f"role {role}: « {dash['dashboard_title']} » would show charts it cannot read"
            )
    return problems


def load_plan(
    bundle: bundle_mod.Bundle | None = None,
    warehouse: Path | None = None,
    allow_no_academies: bool = False,
) -> AccessPlan:
    """The plan from security.yaml. allow_no_academies: without a list of académies (no seed,
    no warehouse yet), plan the other roles only and leave the académie roles untouched."""
    spec = load_spec()
    try:
        academies = read_academies(spec, warehouse)
    except AccessError as exc:
        if not allow_no_academies:
            raise
        log.warning("%s; académie roles left as they are", exc)
        academies = []
    return plan(spec, bundle or bundle_mod.load(BUNDLE_DIR), academies)


# ---- Superset side (inside an app context) ------------------------------------------------
def apply(access: AccessPlan) -> list[str]:
    """Make Superset's roles and RLS rules exactly what the plan says. Returns a summary."""
    from uuid import UUID

    from superset import db
    from superset import security_manager as sm
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable

    base = sm.find_role(access.base_role)
    if base is None:
        raise AccessError(f"role {access.base_role} missing: run `superset init` (set-up)")
    base_pvms = [
        p
        for p in base.permissions
        if (p.permission.name, p.view_menu.name) not in sm.SQLLAB_ONLY_PERMISSIONS
        and p.view_menu.name not in SQLLAB_VIEW_MENUS
        and not p.permission.name.startswith("can_sqllab")
    ]
    wanted = {u for r in access.roles for u in r.dataset_uuids + r.rls_dataset_uuids}
    tables = {
        str(t.uuid): t
        for t in db.session.query(SqlaTable).filter(SqlaTable.uuid.in_([UUID(u) for u in wanted]))
    }
    missing = wanted - set(tables)
    if missing:
        raise AccessError(f"datasets not imported: {sorted(missing)}")

    rules = {
        f.name: f
        for f in db.session.query(RowLevelSecurityFilter).filter(
            RowLevelSecurityFilter.description.like(f"{RLS_MARKER}%")
        )
    }
    kept_rules = set()
    for spec in access.roles:
        role = sm.add_role(spec.name, commit=False) or sm.find_role(spec.name)
        pvms = list(base_pvms)
        for uuid in spec.dataset_uuids:
            pvms.append(sm.add_permission_view_menu("datasource_access", tables[uuid].perm))
        role.permissions = pvms
        if spec.rls_clause:
            rule = rules.get(spec.name)
            if rule is None:
                rule = RowLevelSecurityFilter(name=spec.name)
                db.session.add(rule)
            rule.description = f"{RLS_MARKER} (académie {spec.academy.code})"
            rule.filter_type = "Regular"
            rule.clause = spec.rls_clause
            rule.group_key = spec.rls_group_key
            rule.roles = [role]
            rule.tables = [tables[u] for u in spec.rls_dataset_uuids]
            kept_rules.add(spec.name)
    for name, rule in rules.items():
        if name not in kept_rules and access.academies_known:
            # an académie gone from the seed: its role loses every permission with its rule
            for role in rule.roles:
                role.permissions = []
            db.session.delete(rule)
    for name in access.retired_roles:
        role = sm.find_role(name)
        if role is not None:
            role.permissions = []
    db.session.commit()
    n_rls = len(kept_rules)
    return [f"{len(access.roles)} roles", f"{n_rls} row-level security rules"]


def ensure_analyst(
    access: AccessPlan, academy_code: str, username: str, password: str, new_password: str
) -> tuple[str, str, str]:
    """Create or update ``username``, bound to exactly that académie's role.

    ``password``: the one to set ("" keeps an existing account's own); a new account without one
    gets ``new_password``. Returns (action, role, password: "given", "generated" or "kept").
    """
    from superset import security_manager as sm

    spec = access.academy_role(academy_code)
    if spec is None:
        raise AccessError(f"unknown académie {academy_code!r}")
    role = sm.find_role(spec.name)
    if role is None:
        raise AccessError(f"role « {spec.name} » missing: run `make superset-setup` first")
    replaceable = {r.name for r in access.roles if r.academy} | set(access.retired_roles)
    user = sm.find_user(username=username)
    if user is None:
        created = sm.add_user(
            username=username,
            first_name="Analyste",
            last_name=f"Rectorat {spec.academy.name}",
            email=f"{username}@exams.invalid",
            role=[role],
            password=password or new_password,
        )
        if not created:
            raise AccessError(f"could not create user {username!r} (see Superset's log)")
        return "created", spec.name, "given" if password else "generated"
    others = {r.name for r in user.roles} - replaceable
    if others:
        raise AccessError(
            f"user {username!r} holds other roles ({', '.join(sorted(others))}): not an analyst "
            "account, left untouched"
        )
    user.roles = [role]
    user.active = True
    sm.update_user(user)
    if password:
        sm.reset_password(user.id, password)
    return "updated", spec.name, "given" if password else "kept"
