"""One run at a time, whoever starts it (the DAG, `make pipeline`, `exams run`, a stage by hand).

The run lock is a small file in the private state folder (`<warehouse stem>.run.lock`):
- a process running a stage holds an exclusive `flock` on it for its whole life; the kernel
  drops it when the process ends, however it ends (a SIGKILL included), so a held `flock`
  always means a live process;
- the file records which run holds the lock (run id, entry point, stage, process, start) and,
  between two stages of an orchestrated run (the DAG runs each stage as its own process, with
  the same EXAMS_RUN_ID), until when the run keeps it (a lease of EXAMS_LOCK_LEASE_MINUTES).

A second run finds the `flock` held, or the lease of another run still running, and stops at
once with RunInProgress, touching nothing. A lock whose process is gone and whose lease is over
(or which has none: a standalone run) was left by a killed run: it is taken over, and said so.
The DAG takes the lock for its run first (`exams acquire-lock`, a setup task: when another run
holds it, the DAG run fails at once and touches nothing) and releases it last whatever happened
(`exams release-lock`, its teardown).
Assumes the state folder is on a local filesystem (flock).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from exams.errors import RunInProgress
from exams.settings import Settings

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def new_run_id(entry: str) -> str:
    return f"{entry}-{_now():%Y%m%dT%H%M%S}-{os.getpid()}"


def ensure_private_folder(folder: Path) -> None:
    """The private state folder: made 0700 when we make it; an existing one is left as it is,
    with a warning if other users may read it (it holds personal data)."""
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        return
    mode = folder.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning(
            "the private state folder %s is readable by other users (mode %o); it holds "
            "personal data: restrict it (chmod 700) or set EXAMS_STATE_DIR", folder, mode,
        )  # fmt: skip


class RunLock:
    """The lock of one stage process of run `run_id` (`with RunLock(...):`)."""

    def __init__(self, s: Settings, run_id: str, entry: str, stage: str,
                 orchestrated: bool = False) -> None:  # fmt: skip
        """`orchestrated`: a stage of a run of several processes (the DAG), which keeps its
        lease while the stage runs too, so that a stage killed mid-way (and retried by the
        DAG) does not hand the lock to another run."""
        self.path = s.lock_file
        self.s, self.run_id, self.entry, self.stage = s, run_id, entry, stage
        self.orchestrated = orchestrated
        self.fd: int | None = None

    def _lease(self) -> str:
        return (_now() + timedelta(minutes=self.s.lock_lease_minutes)).isoformat()

    def _record(self) -> dict:
        os.lseek(self.fd, 0, os.SEEK_SET)
        raw = os.read(self.fd, 65536)
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {}

    def _write(self, record: dict) -> None:
        data = json.dumps(record).encode() if record else b""
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, data)
        os.fsync(self.fd)

    @staticmethod
    def describe(record: dict) -> str:
        if not record:
            return "another run"
        where = f"stage {record.get('stage')}, process {record.get('pid')} on {record.get('host')}"
        return (f"run {record.get('run_id')} ({record.get('entry')}, {where}, started "
                f"{record.get('started_at')})")  # fmt: skip

    def acquire(self) -> None:
        ensure_private_folder(self.path.parent)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            record = self._record()
            os.close(self.fd)
            self.fd = None
            raise RunInProgress(
                f"{self.describe(record)} is in progress: this run stops and touches nothing"
            ) from None
        record = self._record()
        if record and record.get("run_id") != self.run_id:
            lease = record.get("lease_until")
            if lease and datetime.fromisoformat(lease) > _now():
                self._close()
                raise RunInProgress(
                    f"{self.describe(record)} is between two of its stages (it keeps the lock "
                    f"until {lease}): this run stops and touches nothing"
                )
            log.warning("taking over the lock left by %s (its process is gone%s)",
                        self.describe(record),
                        ", its lease is over" if lease else "")  # fmt: skip
        started = record.get("started_at") if record.get("run_id") == self.run_id else None
        mine = {
            "run_id": self.run_id, "entry": self.entry, "stage": self.stage, "pid": os.getpid(),
            "host": socket.gethostname(), "started_at": started or _now().isoformat(),
        }  # fmt: skip
        if self.orchestrated:
            mine["lease_until"] = self._lease()
        self._write(mine)

    def release(self, keep_for_next_stage: bool) -> None:
        """End of this process's stage: the run keeps the lock for a lease (an orchestrated run
        between stages) or gives it up."""
        if self.fd is None:
            return
        if keep_for_next_stage:
            record = self._record()
            record.update(pid=None, stage=f"after {self.stage}", lease_until=self._lease())
            self._write(record)
        else:
            self._write({})
        self._close()

    def _close(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def acquire_run(s: Settings, run_id: str) -> None:
    """Take the lock for run `run_id` and keep it (lease) for the stages that follow."""
    run_lock = RunLock(s, run_id, "dag", "acquire-lock", orchestrated=True)
    run_lock.acquire()
    run_lock.release(keep_for_next_stage=True)


def release_run(s: Settings, run_id: str) -> bool:
    """Release the lock of `run_id` if it holds it between stages (the DAG's last task)."""
    if not s.lock_file.exists():
        return False
    lock = RunLock(s, run_id, "release", "release")
    lock.fd = os.open(s.lock_file, os.O_RDWR)
    try:
        fcntl.flock(lock.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock.fd)
        return False  # a stage of some run is running: not ours to release
    try:
        record = lock._record()
        if record.get("run_id") == run_id:
            lock._write({})
            return True
        return False
    finally:
        lock._close()
