"""Progress for long runs: rich bars on a terminal, plain log lines otherwise (Airflow logs)."""

from __future__ import annotations

import sys
import time
from types import TracebackType


def log(message: str) -> None:
    print(f"[exams {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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
            log(f"{self.label}: {self.total} item(s)")
        return self

    def advance(self, item: str) -> None:
        self.done += 1
        if self._rich:
            self._rich.update(self._task, advance=1, description=f"{self.label} {item}")
        else:
            log(f"{self.label} [{self.done}/{self.total}] {item}")

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._rich:
            self._rich.stop()
