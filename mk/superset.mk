# ---- Superset (dashboards on the published warehouse) -------------------------------------
# Superset's home (SQLite metadata, secret key, generated admin password): $(SUPERSET_HOME),
# default data/superset/. The admin password is SUPERSET_ADMIN_PASSWORD, or generated once and
# printed. Outside EXAMS_MODE=demo/test, SUPERSET_SECRET_KEY is required. Roles and row-level
# security: dashboards/security.yaml, applied by superset-setup and superset-import.
SUPERSET_PORT ?= 8088
export SUPERSET_PORT
SUPERSET_APP := $(VENV)/superset/bin/python -m exams.superset_app

.PHONY: superset-setup superset-import serve analyst

superset-setup: env-superset  ## Superset: metadata, admin user, dashboards and access imported (idempotent)
	cd $(ROOT) && $(SUPERSET_APP) setup

superset-import: env-superset  ## re-import dashboards/ into Superset (overwrite) and re-apply security.yaml
	cd $(ROOT) && $(SUPERSET_APP) build

serve: env-superset  ## Superset alone on the published warehouse, port SUPERSET_PORT (8088), foreground
	cd $(ROOT) && $(SUPERSET_APP) serve

# The password goes through the environment, never on a command line (ps) nor echoed by make;
# without PASSWORD a new account gets a generated one (printed), an existing one keeps its own.
analyst: export SUPERSET_ANALYST_PASSWORD = $(PASSWORD)
analyst: env-superset  ## rectorat analyst account: make analyst ACADEMY=10 USERNAME=jdupont PASSWORD=… (idempotent)
	@test -n "$(ACADEMY)" -a -n "$(USERNAME)" || { echo "usage: make analyst ACADEMY=10 USERNAME=jdupont PASSWORD=…" >&2; exit 2; }
	@cd $(ROOT) && $(SUPERSET_APP) analyst --academy '$(ACADEMY)' --username '$(USERNAME)'
