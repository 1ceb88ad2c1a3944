"""The committed course is generated, never hand-edited, and the release gives nothing away.

* `solutions/` equals what ``scripts/course_*.py`` write;
* `exercises/` equals a fresh ``nbgrader generate_assignment`` of `solutions/` (volatile metadata
  aside), byte for byte;
* no student notebook holds a solution or hidden-test marker, a line of a solution or of a
  hidden test, a grading rubric, or the name of a hidden zoo recipe.

Runtime: about 20–40 s (nbgrader generates the four assignments once).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from course_notebooks import ASSIGNMENTS, build, render  # noqa: E402
from release_exercises import normalise, release  # noqa: E402

from bertlab.course import COURSE_RECIPES  # noqa: E402

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
HIDDEN_REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)


def solution_path(assignment: str) -> Path:
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def exercise_path(assignment: str) -> Path:
    return ROOT / "exercises" / assignment / f"{assignment}.ipynb"


def hidden_lines(assignment: str) -> set[str]:
    """The lines of solution and hidden-test regions and of the written rubric that appear
    nowhere else in the instructor notebook (a line like ``for letter in models}`` may)."""
    nb = nbformat.read(solution_path(assignment), as_version=4)
    hidden, visible = [], []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            hidden += cell.source.splitlines()
            continue
        hidden += [line for m in HIDDEN_REGION.finditer(cell.source) for line in m.group(2).splitlines()]
        visible += HIDDEN_REGION.sub("", cell.source).splitlines()
    strip = lambda lines: {line.strip() for line in lines if line.strip()}  # noqa: E731
    return {line for line in strip(hidden) - strip(visible) if not line.startswith("#")}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """The release generated now from the committed solutions, in a temporary folder."""
    target = tmp_path_factory.mktemp("exercises")
    release(target, write_sources=False)
    return target


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_are_generated_from_the_course_scripts(assignment):
    committed = solution_path(assignment).read_text(encoding="utf-8")
    assert committed == render(build(assignment)), (
        f"solutions/{assignment} differs from scripts/course_{assignment}.py: edit the script "
        "and run `make exercises`, never the notebook.")


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_equal_a_fresh_generation(fresh, assignment):
    new = fresh / assignment / f"{assignment}.ipynb"
    committed = nbformat.read(exercise_path(assignment), as_version=4)
    assert render(normalise(committed)) == new.read_text(encoding="utf-8"), (
        f"exercises/{assignment} is not what nbgrader generates from solutions/: run "
        "`make exercises` and commit the result.")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_or_hidden_test(assignment):
    text = exercise_path(assignment).read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    sources = "\n".join(cell.source for cell in nb.cells)
    for marker in MARKERS:
        assert marker not in text, f"{marker!r} left in exercises/{assignment}"
    student_lines = {line.strip() for line in sources.splitlines()}
    leaked = hidden_lines(assignment) & student_lines
    assert not leaked, f"Solution or hidden-test lines in exercises/{assignment}: {sorted(leaked)}"


def test_release_hides_the_zoo_recipes():
    text = exercise_path("04_detect_overfit").read_text(encoding="utf-8")
    # "healthy" and "overfit" are verdicts every student reads; the other recipe names are not.
    named = [recipe for recipe in COURSE_RECIPES if "-" in recipe and recipe in text]
    assert not named and "seed0" not in text, named


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_is_graded_in_parts(assignment):
    nb = nbformat.read(solution_path(assignment), as_version=4)
    assert "google.colab" in nb.cells[0].source, "the first cell installs bertlab in Colab"
    meta = [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]
    ids = [m["grade_id"] for m in meta]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    autograded = [m for m in meta if m["grade"] and not m["solution"]]
    by_hand = [m for m in meta if m["grade"] and m["solution"]]
    assert len(autograded) >= 3 and all(m["points"] > 0 for m in autograded)
    assert len(by_hand) == 1, "one written answer graded by hand"
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            assert "BEGIN HIDDEN TESTS" in cell.source, "every test cell has hidden tests"
            assert "bertlab.load(" not in cell.source and "zoo.load" not in cell.source, (
                "test cells must not load models (anything on stderr scores 0)")
