# Set-up is part of every target: a fresh clone needs only Python 3.12 and `make`.
PYTHON ?= python3.12
VENV := .venv
STAMP := $(VENV)/.installed
NEEDS_312 := import sys; sys.exit(sys.version_info < (3, 12))

.PHONY: verify test

verify: $(STAMP)  ## every model on its seed example, checked against its reference
	$(VENV)/bin/zoo verify --all

test: $(STAMP)    ## the test suite (what CI runs): two workers, one test file each at a time
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile

# A Python older than 3.12 is refused before anything is made; a venv left by one is replaced.
$(STAMP): pyproject.toml
	@$(PYTHON) -c '$(NEEDS_312)' || { echo "make: the zoo needs Python 3.12 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1) (say PYTHON=python3.12)" >&2; exit 2; }
	@if [ -x $(VENV)/bin/python ] && ! $(VENV)/bin/python -c '$(NEEDS_312)'; then echo "make: $(VENV) holds an older Python; making it again"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)
