# ---- Superset (dashboards on the published warehouse) -------------------------------------
# Superset's home (SQLite metadata, secret key, generated admin password): $(SUPERSET_HOME),
# default data/superset/. The admin password is SUPERSET_ADMIN_PASSWORD, or generated once and
# printed. Outside EXAMS_MODE=demo/test, SUPERSET_SECRET_KEY is required.
SUPERSET_PORT ?= 8088
export SUPERSET_PORT
SUPERSET_APP := $(VENV)/superset/bin/python -m exams.superset_app

.PHONY: superset-setup superset-import serve

superset-setup: env-superset  ## Superset: metadata, admin user, dashboards imported (idempotent)
	cd $(ROOT) && $(SUPERSET_APP) setup

superset-import: env-superset  ## re-import dashboards/ into Superset (overwrite)
	cd $(ROOT) && $(SUPERSET_APP) build

serve: env-superset  ## Superset alone on the published warehouse, port SUPERSET_PORT (8088), foreground
	cd $(ROOT) && $(SUPERSET_APP) serve
