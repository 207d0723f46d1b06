# deepguard: `make demo` and `make test` work on a fresh Debian machine with Python 3.11.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit sysdeps bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# System packages used by tests and benchmarks: exiftool (an independent reader)
# and Chromium (renders the HTML report for the screenshot test). Optional for
# the library itself; skipped when not root or when already present.
sysdeps:
	@bash scripts/install-sysdeps.sh

demo: $(STAMP)
	$(VENV)/bin/deepguard demo --out demo-out

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -n 2 -q

test: $(STAMP) sysdeps lint typecheck unit

bench: $(STAMP) sysdeps
	$(PY) bench/scan_throughput.py

clean:
	rm -rf $(VENV) demo-out bench/out .pytest_cache .mypy_cache .ruff_cache
