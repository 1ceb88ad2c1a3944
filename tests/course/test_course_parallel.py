"""Autograding a class in parallel gives what one sequential `nbgrader autograde` gives, score by
score, and resumes after an interruption.

One class of assignment 1 (the quickest) is copied into two course folders. The first is graded
by the real `nbgrader autograde` CLI. The second by ``python -m bertlab.course autograde``, as
two machines sharing it would: the first half of the class (``--shard 1/2``) with two workers
into a gradebook of its own, the second half into the course's gradebook, interrupted after its
first submission and run again (it skips what is done), then the first half merged in
(``python -m bertlab.course merge``). Both gradebooks must then hold the same grades.

Runtime: about 1-2 minutes on 2 cores (a class of four, graded twice).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bertlab.course.classroom import with_answers

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_extract_and_score"
WRONG_ENTROPY = '''
per_row = -torch.special.xlogy(attention, attention).sum(dim=-1)
return per_row.mean(dim=-1)'''


def _run(course: Path, *arguments: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bertlab.course", *arguments, "--course",
                           str(course)], capture_output=True, text=True, timeout=timeout)


def _grades(db: Path) -> dict:
    """{(student, grade id): (auto score, needs manual grade)} of every graded submission."""
    from nbgrader.api import Gradebook

    table = {}
    with Gradebook(f"sqlite:///{db}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    table[submission.student.id, grade.name] = (grade.auto_score,
                                                                 grade.needs_manual_grade)
    return table


@pytest.fixture(scope="module")
def two_courses(make_course, tmp_path_factory):
    course = make_course(ASSIGNMENT)
    released, solution = course.released, course.solution
    course.submit("ada", with_answers(released, solution))
    course.submit("alan", with_answers(released, solution, {"row_entropy": WRONG_ENTROPY}))
    course.submit("barbara", released)
    course.submit("grace", with_answers(released, solution, {"cls_row": "raise ValueError()"}))
    parallel = tmp_path_factory.mktemp("parallel") / "course"
    shutil.copytree(course.root, parallel)
    yield course, parallel
    course.remove()


def test_parallel_autograde_equals_sequential_and_resumes(two_courses):
    course, parallel = two_courses
    course.autograde()
    sequential = _grades(course.root / "gradebook.db")
    assert len({student for student, _ in sequential}) == 4

    # "Another machine": the first half of the class into its own gradebook.
    other = parallel / "other-machine.db"
    shutil.copyfile(parallel / "gradebook.db", other)
    first = _run(parallel, "autograde", ASSIGNMENT, "--shard", "1/2", "--workers", "2",
                 "--gradebook", str(other))
    assert first.returncode == 0, first.stderr[-3000:]

    # This machine: the second half, one submission at a time, interrupted after the first.
    journal = parallel / ".bertlab-autograde" / f"{ASSIGNMENT}-gradebook.jsonl"
    command = [sys.executable, "-m", "bertlab.course", "autograde", ASSIGNMENT, "--shard", "2/2",
               "--workers", "1", "--course", str(parallel)]
    # As a terminal's Ctrl-C reaches a foreground command: SIGINT handled by default, even
    # where this test runs in a background job (which ignores SIGINT, and its children with it).
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 900
    while not (journal.is_file() and journal.read_text().count("\n") >= 1):
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done_before = journal.read_text().count("\n")
    assert done_before == 1, "interrupted after the first submission, during the second"

    resumed = _run(parallel, "autograde", ASSIGNMENT, "--shard", "2/2", "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 of 2 submission(s) already graded" in resumed.stderr + resumed.stdout
    assert "1 submission(s) graded" in resumed.stdout
    merged = _run(parallel, "merge", str(other), ASSIGNMENT)
    assert merged.returncode == 0 and "2 submission(s) merged" in merged.stdout, merged.stderr

    assert _grades(parallel / "gradebook.db") == sequential
