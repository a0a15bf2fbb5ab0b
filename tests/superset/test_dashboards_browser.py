"""The dashboards in a real headless chromium, as the admin and as a rectorat analyst.

Each dashboard must render every chart with no error panel, show the figures of the warehouse
(big numbers), speak French only — no English label, code or placeholder of Superset's in the
visible text (N/A, No data, Error, true/false, the file statuses and reason codes of the seeds) —
and write numbers the French way: rates « 72,4 % » (decimal comma, a space before %), counts
grouped by thousands. No filter offers an empty (NULL) value. Screenshots go to
test-artifacts/superset/ (not committed).
"""

from __future__ import annotations

import re
from pathlib import Path

import browser
import pytest
from superset_expectations import EXPECTED, scoped_rows
from superset_harness import ARTIFACTS, SupersetServer

from exams import reference
from exams.superset_app import BUNDLE_DIR
from exams.superset_app import bundle as bundle_mod

pytestmark = pytest.mark.slow

BUNDLE = bundle_mod.load(BUNDLE_DIR)
CHARTS = {str(c["uuid"]): c for c in BUNDLE.charts.values()}
DASHBOARDS = {d["slug"]: d for d in BUNDLE.dashboards.values()}
DATASETS = {str(d["uuid"]): d for d in BUNDLE.datasets.values()}
DATASET_METRICS = {u: {m["metric_name"]: m for m in d["metrics"]} for u, d in DATASETS.items()}
ANALYST_DASHBOARDS = ["taux-de-reussite", "capitalisation-des-blocs"]
ANALYST_ACADEMY = "10"

# What a French-speaking user must never read: Superset's untranslated words and empty values,
# and the codes the data keeps beside their French labels (file statuses, reason codes, the
# contract's NONE establishment), from their one source, the seeds.
ENGLISH = [
    "N/A", "No data", "No results", "Error", "error", "NULL", "null", "NaN", "undefined",
    "true", "false", "None", "NONE", "Summary", "Dimanche", "yhat", "Loading",
    *reference.file_statuses(),
    *reference.reasons(),
]  # fmt: skip
ENGLISH_RE = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, ENGLISH)) + r")(?!\w)")
SPACE = "[\u202f\u00a0 ]"  # narrow no-break space (D3_FORMAT), no-break space, space


# ---- what the page shows ---------------------------------------------------------------------
def normalise(text: str) -> str:
    return re.sub(r"[\s\u202f\u00a0]+", " ", text).strip()


def french_number(value, d3format: str) -> str:
    """How a big number is shown (D3_FORMAT: ',' decimal, narrow space for thousands and
    before %), after normalise()."""
    if d3format.endswith("%"):
        decimals = int(re.search(r"\.(\d+)", d3format).group(1))
        return f"{value * 100:.{decimals}f}".replace(".", ",") + " %"
    return f"{int(value):,}".replace(",", " ")


def assert_french(text: str, where: str) -> None:
    """No English word or code; rates with a decimal comma and a space before %; counts of
    four digits or more grouped by thousands (years — sessions, dates — apart)."""
    english = sorted(set(ENGLISH_RE.findall(text)))
    assert not english, f"{where}: English or codes shown: {english}"
    glued = re.findall(r".{0,20}\S%", text)
    assert not glued, f"{where}: % without a space before it: {glued[:5]}"
    point = re.findall(rf"\d\.\d+{SPACE}?%", text)
    assert not point, f"{where}: rates with a decimal point: {point[:5]}"
    rates = re.findall(rf"\d,\d+{SPACE}%", text)
    assert rates, f"{where}: no rate « 72,4 % » shown"
    ungrouped = [
        n
        for n in re.findall(r"(?<![\w/:.,\u202f\u00a0-])\d{4,}(?![\w/:.,\u202f\u00a0-])", text)
        if not (len(n) == 4 and 1900 <= int(n) <= 2099)
    ]
    assert not ungrouped, f"{where}: numbers not grouped by thousands: {ungrouped[:5]}"


def latest_session_scope(dashboard: dict) -> set[str]:
    """UUIDs of the charts a default-to-first-value Session filter applies to."""
    ids = {
        n["meta"]["chartId"]: str(n["meta"]["uuid"])
        for n in dashboard["position"].values()
        if isinstance(n, dict) and n.get("type") == "CHART"
    }
    for nf in dashboard["metadata"].get("native_filter_configuration", []):
        columns = [t.get("column", {}).get("name") for t in nf.get("targets", [])]
        if columns == ["session"] and nf["controlValues"].get("defaultToFirstItem"):
            excluded = set(nf.get("scope", {}).get("excluded", []))
            return {uuid for chart_id, uuid in ids.items() if chart_id not in excluded}
    return set()


