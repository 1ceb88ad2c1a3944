"""How long a student notebook takes to run top to bottom, answered: every assignment, timed.

    .venv/bin/python bench/notebooks_run.py     # prints a Markdown block for bench/COURSE_RESULTS.md

Each instructor notebook in ``solutions/`` (the student's notebook with every answer filled in,
hidden tests included, so at least as long as the student's) runs in a fresh kernel, as "Run all"
would, with nbclient. Goal (issue 5): ≤ 30 s per notebook on a 2-core machine, with the zoo cache
built (`make zoo`); the first run of assignment 4 without it trains four models instead.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 30


def run_seconds(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the start\n")
    print("| assignment | seconds, top to bottom |\n|---|---:|")
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        seconds = run_seconds(path)
        verdict = "" if seconds <= GOAL_SECONDS else f" (over the {GOAL_SECONDS} s goal)"
        print(f"| {path.stem} | {seconds:.1f}{verdict} |")


if __name__ == "__main__":
    main()
