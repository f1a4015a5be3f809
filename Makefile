# Set-up is part of every target: a fresh clone needs only Python 3.12 and `make`.
PYTHON ?= python3.12
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: verify test

verify: $(STAMP)  ## every model on its seed example, checked against its reference
	$(VENV)/bin/zoo verify --all

test: $(STAMP)    ## the test suite (what CI runs)
	$(VENV)/bin/python -m pytest -q

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)
