# Quick start: `make claims` verifies the findings; `make test` runs the whole suite.
# Both create .venv/ and install the project on first use; ARGS passes options to pytest.
PYTHON ?= python3
TORCH ?= 2.14.1
TORCHVISION ?= 0.29.1
VENV := .venv
INSTALLED := $(VENV)/.installed-torch-$(TORCH)

.PHONY: claims test clean-venv

$(INSTALLED): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet torch==$(TORCH) torchvision==$(TORCHVISION)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-torch-* && touch $@

claims: $(INSTALLED)
	$(VENV)/bin/python -m pytest claims $(ARGS)

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest $(ARGS)

clean-venv:
	rm -rf $(VENV)
