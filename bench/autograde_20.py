"""Autograde a class of 20 submissions of one assignment with the real nbgrader CLI, and time it.

    .venv/bin/python bench/autograde_20.py                         # assignment 04 (the slowest)
    .venv/bin/python bench/autograde_20.py 01_extract_and_score    # another one

The class: the instructor's answers submitted 20 times (every submission runs every cell, so a
correct one is the longest to grade). Prints a Markdown block for bench/COURSE_RESULTS.md: the
machine, its load while grading, the wall time of the one `nbgrader autograde` call, the time
per submission, and checks every submission got full marks from the gradebook.
Needs the zoo cache (``python -m bertlab.zoo build --all``).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "course"))
from course_helpers import Course, graded_ids, with_answers  # noqa: E402

N_SUBMISSIONS = 20
#: The course's own per-cell limit (nbgrader_config.py): the benchmark grades as a course would.
CELL_TIMEOUT = 120


def main(assignment: str = "04_detect_overfit") -> None:
    course = Course(assignment, timeout=CELL_TIMEOUT)
    try:
        answered = with_answers(course.released, assignment)
        for index in range(N_SUBMISSIONS):
            course.submit(f"student{index:02d}", answered)
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        course.autograde(timeout=3600)
        seconds = time.perf_counter() - start
        load_after = os.getloadavg()[0]
        scores, points = course.scores(), course.max_points()
    finally:
        course.remove()
    tests = graded_ids(course.released)
    full = sum(1 for s in scores.values() if all(s[t] == points[t] for t in tests))
    print(f"### {assignment}: {N_SUBMISSIONS} submissions, one `nbgrader autograde` call\n")
    print(f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; 1-minute load average {load_before:.1f} before, "
          f"{load_after:.1f} after (other jobs on the machine count here)")
    print(f"- wall time: {seconds:.0f} s, {seconds / N_SUBMISSIONS:.1f} s per submission")
    print(f"- full marks from the gradebook: {full} of {len(scores)} graded submissions")


if __name__ == "__main__":
    main(*sys.argv[1:2])