# ---- browser ----------------------------------------------------------------------------------
def browser_login(page, server: SupersetServer, username: str = "", password: str = "") -> None:
    # The login POST can race the page's first event-log POST (both set the session cookie):
    # try again, from a settled page, if the form comes back.
    for _ in range(3):
        page.goto(f"{server.url}/login/")
        page.wait_for_load_state("networkidle")
        page.fill("#username, input[name=username]", username or server.username)
        page.fill("#password, input[name=password]", password or server.password)
        page.click("[data-test=login-button], button[type=submit]")
        try:
            page.wait_for_url(lambda u: "/login" not in u, timeout=15000)
            return
        except Exception:  # noqa: BLE001 - retried
            continue
    raise AssertionError("could not log in through the form")


# every chart drawn: a canvas, table rows, a big number — or an error panel or an empty state,
# which the checks below then report
RENDERED_JS = """(n) => {
  const charts = [...document.querySelectorAll('[data-test=chart-grid-component]')];
  if (charts.length < n || document.querySelector('[data-test=loading-indicator]')) return false;
  return charts.every(c => c.querySelector('[role=alert], .ant-alert-error, .ant-empty') ||
    c.querySelector('[data-test=chart-container] canvas, [data-test=chart-container] tbody tr,'
                    + ' [data-test=chart-container] .header-line'));
}"""


def check_rendered_chart(
    page, chart: dict, warehouse: Path, latest_session: bool, academy: str | None
) -> None:
    name = chart["slice_name"]
    holder = page.locator(f'[data-test=chart-grid-component][data-test-chart-name="{name}"]')
    assert holder.count() == 1, name
    spec = EXPECTED[str(chart["uuid"])]
    rows = scoped_rows(warehouse, spec["sql"], latest_session, academy)
    if chart["viz_type"] == "big_number_total":
        # the figure shown is the warehouse's, formatted the French way
        metric = DATASET_METRICS[str(chart["dataset_uuid"])][chart["params"]["metric"]]
        (value,) = rows[0].values()
        shown = normalise(holder.locator(".header-line").inner_text())
        assert shown == french_number(value, metric["d3format"]), name
    elif not rows:
        assert holder.locator(".ant-empty").count() >= 1, f"{name}: no rows, no empty state"
    elif chart["viz_type"] == "table":
        assert holder.locator("tbody tr").count() >= 1, name
    else:
        assert holder.locator("canvas").count() >= 1, name


@pytest.fixture(scope="module")
def chromium():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser.chromium() as launched:
        yield launched


def new_page(chromium, server_errors: list[str]):
    page = chromium.new_context(viewport={"width": 1600, "height": 1200}).new_page()
    page.on(
        "response",
        lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
    )
    return page


def render_dashboard(
    page, server: SupersetServer, dash: dict, warehouse: Path, academy: str | None = None
) -> str:
    """Open the dashboard, wait for every chart, fail on any error panel, check what it shows;
    return its visible text."""
    charts = [
        n["meta"]
        for n in dash["position"].values()
        if isinstance(n, dict) and n.get("type") == "CHART"
    ]
    page.goto(f"{server.url}/superset/dashboard/{dash['slug']}/")
    page.wait_for_function(RENDERED_JS, arg=len(charts), timeout=120000)
    page.wait_for_load_state("networkidle")

    alerts = page.locator("[role=alert], .ant-alert-error")
    texts = [normalise(alerts.nth(i).inner_text()) for i in range(alerts.count())]
    assert not texts, f"{dash['dashboard_title']}: error panels {texts}"
    assert page.get_by_text(dash["dashboard_title"]).first.is_visible()

    in_scope = latest_session_scope(dash)
    for meta in charts:
        uuid = str(meta["uuid"])
        check_rendered_chart(page, CHARTS[uuid], warehouse, uuid in in_scope, academy)
    return page.locator("body").inner_text()


def filter_options(page, filter_id: str) -> list[str]:
    """Every option a native filter offers (its dropdown opened and scrolled through: the list
    is virtual), then the dropdown closed."""
    box = page.locator(f'[data-test="{filter_id}"]')
    box.locator(".ant-select-selector").click()
    dropdown = ".ant-select-dropdown:not(.ant-select-dropdown-hidden)"
    page.wait_for_selector(f"{dropdown} .ant-select-item-option", timeout=30000)
    options = page.locator(f"{dropdown} .ant-select-item-option")
    holder = page.locator(f"{dropdown} .rc-virtual-list-holder")
    seen: list[str] = []
    for _ in range(100):
        new = [t for t in options.all_inner_texts() if t not in seen]
        if not new and seen:
            break
        seen += new
        if holder.count():
            holder.first.evaluate("el => el.scrollBy(0, el.clientHeight / 2)")
        page.wait_for_timeout(200)
    page.keyboard.press("Escape")
    page.wait_for_selector(dropdown, state="detached", timeout=10000)
    return seen


