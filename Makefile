# Two commands do everything (see README "Quick start"):
#   make demo   set up, load the demo hospitals into SQLite, serve on http://127.0.0.1:8080/fhir
#   make test   set up, start PostgreSQL and install Chromium if needed, lint, type-check and run the whole test suite
VENV ?= .venv
PYTHON ?= python3
PORT ?= 8080
DATA ?= var

.PHONY: demo test lint typecheck pytest

$(VENV)/bin/pip:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

# the service and the demo data generator
$(VENV)/.installed-run: pyproject.toml $(VENV)/bin/pip
	$(VENV)/bin/pip install -q -e '.[cpu,demo]'
	touch $@

# plus the test tools and the model-training packages (the tests re-derive every model's metrics)
$(VENV)/.installed-test: pyproject.toml $(VENV)/bin/pip
	$(VENV)/bin/pip install -q -e '.[cpu,demo,dev,train]'
	touch $@

demo: $(VENV)/.installed-run
	$(VENV)/bin/ehr demo --data-dir $(DATA)
	$(VENV)/bin/ehr serve --dev --data-dir $(DATA) --port $(PORT) --workers 2

test: $(VENV)/.installed-test
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 2 -q
