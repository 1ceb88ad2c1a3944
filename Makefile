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

.PHONY: venv system zoo book test test-quick bench exercises autograde

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
	cd tests/book/browser && npm ci --no-audit --no-fund --silent

# The model zoo (every recipe, every experiment seed, one model per core) and the experiment's
# tables, built once into $(BERTLAB_CACHE) and read by the book, the tests and the course.
zoo: venv
	$(BIN)/python -m bertlab.zoo build --all
	$(BIN)/python -m bertlab.zoo experiment

# The log lets the tests check this very build for warnings instead of building again.
book: venv zoo
	mkdir -p _build
	$(BIN)/jupyter-book build . -W -n --keep-going 2>&1 | tee _build/build.log

# Everything: the package (unit, real model, doctests), data sets, roles, probing, claims,
# information flow, the zoo and diagnose, the book's build, claims and real-browser tests (on the
# build above), and the graded course end to end on the real nbgrader CLI.
test: venv system zoo book
	$(BIN)/python -m pytest

# While working: the tests that need neither the zoo nor the book nor nbgrader (a few minutes).
test-quick: venv
	$(BIN)/python -m pytest -m "not zoo and not book and not course"

bench: venv
	$(BIN)/python bench/core_vs_forward.py

# The course: sync each instructor notebook with its jupytext source, regenerate exercises/.
exercises: venv
	$(BIN)/python scripts/release_exercises.py

# Autograde a class over worker processes, resumably, in the course folder COURSE (nbgrader's
# issue #174): make autograde ASSIGNMENT=01_extract_and_score [WORKERS=2] [COURSE=.]
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
COURSE ?= .
autograde: venv
	$(BIN)/python -m bertlab.course autograde $(ASSIGNMENT) --workers $(WORKERS) --course $(COURSE)
