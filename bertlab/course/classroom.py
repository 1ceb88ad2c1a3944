"""Course folders, submissions and nbgrader runs: what the release script, the tests and the
benchmarks share (book page: "Instructor guide").

`Course` is a temporary nbgrader course with one assignment generated from `solutions/`; a class
of submissions is made from the released notebook with `with_answers` (the instructor's answers,
or some replaced by a realistic mistake), `with_cell_source` and `without_cell` (tampering).
Scores are read from nbgrader's gradebook, never from exit codes (nbgrader's exit status does
not say whether tests passed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

__all__ = ["SOLUTION_REGION", "run_nbgrader", "course_config", "new_course", "generate", "Course",
           "grade_id",
           "answer_ids", "graded_ids", "with_answers", "with_cell_source", "without_cell",
           "gradebook_scores"]

#: A solution region with the indentation of its first marker line.
SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n.*?### END SOLUTION\n?",
                             re.DOTALL | re.MULTILINE)


def run_nbgrader(*arguments: str, course: Path, timeout: float = 1800,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run this environment's nbgrader CLI in `course` (its helpers, alembic, must be on PATH)."""
    bin_dir = str(Path(sys.executable).parent)
    environment = {**os.environ, **(env or {}),
                   "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([str(Path(bin_dir) / "nbgrader"), *arguments], cwd=course,
                          env=environment, capture_output=True, text=True, timeout=timeout)


def course_config(*, secret_file: Path | None = None, pool: Path | None = None,
                  cell_timeout: int | None = None) -> str:
    """Lines of nbgrader configuration for a course folder (appended to the repository's)."""
    lines = []
    if secret_file is not None:
        lines.append(f"c.JudgedExecute.secret_file = {str(secret_file)!r}")
    if pool is not None:
        lines.append(f"c.JudgedExecute.pool = {str(pool)!r}")
    if cell_timeout is not None:
        lines.append(f"c.Execute.timeout = {cell_timeout}")
    return "\n".join(lines)


def new_course(solutions: Path, config: Path, extra_config: str = "") -> Path:
    """A temporary nbgrader course folder: `config` (plus `extra_config` lines) and a copy of
    `solutions`."""
    course = Path(tempfile.mkdtemp(prefix="bertlab-course-"))
    (course / "nbgrader_config.py").write_text(config.read_text() + "\n" + extra_config + "\n")
    shutil.copytree(solutions, course / "solutions",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return course


def generate(course: Path, assignment: str) -> Path:
    """`nbgrader generate_assignment` for one assignment; the student notebook's path."""
    result = run_nbgrader("generate_assignment", assignment, "--force", course=course)
    released = course / "exercises" / assignment / f"{assignment}.ipynb"
    if result.returncode != 0 or not released.is_file():
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{result.stderr}")
    return released


class Course:
    """A temporary nbgrader course with one assignment generated and a class of submissions."""

    def __init__(self, assignment: str, solutions: Path, config: Path, extra_config: str = ""):
        self.assignment = assignment
        self.root = new_course(solutions, config, extra_config)
        self.released = nbformat.read(generate(self.root, assignment), as_version=4)
        self.solution = nbformat.read(solutions / assignment / f"{assignment}.ipynb", as_version=4)

    def submit(self, student: str, nb: nbformat.NotebookNode) -> None:
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{self.assignment}.ipynb")

    def autograde(self, timeout: float = 3600, env: dict[str, str] | None = None) -> str:
        """Grade every submission in one `nbgrader autograde` call; return its log."""
        result = run_nbgrader("autograde", self.assignment, "--force", course=self.root,
                              timeout=timeout, env=env)
        return result.stdout + result.stderr

    def feedback(self) -> dict[str, str]:
        """Run generate_feedback; return {student: the HTML page}."""
        result = run_nbgrader("generate_feedback", self.assignment, "--force", course=self.root)
        pages = sorted((self.root / "feedback").glob(f"*/{self.assignment}/*.html"))
        if not pages:
            raise RuntimeError(f"generate_feedback wrote no page:\n{result.stderr[-3000:]}")
        return {path.parent.parent.name: path.read_text(encoding="utf-8") for path in pages}

    def scores(self, db: Path | None = None) -> dict[str, dict[str, float | None]]:
        """{student: {grade id: auto score}} for every graded submission."""
        return gradebook_scores(db or self.root / "gradebook.db", self.assignment)

    def max_points(self) -> dict[str, float]:
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            notebook = gradebook.find_notebook(self.assignment, self.assignment)
            return {cell.name: cell.max_score for cell in notebook.grade_cells}

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def gradebook_scores(db: Path, assignment: str) -> dict[str, dict[str, float | None]]:
    """{student: {grade id: auto score}} from the gradebook at `db`, for every graded submission
    of `assignment` (a notebook named like the assignment)."""
    from nbgrader.api import Gradebook, MissingEntry

    table = {}
    with Gradebook(f"sqlite:///{db}") as gradebook:
        for student in gradebook.students:
            try:
                notebook = gradebook.find_submission_notebook(assignment, assignment, student.id)
            except MissingEntry:  # this student's submission was not graded
                continue
            table[student.id] = {grade.cell.name: grade.auto_score for grade in notebook.grades}
    return table


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


def with_answers(released: nbformat.NotebookNode, solution: nbformat.NotebookNode,
                 wrong: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """`released` with every answer cell as in `solution`, except those in `wrong` (grade id ->
    code that replaces the solution region, the rest of the cell kept; or, for a cell without
    one, the whole cell). The written answer gets the instructor's model answer."""
    solutions = {grade_id(c): c.source for c in solution.cells}
    wrong = wrong or {}
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        key = grade_id(cell)
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        source = solutions[key]
        if key in wrong and SOLUTION_REGION.search(source):
            indent = re.search(r"^( *)### BEGIN SOLUTION", source, re.MULTILINE).group(1)
            body = "".join(indent + line + "\n" for line in wrong[key].strip("\n").split("\n"))
            source = SOLUTION_REGION.sub(lambda _: body, source)
        elif key in wrong:
            source = wrong[key]
        cell.source = _without_markers(source)
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


def _without_markers(source: str) -> str:
    """The solution's code as a student would hand it in: the marker lines removed."""
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
