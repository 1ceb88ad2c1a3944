# The two commands of README.md:  `make book`  and  `make test`.
# Each one does all the set-up on a fresh machine: the virtual environment with the pinned
# packages, and (for the book) the model zoo cache.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Built once per run and shared by every stage that needs it.
export BERTLAB_CACHE ?= $(CURDIR)/.cache/bertlab
export BERTLAB_CLAIMS_DIR ?= $(CURDIR)/_build/claims
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export OMP_NUM_THREADS ?= 2

.PHONY: venv system zoo book test test-zoo test-book test-course bench exercises

$(VENV)/.installed: pyproject.toml requirements/ci.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements/ci.txt torch   # the CPU build on this disk
	$(BIN)/pip install -q -c requirements/ci.txt -e ".[book,course,dev]"
	touch $@

venv: $(VENV)/.installed

# Chromium (Debian's) drives the browser tests; npm brings require.js, d3 and jQuery for BertViz.
system:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	cd tests/browser && npm ci --no-audit --no-fund --silent

zoo: venv
	$(BIN)/python -m bertlab.zoo build --all

# The log lets the tests check this very build for warnings instead of building again.
book: venv zoo
	mkdir -p _build
	$(BIN)/jupyter-book build . -W -n --keep-going 2>&1 | tee _build/build.log

# Every test that does not need the trained model zoo: the package (unit, real model, doctests),
# data sets, roles, probing, claims and information flow. Not yet in it: the book build and its
# browser test, and the zoo's tests (test-zoo), whose 18-model build is not yet within CI's budget.
test: venv
	$(BIN)/python -m pytest -m "not zoo and not book and not course"

# The zoo's and diagnose's tests, after building the zoo (all recipes, every experiment seed).
test-zoo: venv zoo
	$(BIN)/python -m pytest -m zoo

# The book's build, claims-versus-pages and real-browser tests (they reuse _build/build.log).
test-book: venv system book
	$(BIN)/python -m pytest -m book

# The graded course end to end on the real nbgrader CLI.
test-course: venv zoo
	$(BIN)/python -m pytest -m course

bench: venv
	$(BIN)/python bench/core_vs_forward.py

exercises: venv
	$(BIN)/python scripts/release_exercises.py
