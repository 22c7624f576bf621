# Quick start: `make claims` verifies the findings; `make test` runs the whole suite.
# Both create .venv/ and install the project on first use; ARGS passes options to pytest.
PYTHON ?= python3
TORCH ?= 2.14.1
TORCHVISION ?= 0.29.1
VENV := .venv
INSTALLED := $(VENV)/.installed-torch-$(TORCH)
# more extras beside `test`, e.g. EXTRAS=,study for the seed studies on Ray
EXTRAS ?=

.PHONY: claims test plugin-test bench bench-k4 bench-compare matrix clean-venv

$(INSTALLED): pyproject.toml pytest-claims/pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet torch==$(TORCH) torchvision==$(TORCHVISION)
	$(VENV)/bin/python -m pip install --quiet -e ./pytest-claims  # the plugin first: the project depends on it
	$(VENV)/bin/python -m pip install --quiet -e '.[test$(EXTRAS)]'
	rm -f $(VENV)/.installed-torch-* && touch $@

claims: $(INSTALLED)
	$(VENV)/bin/python -m pytest claims $(ARGS)

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest $(ARGS)

# The plugin's own suite in a venv of its own, without torch or numpy: it depends on pytest alone.
PLUGIN_VENV := .venv-plugin
plugin-test:
	test -x $(PLUGIN_VENV)/bin/python || $(PYTHON) -m venv $(PLUGIN_VENV)
	$(PLUGIN_VENV)/bin/python -m pip install --quiet './pytest-claims[test]'
	cd pytest-claims && ../$(PLUGIN_VENV)/bin/pytest -p no:cacheprovider $(ARGS)

# Benchmarks K1-K4 (benchmarks/, never collected by a plain `pytest`): the JSON, a markdown report with
# median, floor, ratio, target and verdict per row, and a saved copy in the history that --benchmark-compare reads.
BENCH_JSON ?= ci-artifacts/benchmarks.json
BENCH_HISTORY := ci-artifacts/benchmark-history
bench: $(INSTALLED)
	mkdir -p ci-artifacts
	$(VENV)/bin/python -m pytest benchmarks -p no:cacheprovider --benchmark-json=$(BENCH_JSON) \
		--benchmark-storage=$(BENCH_HISTORY) --benchmark-autosave $(ARGS)
	$(VENV)/bin/python benchmarks/report.py $(BENCH_JSON) --out $(BENCH_JSON:.json=.md)

# K4 as a timed `pytest claims` subprocess: several minutes, so not part of `make bench` or CI.
bench-k4: $(INSTALLED)
	$(MAKE) bench ARGS="-k k4 --k4-subprocess $(ARGS)" BENCH_JSON=ci-artifacts/benchmarks-k4.json

# Compare the current JSON with a previous one: make bench-compare PREVIOUS=old/benchmarks.json
bench-compare: $(INSTALLED)
	$(VENV)/bin/pytest-benchmark compare $(PREVIOUS) $(BENCH_JSON) --columns=min,median,max,rounds --sort=name

clean-venv:
	rm -rf $(VENV)

# The torch matrix (tox.ini): every env, or one with ENV=torch291; then the cross-version table.
matrix: $(INSTALLED)
	$(VENV)/bin/python -m pip install --quiet 'tox>=4'
	$(VENV)/bin/tox run $(if $(ENV),-e $(ENV)) -- $(ARGS)
	$(VENV)/bin/pytest-claims compare ci-artifacts/claims-torch*.json --out ci-artifacts/claims-versions.md
