# ---- orchestration: the Airflow 3 DAG dags/ndrc_nightly.py ---------------------------------
# Local runs keep Airflow's state (SQLite metadata, logs) in data/airflow (ignored by git).
AIRFLOW_LOCAL_HOME ?= $(ROOT)/data/airflow

.PHONY: pipeline airflow-standalone

pipeline: env-airflow env-transform  ## the nightly run once through the Airflow DAG (honours EXAMS_RAW_DIR, EXAMS_WAREHOUSE; FORCE=1 rebuilds even if nothing changed)
	$(VENV)/airflow/bin/exams pipeline $(if $(FORCE),--force)

airflow-standalone: env-airflow env-transform  ## Airflow UI + scheduler on http://localhost:8080 (user admin; password in data/airflow/simple_auth_manager_passwords.json.generated)
	mkdir -p $(AIRFLOW_LOCAL_HOME)
	AIRFLOW_HOME=$(AIRFLOW_LOCAL_HOME) \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$(AIRFLOW_LOCAL_HOME)/airflow.db \
	AIRFLOW__CORE__EXECUTOR=LocalExecutor \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__CORE__DAGS_FOLDER=$(ROOT)/dags \
	AIRFLOW__CORE__PARALLELISM=4 \
	AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin \
	$(VENV)/airflow/bin/airflow standalone
