"""Build student submissions from the course notebooks and grade them with the real nbgrader CLI.

Used by tests/course/test_course_e2e.py and bench/autograde_20.py. A submission is the released
student notebook with some answer cells filled in: with the instructor's solution, or with a
realistic mistake (`with_answers`); or tampered with (`without_cell`, `with_cell_source`).
Scores come from nbgrader's gradebook, never from exit codes.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from release_exercises import generate, nbgrader, new_course  # noqa: E402

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n.*?### END SOLUTION\n?", re.DOTALL)


def solution_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answer_ids(nb: nbformat.NotebookNode) -> list[str]:
    """The grade ids of the code cells a student completes, in order."""
    return [grade_id(c) for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("solution")]


def graded_ids(nb: nbformat.NotebookNode) -> list[str]:
    """The grade ids of the autograded test cells, in order."""
    return [grade_id(c) for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("grade")]


def with_answers(released: nbformat.NotebookNode, assignment: str,
                 wrong: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """`released` with every answer cell as in the solution, except those in `wrong`
    (grade id -> code that replaces the solution region, the rest of the cell kept)."""
    solutions = {grade_id(c): c.source for c in solution_notebook(assignment).cells}
    wrong = wrong or {}
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        key = grade_id(cell)
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solutions[key]  # the written answer: the rubric stands in for it
        elif cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            source = solutions[key]
            if key in wrong:
                indent = re.search(r"^( *)### BEGIN SOLUTION", source, re.MULTILINE).group(1)
                body = "".join(indent + line + "\n" for line in wrong[key].strip("\n").split("\n"))
                source = SOLUTION_REGION.sub(lambda _: body, source)
            cell.source = source
    return nb


def with_cell_source(nb: nbformat.NotebookNode, key: str, source: str) -> nbformat.NotebookNode:
    """A copy of `nb` with the whole source of cell `key` replaced (tampering, syntax errors)."""
    copy = nbformat.from_dict(nb)
    for cell in copy.cells:
        if grade_id(cell) == key:
            cell.source = source
    return copy


def without_cell(nb: nbformat.NotebookNode, key: str) -> nbformat.NotebookNode:
    """A copy of `nb` with cell `key` deleted."""
    copy = nbformat.from_dict(nb)
    copy.cells = [c for c in copy.cells if grade_id(c) != key]
    return copy


class Course:
    """A temporary nbgrader course with one assignment released and a class of submissions."""

    def __init__(self, assignment: str, timeout: int):
        self.assignment = assignment
        self.root = new_course()
        with (self.root / "nbgrader_config.py").open("a") as config:
            config.write(f"\nc.Execute.timeout = {timeout}  # the test course: a short limit\n")
        self.released = nbformat.read(generate(self.root, assignment), as_version=4)

    def submit(self, student: str, nb: nbformat.NotebookNode) -> None:
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{self.assignment}.ipynb")

    def autograde(self, timeout: float = 1800) -> str:
        """Grade every submission in one nbgrader call; return its log."""
        result = nbgrader("autograde", self.assignment, "--force", course=self.root,
                          timeout=timeout)
        return result.stdout + result.stderr

    def feedback(self) -> list[Path]:
        """Run generate_feedback; return the HTML files it wrote."""
        nbgrader("generate_feedback", self.assignment, "--force", course=self.root)
        return sorted((self.root / "feedback").glob(f"*/{self.assignment}/*.html"))

    def scores(self) -> dict[str, dict[str, float | None]]:
        """{student: {grade id: auto score}} from the gradebook, for every submission."""
        from nbgrader.api import Gradebook

        table = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            for student in gradebook.students:
                try:
                    notebook = gradebook.find_submission_notebook(
                        self.assignment, self.assignment, student.id)
                except Exception:  # MissingEntry: this student's submission was not graded
                    continue
                table[student.id] = {grade.cell.name: grade.auto_score for grade in notebook.grades}
        return table

    def max_points(self) -> dict[str, float]:
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            notebook = gradebook.find_notebook(self.assignment, self.assignment)
            return {cell.name: cell.max_score for cell in notebook.grade_cells}

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
