"""Autograde a whole class over several worker processes, resumably (nbgrader issue #174).

Book page: "Instructor guide". ``python -m bertlab.course autograde <assignment> --workers N``
(`autograde`) grades every submission in ``submitted/*/<assignment>/`` of a course folder:

* each worker is one process that grades its submissions one after the other with nbgrader's
  own autograder (the same configuration, `bertlab.course.judge` included), into **its own copy
  of the gradebook**, so that workers never write the same database;
* as each submission is done, its grades are copied into the course's gradebook
  (`merge_submission`), by this process alone, and the submission is written to a journal with
  a fingerprint of what was handed in;
* a run that is interrupted (Ctrl-C, a lost machine) is resumed by running the same command
  again: submissions whose fingerprint is in the journal are skipped (``--force`` regrades all).

The course gradebook ends up with what one sequential ``nbgrader autograde`` gives, score by score
(the test suite compares the two). Several machines sharing one course folder each take a share
(``--shard 2/3``) into a gradebook of their own (``--gradebook``), merged at the end with
``python -m bertlab.course merge``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tqdm.auto import tqdm

__all__ = ["Graded", "autograde", "submitted_students", "merge_gradebooks", "merge_submission",
           "parse_shard"]

_WORK = ".bertlab-autograde"


@dataclass
class Graded:
    """One graded submission, as plain data a worker hands back: its grades and comments."""

    student: str
    success: bool
    seconds: float
    log: str = ""
    timestamp: datetime | None = None
    notebooks: dict[str, dict] = field(default_factory=dict)  # {notebook: {grades, comments, ...}}


def submitted_students(course: Path, assignment: str) -> list[str]:
    """The students with a submission of `assignment` in ``submitted/``, sorted."""
    return sorted(path.parent.name for path in (course / "submitted").glob(f"*/{assignment}")
                  if path.is_dir())


def autograde(course: str | os.PathLike, assignment: str, *, workers: int = 2, force: bool = False,
              shard: tuple[int, int] = (1, 1), gradebook: str | os.PathLike | None = None,
              progress: bool = True) -> list[Graded]:
    """Grade the submissions of `assignment` in the course folder `course` (see the module
    docstring); return what was graded in this run (skipped submissions are not listed)."""
    course = Path(course).resolve()
    target = Path(gradebook).resolve() if gradebook else course / "gradebook.db"
    index, count = shard
    students = submitted_students(course, assignment)[index - 1::count]
    journal = _Journal(course / _WORK / f"{assignment}-{target.stem}.jsonl")
    todo = [s for s in students if force or not journal.done(s, _fingerprint(course, s, assignment))]
    if progress and len(todo) < len(students):
        tqdm.write(f"{len(students) - len(todo)} of {len(students)} submission(s) already graded "
                   f"(journal {journal.path.relative_to(course)}); --force regrades them")
    if not todo:
        return []
    workers = max(1, min(workers, len(todo)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    results = []
    # Fresh interpreters (not forks of this one, which may hold torch's threads).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker,
                             initargs=(str(course), str(target), threads)) as pool:
        futures = [pool.submit(_grade, assignment, student) for student in todo]
        bar = tqdm(as_completed(futures), total=len(futures), unit="submission",
                   desc=f"autograde {assignment} ({workers} workers)", disable=not progress)
        for future in bar:
            graded = future.result()
            merge_submission(target, assignment, graded)
            journal.add(graded.student, _fingerprint(course, graded.student, assignment))
            results.append(graded)
            if not graded.success:
                tqdm.write(f"{graded.student}: nbgrader reported an error (see the log below)\n"
                           f"{graded.log[-2000:]}")
    return results


def merge_gradebooks(source: str | os.PathLike, target: str | os.PathLike, assignment: str) -> int:
    """Copy every graded submission of `assignment` from the gradebook `source` into `target`;
    return how many."""
    from nbgrader.api import Gradebook, MissingEntry

    copied = []
    with Gradebook(f"sqlite:///{Path(source).resolve()}") as gradebook:
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            copied.append(_read_submission(gradebook, submission, student.id))
    for graded in copied:
        merge_submission(target, assignment, graded)
    return len(copied)


def merge_submission(target: str | os.PathLike, assignment: str, graded: Graded) -> None:
    """Write one submission's grades into the gradebook `target`, as nbgrader's own autograder
    would: a manual score already there is kept, and then the grade needs review."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(target).resolve()}") as gradebook:
        gradebook.update_or_create_student(graded.student)
        options = {"timestamp": graded.timestamp} if graded.timestamp else {}
        gradebook.update_or_create_submission(assignment, graded.student, **options)
        for name, notebook in graded.notebooks.items():
            submitted = gradebook.find_submission_notebook(name, assignment, graded.student)
            submitted.late_submission_penalty = notebook["late_submission_penalty"]
            for grade_id, auto_score in notebook["grades"].items():
                grade = gradebook.find_grade(grade_id, name, assignment, graded.student)
                grade.auto_score = auto_score
                grade.needs_manual_grade = grade.manual_score is not None or auto_score is None
            for grade_id, auto_comment in notebook["comments"].items():
                gradebook.find_comment(grade_id, name, assignment, graded.student).auto_comment = \
                    auto_comment
        gradebook.db.commit()


