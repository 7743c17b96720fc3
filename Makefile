# `make run` and `make test` each set up what they need from a clean clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
# Where `make run` serves the platform and the demo upstream API.
ADDRPORT ?= 127.0.0.1:8000
UPSTREAM_PORT ?= 8443

.PHONY: run test lint typecheck suite benchmark clean

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[host,dev]'
	touch $@

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The demo upstream listens on loopback with its own certificate authority, so
# the demo relaxes the destination guard for private networks and trusts it.
run: $(INSTALLED)
	COMPOSITES_ALLOW_PRIVATE_NETWORKS=1 \
	COMPOSITES_CA_BUNDLE=var/demo-certs/ca.pem \
		$(BIN)/python manage.py rundemo $(ADDRPORT) --upstream-port $(UPSTREAM_PORT)

test: lint typecheck suite

lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/mypy
	npm run --silent typecheck

suite: $(INSTALLED) $(NODE_INSTALLED)
	npm run --silent test:sdk
	$(BIN)/pytest --cov --cov-report=term

benchmark: $(INSTALLED)
	$(BIN)/python benchmarks/bench_execute.py --gunicorn

clean:
	rm -rf $(VENV) node_modules var test-output .coverage .pytest_cache .mypy_cache .ruff_cache
