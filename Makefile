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
# torch puts tensors of 2 MB and more on transparent huge pages: far fewer page faults when the
# zoo's trainer allocates each step's 47 MB embedding gradient (a training step about 10 % faster,
# the same weights bit for bit; bench/ZOO_RESULTS.md).
export THP_MEM_ALLOC_ENABLE ?= 1
# Each stage says how long it took and the CPU time it used ("stage zoo: 412 s, cpu 790 s"; cpu
# near the wall time means one core busy, near twice it both), so a CI log shows where the
# minutes go.
timed = TIMEFORMAT="stage $(1): %0R s, cpu %0U s user + %0S s sys"; time

.PHONY: venv assets vendor system zoo book book-en book-ja locale test test-quick bench exercises autograde

$(VENV)/.installed: pyproject.toml requirements/ci.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(call timed,venv torch) $(BIN)/pip install -q -c requirements/ci.txt torch   # the CPU build on this disk
	$(call timed,venv packages) $(BIN)/pip install -q -c requirements/ci.txt -e ".[book,course,dev]"
	touch $@

venv: $(VENV)/.installed

# What the site ships instead of loading it from a CDN (MathJax, the Noto Sans JP font, BertViz's
# d3 and jQuery), pinned in package-lock.json; book/_ext/offline_site.py copies it into _static.
node_modules/.package-lock.json: package.json package-lock.json
	$(call timed,assets npm) npm ci --no-audit --no-fund --silent

assets: node_modules/.package-lock.json

# The copies of d3, jQuery and the font that the Python package carries (bertlab/assets, with
# their licences), refreshed from npm; run after changing package.json, and commit the result.
vendor: venv assets
	$(BIN)/python scripts/vendor_assets.py

# Chromium (Debian's) drives the browser tests.
system: assets
	$(call timed,system chromium) { command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium); }

# The model zoo (every recipe, every experiment seed, one model per core) and the experiment's
# tables, built once into $(BERTLAB_CACHE) and read by the book, the tests and the course. One
# command does both: each worker measures a model right after building it.
zoo: venv
	$(call timed,zoo) $(BIN)/python -m bertlab.zoo experiment

# Both editions of the book (book/_ext/editions.py): English in _build/html, Japanese in
# _build/html/ja. The logs let the tests check these very builds for warnings instead of
# building again.
book: book-en book-ja

# The English edition: executes every chapter once; the execution cache keeps the results.
book-en: venv assets zoo
	mkdir -p _build
	$(call timed,book-en) $(BIN)/jupyter-book build . -W -n --keep-going 2>&1 | tee _build/build.log

# The Japanese edition: Sphinx's own i18n route (JB1 passes no -D to Sphinx): the configuration
# `jupyter-book config sphinx .` writes from _config.yml (conf.py, not committed), then
# sphinx-build with language=ja: prose from locale/ja, every chapter's outputs from the English
# build's execution cache. It executes nothing (the editions extension stops it if it would).
JA := _build/ja
book-ja: venv assets
	$(BIN)/jupyter-book config sphinx . >/dev/null
	rm -rf $(JA)   # from scratch (20 s): every page read again from the English execution cache
	$(call timed,book-ja) env PYTHONPATH=book/_ext $(BIN)/sphinx-build -b html -D language=ja \
	    -D nb_execution_cache_path=$(CURDIR)/_build/.jupyter_cache -d $(JA)/.doctrees \
	    -W -n --keep-going . $(JA)/html 2>&1 | tee _build/build-ja.log
	rm -rf _build/html/ja && cp -r $(JA)/html _build/html/ja

# The translation catalogues, after the English prose changed: Sphinx's gettext builder with
# execution off (no computed output can become an entry), then sphinx-intl: new paragraphs
# arrive untranslated, changed ones fuzzy with their old translation (locale/ja/LC_MESSAGES).
# -Q: the glue roles have nothing to show with execution off, and say so.
locale: venv assets
	$(BIN)/jupyter-book config sphinx . >/dev/null
	PYTHONPATH=book/_ext $(BIN)/sphinx-build -b gettext -Q -D nb_execution_mode=off . _build/gettext
	$(BIN)/sphinx-intl update -p _build/gettext -l ja -d locale
	-$(BIN)/sphinx-intl stat -d locale -l ja   # lists what is left to translate

# Everything: the package (unit, real model, doctests), data sets, roles, probing, claims,
# information flow, the zoo and diagnose, the book's build, claims and real-browser tests (on the
# build above), and the graded course end to end on the real nbgrader CLI.
# Two test processes (pytest-xdist), a file at a time (a file's fixtures are built once), in the
# order tests/conftest.py gives: the course's end-to-end grading, the longest file, starts at once
# in one process while the other runs everything else; one process left a core idle most of the
# time. --durations: the slowest tests, for whoever next makes CI faster.
TEST_PROCESSES ?= 2
test: venv system zoo book
	$(call timed,pytest) $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile \
	    --no-loadscope-reorder --durations=15

# While working: the tests that need neither the zoo nor the book nor nbgrader (a few minutes).
test-quick: venv
	$(BIN)/python -m pytest -m "not zoo and not book and not course"

bench: venv
	$(BIN)/python -m bench.core_vs_forward

# The course: sync each instructor notebook with its jupytext source, regenerate exercises/.
exercises: venv
	$(BIN)/python scripts/release_exercises.py

# Autograde a class over worker processes, resumably, in the course folder COURSE (nbgrader's
# issue #174): make autograde ASSIGNMENT=01_extract_and_score [WORKERS=2] [COURSE=.]
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
COURSE ?= .
autograde: venv
	$(BIN)/python -m bertlab.course autograde $(ASSIGNMENT) --workers $(WORKERS) --course $(COURSE)
