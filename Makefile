# `make run` and `make test` each set up what they need from a clean clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint typecheck suite benchmark clean

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[host,dev]'
	touch $@

# The demo upstream listens on loopback with its own certificate authority, so
# the demo relaxes the destination guard for private networks and trusts it.
run: $(INSTALLED)
	COMPOSITES_ALLOW_PRIVATE_NETWORKS=1 \
	COMPOSITES_CA_BUNDLE=var/demo-certs/ca.pem \
		$(BIN)/python manage.py rundemo

test: lint typecheck suite

lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

suite: $(INSTALLED)
	$(BIN)/pytest --cov --cov-report=term

clean:
	rm -rf $(VENV) node_modules var test-output .coverage .pytest_cache .mypy_cache .ruff_cache
