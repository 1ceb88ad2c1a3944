"""Regenerate the course: `solutions/` from ``scripts/course_*.py``, then `exercises/` from
`solutions/` with nbgrader. Never edit `exercises/` by hand. Book page: "Instructor guide".

    .venv/bin/python scripts/release_exercises.py          # what `make exercises` runs

nbgrader runs in a temporary course directory (its gradebook and logs stay out of the
repository); the student notebooks it writes are normalised (`normalise`) and copied into
`exercises/<assignment>/`. Running it twice writes the same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_notebooks import ASSIGNMENTS, ROOT, render, write_solutions  # noqa: E402

EXERCISES = ROOT / "exercises"
#: Cell metadata that records how a notebook was last run or shown, not what it is.
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "jupyter", "ExecuteTime", "trusted")


def nbgrader(*arguments: str, course: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the nbgrader CLI of this environment in `course`; its helpers (alembic) must be on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([str(Path(bin_dir) / "nbgrader"), *arguments], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)


def new_course(solutions: Path = ROOT / "solutions") -> Path:
    """A temporary nbgrader course directory: this repository's config and a copy of `solutions`."""
    course = Path(tempfile.mkdtemp(prefix="bertlab-course-"))
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(solutions, course / "solutions")
    return course


def generate(course: Path, assignment: str) -> Path:
    """`nbgrader generate_assignment` for one assignment; the student notebook's path."""
    result = nbgrader("generate_assignment", assignment, "--force", course=course)
    released = course / "exercises" / assignment / f"{assignment}.ipynb"
    if result.returncode != 0 or not released.is_file():
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{result.stderr}")
    return released


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` without outputs, execution counts or volatile metadata."""
    clean = nbformat.from_dict(nb)
    clean.metadata = {key: clean.metadata[key] for key in ("kernelspec", "language_info")
                      if key in clean.metadata}
    for cell in clean.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return clean


def release(target: Path = EXERCISES, *, write_sources: bool = True) -> list[Path]:
    """Rewrite `solutions/` (unless `write_sources` is False), then every student notebook under
    `target`; return their paths."""
    if write_sources:
        write_solutions()
    course = new_course()
    try:
        paths = []
        for assignment in ASSIGNMENTS:
            released = generate(course, assignment)
            path = target / assignment / released.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(normalise(nbformat.read(released, as_version=4))),
                            encoding="utf-8")
            paths.append(path)
        return paths
    finally:
        shutil.rmtree(course, ignore_errors=True)


if __name__ == "__main__":
    for released_path in release():
        print(released_path.relative_to(ROOT))
