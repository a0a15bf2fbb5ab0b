"""Nightly BTS NDRC results pipeline: ingest → transform → check → publish → extracts.

Each stage is the transform environment's `exams <stage>` command (see exams.orchestration);
this file only wires schedule, tasks and assets. The stages run one after the other, as one run
(EXAMS_RUN_ID = the DAG run's id) under the platform's run lock: the first task takes it (if
another run holds it, this run fails at once and touches nothing) and the last releases it
whatever happened (a setup/teardown pair). A night with no new or changed export skips transform, check and publish
(exit status 99: nothing to do); extracts always runs and verifies the extracts against the
publication. Trigger with {"force_rebuild": true} to rebuild and republish anyway.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Asset, Param, chain, dag

from exams import orchestration as orch

RESULTS = Asset(name="ndrc_results", uri="duckdb://warehouse/results")
EXTRACTS = Asset(name="ndrc_extracts", uri="file://extracts/ndrc")
OUTLETS = {"publish": [RESULTS], "extracts": [EXTRACTS]}
ALWAYS = {"extracts": "none_failed"}  # runs when the rebuild stages were skipped


@dag(
    dag_id=orch.DAG_ID,
    schedule=orch.SCHEDULE,
    start_date=pendulum.datetime(2025, 1, 1, tz=orch.TIMEZONE),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    default_args=orch.retry_policy(),
    params={
        "force_rebuild": Param(
            False, type="boolean",
            description="Rebuild and republish even if no export, code or key changed.",
        )
    },
    tags=["ndrc", "warehouse"],
    doc_md=__doc__,
)  # fmt: skip
def ndrc_nightly() -> None:
    env = {
        **orch.stage_env(),
        "EXAMS_RUN_ID": "{{ run_id }}",
        "EXAMS_FORCE_REBUILD": "{{ 'true' if params.force_rebuild else 'false' }}",
    }
    lock_options = {"env": env, "append_env": True, "cwd": str(orch.settings.REPO_ROOT),
                    "execution_timeout": pendulum.duration(minutes=1)}  # fmt: skip
    acquire = BashOperator(
        task_id="acquire_lock",
        bash_command=orch.command("acquire-lock", "--run-id", "{{ run_id }}"),
        **lock_options,
    ).as_setup()
    stages = [
        BashOperator(
            task_id=s.name,
            bash_command=orch.stage_command(s.name),
            env=env,
            append_env=True,
            cwd=str(orch.settings.REPO_ROOT),
            skip_on_exit_code=orch.NOTHING_TO_DO,
            execution_timeout=s.timeout,
            trigger_rule=ALWAYS.get(s.name, "all_success"),
            outlets=OUTLETS.get(s.name, []),
            doc_md=s.help,
        )
        for s in orch.STAGES
    ]
    release = BashOperator(
        task_id="release_lock",
        bash_command=orch.command("release-lock", "--run-id", "{{ run_id }}"),
        retries=0,
        **lock_options,
    ).as_teardown(setups=acquire)
    chain(acquire, *stages, release)


ndrc_nightly()
