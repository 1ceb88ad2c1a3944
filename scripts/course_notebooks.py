"""Write the instructor notebooks ``solutions/<assignment>/<assignment>.ipynb`` of the graded course.

Each assignment is written as Python, in ``scripts/course_<nn>_<name>.py`` (a list of cells made
with the builders below), because a Python file diffs and reviews better than notebook JSON.
`solutions/` is generated from those files; `exercises/` is generated from `solutions/` by
nbgrader (``scripts/release_exercises.py`` does both). Edit the ``course_*.py`` files, never
the notebooks. Book page: "Instructor guide".

The builders set nbgrader's cell metadata (schema 3):

===========  ======  ========  ======  ==============================================
builder      grade   solution  locked  what nbgrader does with it
===========  ======  ========  ======  ==============================================
`readonly`   False   False     True    restored from the gradebook before grading
`answer`     False   True      False   solution region replaced by a stub on release
`tests`      True    False     True    scored (`points`); hidden tests removed on release
`written`    True    True      False   graded by hand in formgrader (`points`)
===========  ======  ========  ======  ==============================================

    .venv/bin/python scripts/course_notebooks.py     # rewrite solutions/ only
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
#: The assignments, in course order; each is also the module ``scripts/course_<name>.py``.
ASSIGNMENTS = ("01_extract_and_score", "02_layer_roles", "03_sep_boundaries", "04_detect_overfit")

#: The first cell of every notebook: installs bertlab in Colab, does nothing anywhere else.
COLAB_INSTALL = '''\
import sys
if "google.colab" in sys.modules:  # Colab: install bertlab; elsewhere do nothing
    %pip install -q "bertlab @ git+https://github.com/bertlab/bertlab"'''


def markdown(text: str) -> nbformat.NotebookNode:
    """A plain markdown cell (instructions)."""
    return nbformat.v4.new_markdown_cell(_clean(text))


def explore(source: str) -> nbformat.NotebookNode:
    """A plain code cell the student may change freely; it is never graded."""
    return nbformat.v4.new_code_cell(_clean(source))


def readonly(source: str, grade_id: str) -> nbformat.NotebookNode:
    """A locked code cell: set-up and visible checks that grading restores if edited."""
    return _cell(nbformat.v4.new_code_cell, source, grade_id, grade=False, solution=False,
                 locked=True)


def answer(source: str, grade_id: str) -> nbformat.NotebookNode:
    """A code cell the student completes; ``### BEGIN/END SOLUTION`` marks what is removed."""
    return _cell(nbformat.v4.new_code_cell, source, grade_id, grade=False, solution=True,
                 locked=False)


def tests(source: str, grade_id: str, points: int) -> nbformat.NotebookNode:
    """An autograded test cell worth `points`; ``### BEGIN/END HIDDEN TESTS`` marks hidden tests."""
    return _cell(nbformat.v4.new_code_cell, source, grade_id, grade=True, solution=False,
                 locked=True, points=points)


def written(rubric: str, grade_id: str, points: int) -> nbformat.NotebookNode:
    """A markdown answer graded by hand; the instructor's version holds the grading rubric,
    the student's version reads "YOUR ANSWER HERE"."""
    return _cell(nbformat.v4.new_markdown_cell, rubric, grade_id, grade=True, solution=True,
                 locked=False, points=points)


def notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """A Python 3 notebook: the Colab install cell, then `cells`."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [explore(COLAB_INSTALL), *cells]
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                  "name": "python3"},
                   "language_info": {"name": "python"}}
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:02d}"  # stable ids: regeneration is byte-identical
    nbformat.validate(nb)
    return nb


def build(assignment: str) -> nbformat.NotebookNode:
    """The instructor notebook of one assignment, from ``scripts/course_<assignment>.py``."""
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"Unknown assignment {assignment!r}; the course has {ASSIGNMENTS}.")
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        module = importlib.import_module(f"course_{assignment}")
    finally:
        sys.path.remove(str(Path(__file__).parent))
    return notebook(module.cells())


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as the exact text written to disk (one form, so comparisons are exact)."""
    return nbformat.writes(nb) + "\n"


def write_solutions(root: Path = SOLUTIONS) -> list[Path]:
    """Write every assignment's instructor notebook under `root`; return the paths."""
    paths = []
    for assignment in ASSIGNMENTS:
        path = root / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(build(assignment)), encoding="utf-8")
        paths.append(path)
    return paths


def _cell(new_cell, source: str, grade_id: str, **nbgrader) -> nbformat.NotebookNode:
    cell = new_cell(_clean(source))
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "task": False,
                                 **nbgrader}
    return cell


def _clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


if __name__ == "__main__":
    for written_path in write_solutions():
        print(written_path.relative_to(ROOT))
