"""The published dbt docs: one static page beside the warehouse, which opens from disk with the
network off (ministry networks are often closed), in a real headless chromium."""

from __future__ import annotations

from pathlib import Path

import duckdb
from browser import offline_pages

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "docs"


def test_dbt_docs_are_one_page_that_opens_offline(published_warehouse: Path) -> None:
    site = published_warehouse.parent / "dbt_docs"
    assert sorted(p.name for p in site.iterdir()) == ["index.html"]
    con = duckdb.connect(str(published_warehouse), read_only=True)
    marts = [t for (t,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1").fetchall()]
    con.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors = []

    with offline_pages(("file://", "data:", "blob:")) as (new_page, outside):
        page = new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((site / "index.html").as_uri())
        page.wait_for_selector("text=Welcome to the auto-generated documentation")
        # every published mart has its page, with its columns and their descriptions
        for mart in marts:
            page.goto((site / "index.html").as_uri() + f"#!/model/model.exams.{mart}")
            page.wait_for_selector(f"h1:has-text('{mart}')", timeout=30_000)
            page.wait_for_selector("text=Session d'examen", timeout=30_000)
        page.goto((site / "index.html").as_uri() + "#!/model/model.exams.pass_rates")
        page.wait_for_selector("text=pass_rate_low", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "dbt_docs_pass_rates.png"), full_page=False)
    assert marts and outside == [] and errors == []