@pytest.fixture(scope="module")
def admin_page(chromium, superset_server: SupersetServer):
    """One admin browser session (logged in through the form) for every dashboard."""
    errors: list[str] = []
    page = new_page(chromium, errors)
    browser_login(page, superset_server)
    yield page, errors
    page.context.close()


@pytest.fixture(scope="module")
def analyst_page(chromium, superset_server: SupersetServer, rectorat_users: dict):
    errors: list[str] = []
    page = new_page(chromium, errors)
    browser_login(page, superset_server, *rectorat_users[ANALYST_ACADEMY])
    yield page, errors
    page.context.close()


# ---- tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("slug", sorted(DASHBOARDS))
def test_dashboard_renders_in_french_as_admin(
    admin_page, superset_server: SupersetServer, superset_warehouse: Path, slug: str
):
    page, server_errors = admin_page
    text = render_dashboard(page, superset_server, DASHBOARDS[slug], superset_warehouse)
    page.screenshot(path=str(ARTIFACTS / f"{slug}.png"), full_page=True)
    assert_french(text, f"{slug} (admin)")
    assert not server_errors, server_errors


@pytest.mark.parametrize("slug", ANALYST_DASHBOARDS)
def test_dashboard_renders_in_french_for_a_rectorat_analyst(
    analyst_page, superset_server: SupersetServer, superset_warehouse: Path, slug: str
):
    """As Rectorat 10: no error, the académie's own figures (the national card the nation's),
    in French."""
    page, server_errors = analyst_page
    code = ANALYST_ACADEMY
    text = render_dashboard(page, superset_server, DASHBOARDS[slug], superset_warehouse, code)
    page.screenshot(path=str(ARTIFACTS / f"{slug}-rectorat-{code}.png"), full_page=True)
    assert_french(text, f"{slug} (rectorat {code})")
    assert not server_errors, server_errors


def test_results_dashboard_shows_an_analyst_only_its_academy(
    analyst_page, superset_server: SupersetServer, superset_warehouse: Path
):
    """The tables by académie and by établissement of Rectorat 10 name no other académie nor
    any other académie's établissement."""
    page, _ = analyst_page
    code = ANALYST_ACADEMY
    render_dashboard(page, superset_server, DASHBOARDS["taux-de-reussite"], superset_warehouse, code)  # fmt: skip

    def table_text(name: str) -> str:
        holder = page.locator(f'[data-test=chart-grid-component][data-test-chart-name="{name}"]')
        return normalise(holder.locator("tbody").inner_text())

    names = scoped_rows(
        superset_warehouse, "SELECT DISTINCT academy_code, academy_name FROM marts.pass_rates"
    )
    by_academy = table_text("Résultats par académie")
    for row in names:
        assert (row["academy_name"] in by_academy) == (row["academy_code"] == code), row
    uais = scoped_rows(
        superset_warehouse,
        """SELECT DISTINCT academy_code, uai_etablissement FROM marts.establishment_results
           WHERE uai_etablissement <> 'NONE'""",
        latest_session=True,
    )
    by_establishment = table_text("Résultats par établissement")  # its first page
    own = [r for r in uais if r["academy_code"] == code]
    assert own, "the académie has établissements in the latest session"
    assert any(r["uai_etablissement"] in by_establishment for r in own)
    others = [r for r in uais if r["academy_code"] != code]
    assert not [r for r in others if r["uai_etablissement"] in by_establishment]


@pytest.mark.parametrize("slug", sorted(DASHBOARDS))
def test_filters_offer_no_empty_value(
    admin_page, superset_server: SupersetServer, superset_warehouse: Path, slug: str
):
    """Every native filter lists the column's values and never an empty (<NULL>) one, even where
    the column has NULLs (a file rejected before its name was read has no session)."""
    page, _ = admin_page
    dash = DASHBOARDS[slug]
    page.goto(f"{superset_server.url}/superset/dashboard/{slug}/")
    page.wait_for_load_state("networkidle")
    for nf in dash["metadata"]["native_filter_configuration"]:
        (target,) = nf["targets"]
        ds = DATASETS[str(target["datasetUuid"])]
        column = target["column"]["name"]
        values = {
            str(r["v"])
            for r in scoped_rows(
                superset_warehouse,
                f"SELECT DISTINCT {column} AS v FROM {ds['schema']}.{ds['table_name']}",
            )
            if r["v"] is not None
        }
        options = filter_options(page, nf["id"])
        assert options, f"{slug} / {nf['name']}: no option"
        assert not [o for o in options if "NULL" in o or not o.strip()], (nf["name"], options)
        assert set(options) <= values, (nf["name"], set(options) - values)
