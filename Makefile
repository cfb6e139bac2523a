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

# Three pytest-xdist workers (most tests wait on PostgreSQL, Prisma, Prefect: 3 beat 2 on 2 cores), one
# test file each at a time (module fixtures stay per file), files in collection order (the conftest puts
# files with slow tests first); tests marked serial run alone (tests/parallel_support.py).
# A plain `pytest` runs everything in one process.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n 3 --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) .demo
