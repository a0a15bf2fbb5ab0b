"""The tests' headless browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run"]  # fmt: skip


@contextmanager
def chromium() -> Generator[Any, None, None]:
    """A launched headless chromium, closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline_pages(
    allowed: tuple[str, ...] = ("file://",),
) -> Generator[tuple[Callable[..., Any], list[str]], None, None]:
    """`(new_page, outside)`: pages that reach only URLs starting with `allowed` (the disk);
    every other request is aborted and its URL appended to `outside`."""
    outside: list[str] = []

    def local_only(route: Any) -> None:
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with chromium() as browser:

        def new_page(**options: Any) -> Any:
            page = browser.new_page(**options)
            page.route("**/*", local_only)
            return page

        yield new_page, outside
