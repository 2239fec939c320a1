# Knoten: `make run` sets up and starts the service, `make test` sets up and runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The slowest tests are listed after every run, to keep the suite well under its time budget.
PYTEST_ARGS ?= --durations=30
RUN_DEBS := ffmpeg fonts-dejavu-core
TEST_DEBS := $(RUN_DEBS) chromium nginx libnginx-mod-rtmp procps nodejs prometheus postgresql

.PHONY: run test bench lint setup setup-test debs debs-test js-test clean

run: setup debs
	$(BIN)/knoten serve

test: setup-test debs-test js-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Third-party JS test clients (axe-core, hls.js, ical.js …) from the committed package-lock.json.
js-test: tests/js/node_modules/.installed

tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	@# Debian's nodejs needs its npm package; NodeSource's nodejs brings npm and conflicts with it.
	@command -v npm >/dev/null || scripts/ensure-debian-packages.sh npm
	cd tests/js && npm ci --no-audit --no-fund --silent
	touch $@

bench: setup-test debs-test
	$(BIN)/python -m bench

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: $(BIN)/.installed
setup-test: $(BIN)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(BIN)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(BIN)/.installed

debs:
	@scripts/ensure-debian-packages.sh $(RUN_DEBS)

debs-test:
	@scripts/ensure-debian-packages.sh $(TEST_DEBS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts tests/js/node_modules
