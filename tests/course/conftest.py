"""What the course tests share: a temporary nbgrader course per assignment, graded with a course
secret of the tests' own (`bertlab.course.classroom.Course`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bertlab.course.classroom import Course, course_config

ROOT = Path(__file__).resolve().parents[2]
#: The tests' course secret: fixed, so that which models a student id gets is known in advance
#: (the practice pool of public zoo models stands in for a course pool).
TEST_SECRET = b"bertlab course tests: not a real secret"
#: Seconds per cell in the test courses: the slowest set-up cell (assignment 4) takes about 20 s
#: on a busy 2-core machine, and the looping submission costs exactly this long.
CELL_TIMEOUT = 50


@pytest.fixture(scope="session")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "course-secret"
    path.write_bytes(TEST_SECRET)
    return path


@pytest.fixture(scope="session")
def make_course(secret_file):
    """A factory: ``make_course(assignment)`` is a temporary course graded with the tests' secret."""
    def make(assignment: str) -> Course:
        return Course(assignment, ROOT / "solutions", ROOT / "nbgrader_config.py",
                      course_config(secret_file=secret_file, cell_timeout=CELL_TIMEOUT))
    return make


@pytest.fixture(scope="session")
def secret_bytes() -> bytes:
    return TEST_SECRET
