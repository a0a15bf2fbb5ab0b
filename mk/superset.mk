# ---- Superset (dashboards on the published warehouse) -------------------------------------
# Superset's home (SQLite metadata, secret key, generated admin password, request log; private:
# 0700/0600): $(SUPERSET_HOME), default data/superset/. The admin password is
# SUPERSET_ADMIN_PASSWORD, or generated once and printed. Outside EXAMS_MODE=demo/test,
# SUPERSET_SECRET_KEY is required. Roles and row-level security: dashboards/security.yaml,
# applied by superset-setup and superset-import. Every command: `exams superset --help`.
SUPERSET_PORT ?= 8088
export SUPERSET_PORT
SUPERSET_EXAMS := $(VENV)/superset/bin/exams superset

.PHONY: superset-setup superset-import serve analyst

superset-setup: env-superset  ## Superset: metadata, admin user, dashboards and access imported (idempotent)
	cd $(ROOT) && $(SUPERSET_EXAMS) setup

superset-import: env-superset  ## re-import dashboards/ into Superset (overwrite) and re-apply security.yaml
	cd $(ROOT) && $(SUPERSET_EXAMS) build

serve: env-superset  ## Superset alone on the published warehouse, port SUPERSET_PORT (8088), foreground
	cd $(ROOT) && $(SUPERSET_EXAMS) serve

# No password on make's command line (ps, shell history): SUPERSET_ANALYST_PASSWORD from the
# environment, else asked twice on a terminal, else generated and printed once.
analyst: env-superset  ## rectorat analyst account: make analyst ACADEMY=10 USERNAME=jdupont (idempotent)
	@test -n "$(ACADEMY)" -a -n "$(USERNAME)" || { echo "usage: make analyst ACADEMY=10 USERNAME=jdupont" >&2; exit 2; }
	@cd $(ROOT) && $(SUPERSET_EXAMS) analyst --academy '$(ACADEMY)' --username '$(USERNAME)'
