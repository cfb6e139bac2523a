# Two commands on a fresh clone:  make demo   (the main job)   and   make test   (the test suite).
# Both create .venv on first use (uv, prefect 3.9 with the certifi override; see README).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml .ci/overrides.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --compile-bytecode \
		--override .ci/overrides.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/migration-guard demo

# Two pytest-xdist workers, one test file each at a time (module fixtures stay per file); tests marked
# serial run alone (tests/parallel_support.py). A plain `pytest` runs everything in one process.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) .demo
