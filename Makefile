# deepguard: `make demo` and `make test` work on a fresh Debian machine with Python 3.11.
PYTHON ?=
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit sysdeps bench clean

$(STAMP): pyproject.toml
	PYTHON="$(PYTHON)" bash scripts/bootstrap-venv.sh $(VENV)
	touch $(STAMP)

# Debian packages (scripts/install-sysdeps.sh): the CJK font and OpenCV's
# libraries for explicit labels, espeak-ng, and the independent readers tests
# compare against (exiftool, ffprobe, Chromium). Skipped when not root or
# when already present.
sysdeps:
	@bash scripts/install-sysdeps.sh

demo: $(STAMP) sysdeps
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
	$(PY) bench/labels.py
	$(PY) bench/explicit_labels.py
	$(PY) bench/audio_cue.py
	$(PY) bench/c2pa_sign.py
	$(PY) bench/watermark.py
	$(PY) bench/likeness.py

clean:
	rm -rf $(VENV) demo-out bench/out .pytest_cache .mypy_cache .ruff_cache
