# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test install clean

$(VENV)/.installed: requirements.txt requirements-dev.txt indexer/requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Relais needs Python 3.11 ($(PYTHON))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed frontend/dist/relais-widget.js

## The web widget: TypeScript built with npm; the build fails over its gzipped size budget.
frontend/dist/relais-widget.js: frontend/package.json frontend/package-lock.json frontend/vite.config.ts $(wildcard frontend/src/*.ts)
	cd frontend && npm ci --no-audit --no-fund && npm run build

## Run Relais on the embedded profile with demo data; prints the URL and a sign-in token.
run: install
	$(PY) -m chalicelib serve --demo

## Run every test (starts what the tests need).
test: install
	command -v chromium >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	scripts/test

clean:
	rm -rf $(VENV) var
