"""Every module, file and make target that a docstring, comment or page names exists.

A reader who follows a pointer ("see `bertlab.flow.batches`", "`make test-zoo`",
"requirements/constraints.txt") and finds nothing stops trusting the pointers. This scans the
tracked sources and pages for three kinds of pointer written in backticks:

* ``make <target>``: a target of the Makefile;
* a path (in backticks or not): under one of the repository's top folders (``tests/unit``,
  ``bench/RESULTS.md``, ``book/intro`` for a page), or a file name with an ending
  (``DESIGN.md``): it exists, from the repository root or the naming file's folder (or, for
  ``../shared/...``, beside the repository); a bare file name is found when some file of the
  repository has that name;
* a dotted name ``bertlab.x.y``: a module, or an attribute of one, that imports.
"""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = (".py", ".md", ".yml", ".yaml", ".toml", ".cfg", ".txt")
TOP_FOLDERS = ("bertlab", "tests", "bench", "scripts", "book", "solutions", "exercises",
               "requirements", "locale")
MAKE = re.compile(r"`make ([a-z][\w-]*)")
PATH = re.compile(r"(?<![\w/.-])((?:\.\./shared/|(?:" + "|".join(TOP_FOLDERS) + r")/)[\w./-]*[\w/]"
                  r"|[\w-]+\.(?:py|md|txt|toml|yml|json|csv|cfg))(?![\w/-])")
# Files that the code writes (into caches, course folders or build output), or that belong to
# other tools, named as such: they are not in the repository.
WRITTEN_OR_FOREIGN = {"history.json", "recipe.json", "grades.csv", "myst.yml", "node_modules",
                      "LICENSE.txt",
                      "conf.py",                                  # jupyter-book config sphinx
                      "config.json", "tokenizer.json", "tokenizer_config.json",  # a saved model
                      "pool.json", "cases.json", "reference_models.csv"}         # a course folder
# How a page or module is named without its ending (a table of contents entry, a doc link).
ENDINGS = ("", ".md", ".py", ".ipynb")
DOTTED = re.compile(r"`(bertlab(?:\.\w+)+)")


def tracked_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    this = Path(__file__).resolve().relative_to(ROOT).as_posix()     # its examples name nothing
    return [ROOT / name for name in names
            if (name.endswith(SCANNED) or name == "Makefile") and name != this]


def pointers(pattern: re.Pattern) -> list[tuple[str, str]]:
    found = []
    for path in tracked_files():
        for match in pattern.finditer(path.read_text(errors="replace")):
            found.append((str(path.relative_to(ROOT)), match.group(1)))
    return sorted(set(found))


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE))


def test_every_make_target_named_exists():
    targets = make_targets()
    missing = [(where, target) for where, target in pointers(MAKE) if target not in targets]
    assert not missing, f"`make <target>` names a target the Makefile lacks: {missing}"


def resolves(path: str, where: str, names: set[str]) -> bool:
    path = path.rstrip("/.")
    if Path(path).name in WRITTEN_OR_FOREIGN or path.endswith("_") or "/" not in path and path in names:
        return True
    bases = [ROOT, ROOT.parent, (ROOT / where).parent]
    return any((base / path.removeprefix("../")).with_name(Path(path).name + ending).exists()
               or (base / path).with_name(Path(path).name + ending).exists()
               for base in bases for ending in ENDINGS)


def test_every_path_named_exists():
    names = {Path(name).name for name in subprocess.run(["git", "ls-files"], cwd=ROOT, text=True,
                                                        capture_output=True, check=True).stdout.split()}
    # A test's own bare file names ("a.py" in a package it builds in tmp_path) name nothing.
    missing = [(where, path) for where, path in pointers(PATH)
               if not any(ch in path for ch in "*<{") and not resolves(path, where, names)
               and not ("/" not in path and where.startswith("tests/"))]
    assert not missing, f"these files or folders are named but do not exist: {missing}"


def importable(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_bertlab_name_named_exists():
    missing = [(where, name) for where, name in pointers(DOTTED) if not importable(name)]
    assert not missing, f"these bertlab names are mentioned but do not exist: {missing}"


@pytest.mark.parametrize("text, found", [
    ("run `make test-zoo` first", ["test-zoo"]),
    ("see `bertlab.flow.batches` and `bertlab/flow/batches.py`", ["bertlab.flow.batches"]),
])
def test_the_scanner_finds_pointers(text, found):
    matches = MAKE.findall(text) or DOTTED.findall(text)
    assert matches == found
    assert PATH.findall("see `bertlab/flow/batches.py`") == ["bertlab/flow/batches.py"]
    assert not importable("bertlab.flow.batches") and importable("bertlab.roles.STRONG_SHARE")
