"""The errors the platform raises on purpose, each with the exit status the command line gives
it. Library code raises these; only `exams.cli` turns them into an exit status and one line."""

from __future__ import annotations


class ExamsError(Exception):
    """An expected failure, told to the operator in one clear message."""

    exit_code = 1


class ConfigError(ExamsError):
    """A setting is missing or invalid."""

    exit_code = 2


class StageFailed(ExamsError):
    """A stage of the nightly run failed: nothing is published."""

    exit_code = 1


class RunInProgress(ExamsError):
    """Another run holds the run lock: this one touched nothing."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class InvariantBroken(ExamsError):
    """A row-accounting or publication invariant does not hold (a bug, never an input error)."""

    exit_code = 70  # EX_SOFTWARE


class NothingToDo(ExamsError):
    """Nothing changed since the last publication: this stage has nothing to do (the DAG shows
    it as skipped: orchestration.NOTHING_TO_DO)."""

    exit_code = 99
