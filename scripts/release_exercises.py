"""Regenerate the course: sync each instructor notebook with its jupytext source, then write
`exercises/` with nbgrader (`bertlab.course.release`). Never edit `exercises/` by hand.

    .venv/bin/python scripts/release_exercises.py          # what `make exercises` runs
"""

from pathlib import Path

from bertlab.course.assignments import ASSIGNMENTS
from bertlab.course.release import Repository

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    repository = Repository(ROOT)
    for name in ASSIGNMENTS:
        print("synced:", repository.sync(name).relative_to(ROOT))
    for path in repository.release():
        print("released:", path.relative_to(ROOT))