# --- the workers --------------------------------------------------------------------------------
_worker: dict = {}


def _start_worker(course: str, target: str, threads: int) -> None:
    """Set up one worker process: its own copy of the gradebook, and nbgrader's API on it."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    import torch

    os.environ["OMP_NUM_THREADS"] = str(threads)  # the kernels this worker starts
    torch.set_num_threads(threads)                # the grader's own measurements
    database = Path(course) / _WORK / f"worker-{os.getpid()}.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, database)
    config = PyFileConfigLoader("nbgrader_config.py", path=course).load_config()
    coursedir = CourseDirectory(config=config, root=course)
    coursedir.db_url = f"sqlite:///{database}"
    _worker.update(api=NbGraderAPI(coursedir=coursedir, config=config), database=database)


def _grade(assignment: str, student: str) -> Graded:
    """Grade one submission in this worker and read its grades back from the worker's gradebook."""
    from nbgrader.api import Gradebook

    start = time.perf_counter()
    result = _worker["api"].autograde(assignment, student, force=True, create=True)
    seconds = time.perf_counter() - start
    with Gradebook(f"sqlite:///{_worker['database']}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        graded = _read_submission(gradebook, submission, student)
    graded.success, graded.seconds = bool(result["success"]), seconds
    graded.log = result.get("log", "") + result.get("error", "")
    return graded


def _read_submission(gradebook, submission, student: str) -> Graded:
    notebooks = {}
    for notebook in submission.notebooks:
        notebooks[notebook.name] = {
            "late_submission_penalty": notebook.late_submission_penalty,
            "grades": {grade.name: grade.auto_score for grade in notebook.grades},
            "comments": {comment.name: comment.auto_comment for comment in notebook.comments},
        }
    return Graded(student=student, success=True, seconds=0.0, timestamp=submission.timestamp,
                  notebooks=notebooks)


# --- the journal --------------------------------------------------------------------------------
class _Journal:
    """The submissions graded into one gradebook, each with the fingerprint of what was graded."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, str] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                entry = json.loads(line)
                self.entries[entry["student"]] = entry["fingerprint"]

    def done(self, student: str, fingerprint: str) -> bool:
        return self.entries.get(student) == fingerprint

    def add(self, student: str, fingerprint: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as journal:
            journal.write(json.dumps({"student": student, "fingerprint": fingerprint}) + "\n")
        self.entries[student] = fingerprint


def _fingerprint(course: Path, student: str, assignment: str) -> str:
    """A hash of every file of one submission: a resubmission is graded again."""
    digest = hashlib.sha256()
    folder = course / "submitted" / student / assignment
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` -> (2, 3): the second of three shares of the class."""
    index, _, count = text.partition("/")
    shard = (int(index), int(count))
    if not 1 <= shard[0] <= shard[1]:
        raise ValueError(f"a shard is K/N with 1 <= K <= N, got {text!r}")
    return shard
