"""Data Docs that open offline: a great-expectations plugin (this folder is the context's
`plugins_directory`, which GX puts on `sys.path`).

GX 1.x's page templates load Bootstrap, jQuery, Font Awesome, bootstrap-table, Vega… from public
CDNs, and the navbar logo from a public bucket: on a server without internet access, or a laptop
opening the published site from `file://`, the pages render empty and unstyled. GX's documented
extension points are used to serve local copies instead:

- the site's `class_name`/`module_name` (`OfflineSiteBuilder`): after GX's own build, it copies
  `custom_data_docs/vendor/` (the assets, with their licences; see vendor/ASSETS) into the
  site's `static/vendor/`, through the site's static-assets store like GX's own `static/`;
- each site section's and the index's `view` (`OfflinePageView`, `OfflineIndexPageView`): GX's
  page views rendering the templates of `custom_data_docs/views/` (GX's `page.j2` and
  `index_page.j2` with local links), which GX's template loader finds in the plugins folder.

The check stage (`exams.checks`) names these classes in its Data Docs site configuration.
"""

from __future__ import annotations

from pathlib import Path

from great_expectations.render.renderer.site_builder import SiteBuilder
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

VENDOR = Path(__file__).resolve().parent / "custom_data_docs" / "vendor"


class OfflinePageView(DefaultJinjaPageView):
    """Suite and validation result pages, with local assets."""

    _template = "offline_page.j2"


class OfflineIndexPageView(DefaultJinjaIndexPageView):
    """The index page, with local assets."""

    _template = "offline_index_page.j2"


class OfflineSiteBuilder(SiteBuilder):
    """GX's site builder, whose static assets also hold the vendored CSS, JavaScript and fonts."""

    def build(self, resource_identifiers=None, build_index: bool = True):  # noqa: ANN001, ANN201
        built = super().build(resource_identifiers=resource_identifiers, build_index=build_index)
        static = self.target_store.store_backends["static_assets"]
        for path in sorted(p for p in VENDOR.rglob("*") if p.is_file()):
            static.set(("static", "vendor", *path.relative_to(VENDOR).parts), path.read_bytes())
        return built
