"""Nightly BTS NDRC results pipeline: ingest → transform → check → publish → extracts.

Each stage is the transform environment's `exams <stage>` command (see exams.orchestration);
this file only wires schedule, tasks and assets. The stages run one after the other: each one
writes a DuckDB file, and DuckDB takes one writer at a time. A night with no new or changed
export stops after ingest. Trigger with {"session": "2025"} to rebuild one session on demand.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Asset, Param, chain, dag, task

from exams import orchestration as orch

RESULTS = Asset(name="ndrc_results", uri="duckdb://warehouse/results")
EXTRACTS = Asset(name="ndrc_extracts", uri="file://extracts/ndrc")
OUTLETS = {"publish": [RESULTS], "extracts": [EXTRACTS]}


@dag(
    dag_id=orch.DAG_ID,
    schedule=orch.SCHEDULE,
    start_date=pendulum.datetime(2025, 1, 1, tz=orch.TIMEZONE),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    default_args=orch.retry_policy(),
    params={
        "session": Param(
            None,
            type=["null", "string"],
            pattern=r"^[0-9]{4}$",
            description="Optional session (e.g. 2025) to rebuild even if no export changed.",
        )
    },
    tags=["ndrc", "warehouse"],
    doc_md=__doc__,
)
def ndrc_nightly() -> None:
    env = {**orch.stage_env(), "EXAMS_SESSION": "{{ params.session or '' }}"}
    stages = {
        s.name: BashOperator(
            task_id=s.name,
            bash_command=orch.stage_command(s.name),
            env=env,
            append_env=True,
            cwd=str(orch.REPO_ROOT),
            skip_on_exit_code=None,
            execution_timeout=s.timeout,
            outlets=OUTLETS.get(s.name, []),
        )
        for s in orch.STAGES
    }

    @task.short_circuit(execution_timeout=pendulum.duration(minutes=1))
    def data_changed(ingest_report: str | None, params: dict | None = None) -> bool:
        return orch.should_rebuild(ingest_report, (params or {}).get("session"))

    gate = data_changed(stages["ingest"].output)  # ingest's last stdout line: its JSON report
    chain(stages["ingest"], gate, *(stages[name] for name in orch.STAGE_NAMES[1:]))


ndrc_nightly()
