"""Render the readable YAML export bundle in ``dashboards/`` into an importable ZIP.

Substitutions: ``${EXAMS_WAREHOUSE}`` in the database's ``sqlalchemy_uri`` (the absolute path of
the published DuckDB file), and the values datasets quote from their one source (:func:`values`:
the statistical-secrecy threshold from ``exams.settings``, the z of the Wilson interval from
``dbt_project.yml``). The bundle is also checked for what Superset's importer silently gets
wrong: dangling UUIDs, charts not placed in any dashboard (not imported), a database that is not
read-only, an unknown ``${…}`` placeholder.

Standard library + PyYAML only (no superset import).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PLACEHOLDER = "${EXAMS_WAREHOUSE}"
ZIP_ROOT = "exams_dashboards"
# Roles and row-level security (access.py): beside the bundle, never in the ZIP.
ACCESS_FILE = "security.yaml"
# Placeholders the datasets' SQL may quote, filled in by render() from their one source.
SECRECY_THRESHOLD = "${EXAMS_SECRECY_THRESHOLD}"  # exams.settings (EXAMS_SECRECY_THRESHOLD)
WILSON_Z = "${WILSON_Z}"  # dbt_project.yml, vars.wilson_z (the published intervals' z)
PLACEHOLDER_RE = re.compile(r"\$\{[A-Z_]+\}")


class BundleError(ValueError):
    pass


@dataclass
class Bundle:
    """The parsed bundle: relative path → parsed YAML, grouped by kind."""

    root: Path
    files: dict[str, dict] = field(default_factory=dict)

    def kind(self, prefix: str) -> dict[str, dict]:
        return {p: d for p, d in self.files.items() if p.startswith(prefix + "/")}

    @property
    def databases(self) -> dict[str, dict]:
        return self.kind("databases")

    @property
    def datasets(self) -> dict[str, dict]:
        return self.kind("datasets")

    @property
    def charts(self) -> dict[str, dict]:
        return self.kind("charts")

    @property
    def dashboards(self) -> dict[str, dict]:
        return self.kind("dashboards")


def load(bundle_dir: Path) -> Bundle:
    bundle = Bundle(root=bundle_dir)
    if not (bundle_dir / "metadata.yaml").is_file():
        raise BundleError(f"{bundle_dir}: no metadata.yaml")
    for path in sorted(bundle_dir.rglob("*.yaml")):
        rel = path.relative_to(bundle_dir).as_posix()
        if rel == ACCESS_FILE:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise BundleError(f"{rel}: invalid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise BundleError(f"{rel}: not a mapping")
        bundle.files[rel] = data
    return bundle


def chart_uuids_in_position(position: dict) -> list[str]:
    return [
        node["meta"]["uuid"]
        for node in position.values()
        if isinstance(node, dict) and node.get("type") == "CHART"
    ]


def validate(bundle: Bundle) -> None:
    """Raise BundleError on anything the importer would reject or silently drop."""
    problems: list[str] = []
    meta = bundle.files.get("metadata.yaml", {})
    if meta.get("type") != "Dashboard" or str(meta.get("version")) != "1.0.0":
        problems.append("metadata.yaml: expected type Dashboard, version 1.0.0")

    uuids: dict[str, str] = {}
    for rel, data in bundle.files.items():
        if rel == "metadata.yaml":
            continue
        uid = str(data.get("uuid", ""))
        if not uid:
            problems.append(f"{rel}: no uuid")
        elif uid in uuids:
            problems.append(f"{rel}: uuid {uid} already used by {uuids[uid]}")
        uuids[uid] = rel

    db_uuids = {str(d["uuid"]) for d in bundle.databases.values()}
    ds_uuids = {str(d["uuid"]) for d in bundle.datasets.values()}
    chart_uuids = {str(d["uuid"]) for d in bundle.charts.values()}

    for rel, db in bundle.databases.items():
        if PLACEHOLDER not in db.get("sqlalchemy_uri", ""):
            problems.append(f"{rel}: sqlalchemy_uri must use {PLACEHOLDER}")
        connect_args = db.get("extra", {}).get("engine_params", {}).get("connect_args", {})
        if connect_args.get("read_only") is not True:
            problems.append(f"{rel}: extra.engine_params.connect_args.read_only must be true")
        if db.get("allow_dml") is not False:
            problems.append(f"{rel}: allow_dml must be false")
        if db.get("expose_in_sqllab") is not False:
            problems.append(f"{rel}: expose_in_sqllab must be false")
    for rel, ds in bundle.datasets.items():
        if str(ds.get("database_uuid")) not in db_uuids:
            problems.append(f"{rel}: unknown database_uuid {ds.get('database_uuid')}")
    for rel, chart in bundle.charts.items():
        if str(chart.get("dataset_uuid")) not in ds_uuids:
            problems.append(f"{rel}: unknown dataset_uuid {chart.get('dataset_uuid')}")
        if chart.get("params", {}).get("viz_type") != chart.get("viz_type"):
            problems.append(f"{rel}: params.viz_type differs from viz_type")

    placed: set[str] = set()
    for rel, dash in bundle.dashboards.items():
        position = dash.get("position", {})
        chart_ids: list[int] = []
        for key, node in position.items():
            if not isinstance(node, dict):
                continue
            if node.get("id") != key:
                problems.append(f"{rel}: position node {key} has id {node.get('id')}")
            for child in node.get("children", []):
                if child not in position:
                    problems.append(f"{rel}: {key} has unknown child {child}")
            if node.get("type") == "CHART":
                m = node.get("meta", {})
                missing = [k for k in ("chartId", "uuid", "width", "height") if k not in m]
                if missing:
                    problems.append(f"{rel}: {key} meta lacks {missing}")
                    continue
                chart_ids.append(m["chartId"])
                if str(m["uuid"]) not in chart_uuids:
                    problems.append(f"{rel}: {key} refers to unknown chart {m['uuid']}")
                placed.add(str(m["uuid"]))
        if len(chart_ids) != len(set(chart_ids)):
            problems.append(f"{rel}: duplicate meta.chartId")
        for nf in dash.get("metadata", {}).get("native_filter_configuration", []):
            for target in nf.get("targets", []):
                if "datasetUuid" in target and str(target["datasetUuid"]) not in ds_uuids:
                    problems.append(f"{rel}: filter {nf.get('id')} targets unknown dataset")
            # the importer maps excluded chartIds through the position (unknown ones vanish)
            for excluded in nf.get("scope", {}).get("excluded", []):
                if excluded not in chart_ids:
                    problems.append(f"{rel}: filter {nf.get('id')} excludes unknown chartId")
    known = {PLACEHOLDER, SECRECY_THRESHOLD, WILSON_Z}
    for rel, data in bundle.files.items():
        unknown = set(PLACEHOLDER_RE.findall(str(data))) - known
        if unknown:
            problems.append(f"{rel}: unknown placeholders {sorted(unknown)}")
    for rel, chart in bundle.charts.items():
        if str(chart["uuid"]) not in placed:
            problems.append(f"{rel}: chart is in no dashboard position (it would not be imported)")
    if problems:
        raise BundleError("invalid dashboard bundle:\n  " + "\n  ".join(problems))


def warehouse_path(warehouse: Path) -> str:
    """Absolute path of the warehouse, as it goes into ``duckdb:///${EXAMS_WAREHOUSE}``."""
    path = str(Path(warehouse).resolve())
    if any(c in path for c in "?#%"):
        raise BundleError(f"warehouse path {path!r} holds a character unsafe in a URI (?#%)")
    return path


