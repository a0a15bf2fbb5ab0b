"""Progress of a long loop over files: rich's bar on a terminal, a log line per item otherwise
(Airflow task logs, CI)."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

log = logging.getLogger(__name__)


class Progress:
    """`with Progress("ingest", total=n) as p: p.advance("file.csv")`."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._rich = None
        if sys.stderr.isatty():
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(transient=False)

    def __enter__(self) -> Progress:
        if self._rich:
            self._rich.start()
            self._task = self._rich.add_task(self.label, total=self.total)
        else:
            log.info("%s: %d item(s)", self.label, self.total)
        return self

    def advance(self, item: str) -> None:
        self.done += 1
        if self._rich:
            self._rich.update(self._task, advance=1, description=f"{self.label} {item}")
        else:
            log.info("%s [%d/%d] %s", self.label, self.done, self.total, item)

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._rich:
            self._rich.stop()
