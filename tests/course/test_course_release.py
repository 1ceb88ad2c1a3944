"""The course's sources are what instructors edit, and the release gives nothing away.

* each instructor notebook in `solutions/` equals what its paired jupytext source describes, and
  the sources pass pyflakes like any code;
* every graded part of `bertlab.course.assignments` has its answer cell and one test cell that
  only calls ``course.check`` (the notebooks hold no hidden tests: those live in the grader);
* `exercises/` equals a fresh ``nbgrader generate_assignment`` of `solutions/`, byte for byte,
  and holds no solution line, no model answer, but every rubric.

Runtime: about 30-60 s (nbgrader generates the four assignments once).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from bertlab.course.assignments import ASSIGNMENTS, check_cell_id
from bertlab.course.classroom import SOLUTION_REGION, grade_id
from bertlab.course.release import Repository, render

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = Repository(ROOT)
NAMES = tuple(ASSIGNMENTS)


def solution(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(REPOSITORY.notebook_path(assignment), as_version=4)


def exercise(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(REPOSITORY.notebook_path(assignment, REPOSITORY.exercises),
                         as_version=4)


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """The release generated now from the committed solutions, in a temporary folder."""
    target = tmp_path_factory.mktemp("exercises")
    REPOSITORY.release(target)
    return target


@pytest.mark.parametrize("assignment", NAMES)
def test_notebook_is_what_its_paired_source_says(assignment):
    committed = REPOSITORY.notebook_path(assignment).read_text(encoding="utf-8")
    assert committed == render(REPOSITORY.from_source(assignment)), (
        f"solutions/{assignment}: the notebook and its .py source differ. Edit either (jupytext "
        "keeps them paired in Jupyter) and run `make exercises`.")


@pytest.mark.parametrize("assignment", NAMES)
def test_sources_pass_pyflakes(assignment):
    api = pytest.importorskip("pyflakes.api")
    from pyflakes.reporter import Reporter
    import io

    out = io.StringIO()
    problems = api.checkPath(str(REPOSITORY.source_path(assignment)), Reporter(out, out))
    assert problems == 0, out.getvalue()


@pytest.mark.parametrize("assignment", NAMES)
def test_every_part_has_an_answer_and_a_test_cell_that_only_checks(assignment):
    cells = {grade_id(cell): cell for cell in solution(assignment).cells if grade_id(cell)}
    assert len(cells) == sum(1 for cell in solution(assignment).cells if grade_id(cell)), "unique ids"
    for part in ASSIGNMENTS[assignment]:
        assert meta(cells[part.name])["solution"], part.name
        test = cells[check_cell_id(part)]
        assert meta(test)["grade"] and meta(test)["locked"] and meta(test)["points"] > 0
        assert re.fullmatch(rf'course\.check\("{part.name}", [^\n]+\)', test.source), test.source
    tests = [g for g, cell in cells.items() if meta(cell)["grade"] and cell.cell_type == "code"]
    assert sorted(tests) == sorted(check_cell_id(part) for part in ASSIGNMENTS[assignment])
    written = [cell for cell in cells.values() if cell.cell_type == "markdown" and meta(cell)["grade"]]
    assert len(written) == 1 and meta(written[0])["points"] > 0, "one written answer, by hand"


@pytest.mark.parametrize("assignment", NAMES)
def test_notebooks_say_how_they_are_graded_and_how_layers_are_counted(assignment):
    text = "\n".join(cell.source for cell in exercise(assignment).cells if cell.cell_type == "markdown")
    assert "What costs points" in text and "What does not" in text
    if "layer" in text:  # the notebooks that show layers count them like the book, and say so
        assert "counts layers from 1" in text and "0-based" in text
    assert "**Rubric" in text, "the written answer's rubric is shown to students"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", NAMES)
def test_exercises_equal_a_fresh_generation(fresh, assignment):
    new = REPOSITORY.notebook_path(assignment, fresh).read_text(encoding="utf-8")
    committed = REPOSITORY.notebook_path(assignment, REPOSITORY.exercises).read_text(encoding="utf-8")
    assert committed == new, (f"exercises/{assignment} is not what nbgrader generates from "
                              "solutions/: run `make exercises` and commit the result.")


@pytest.mark.parametrize("assignment", NAMES)
def test_release_holds_no_solution_or_model_answer(assignment):
    text = REPOSITORY.notebook_path(assignment, REPOSITORY.exercises).read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{marker!r} left in exercises/{assignment}"
    student = {" ".join(line.split()) for cell in exercise(assignment).cells
               for line in cell.source.splitlines()}
    hidden, shown = set(), set()   # lines of the solutions, and lines the release shows anyway
    for cell in solution(assignment).cells:
        lines = lambda text: {" ".join(line.split()) for line in text.splitlines()}  # noqa: E731
        if cell.cell_type == "markdown" and meta(cell).get("solution"):
            hidden |= lines(cell.source)
            continue
        for region in SOLUTION_REGION.findall(cell.source):
            hidden |= lines("\n".join(region.splitlines()[1:-1]))
        shown |= lines(SOLUTION_REGION.sub("", cell.source))
    leaked = {line for line in (hidden - shown) & student
              if len(line) > 12 and not line.startswith("#")}
    assert not leaked, f"solution lines in exercises/{assignment}: {sorted(leaked)}"


@pytest.mark.parametrize("assignment", NAMES)
def test_the_setup_data_the_checks_name_is_what_the_setup_cell_defines(assignment):
    """The notebook's check warns when a function reads what the setup cell computes (the grader
    runs functions apart from the notebook): its list must be the setup cell's names, neither
    more nor fewer."""
    import ast

    from bertlab.course.assignments import NOTEBOOK_DATA

    defined = set()
    for cell in solution(assignment).cells:
        if cell.cell_type == "code" and meta(cell).get("locked") and not meta(cell).get("grade"):
            for statement in ast.parse(cell.source).body:
                if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    targets = getattr(statement, "targets", None) or [statement.target]
                    defined |= {node.id for target in targets for node in ast.walk(target)
                                if isinstance(node, ast.Name)}
    listed = {NOTEBOOK_DATA[part.name] for part in ASSIGNMENTS[assignment]}
    assert listed == {frozenset(defined)}, (assignment, sorted(defined))