def values() -> dict[str, str]:
    """What the datasets' placeholders stand for, read from their one source."""
    from exams import settings

    project_file = settings.DBT_PROJECT_DIR / "dbt_project.yml"
    try:
        project = yaml.safe_load(project_file.read_text(encoding="utf-8"))
        z = float(project["vars"]["wilson_z"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{project_file}: no vars.wilson_z ({exc})") from exc
    return {
        SECRECY_THRESHOLD: str(int(settings.load().secrecy_threshold)),
        WILSON_Z: repr(z),
    }


def render(bundle_dir: Path, warehouse: Path, out_zip: Path) -> Path:
    """Validate the bundle and write the importable ZIP (files under one root folder)."""
    bundle = load(bundle_dir)
    validate(bundle)
    path = warehouse_path(warehouse)
    filled = values()
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel, data in sorted(bundle.files.items()):
            if rel.startswith("databases/"):
                data = dict(data)
                data["sqlalchemy_uri"] = data["sqlalchemy_uri"].replace(PLACEHOLDER, path)
                text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
            else:
                text = (bundle.root / rel).read_text(encoding="utf-8")
                for placeholder, value in filled.items():
                    text = text.replace(placeholder, value)
            zf.writestr(f"{ZIP_ROOT}/{rel}", text)
    return out_zip
