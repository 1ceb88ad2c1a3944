"""Command line of the graded course: ``python -m bertlab.course <command>``.

    secret FILE                     write a new course secret to FILE (readable by you only)
    keys --secret FILE STUDENT...   print each student's course key (send it, or set it on the hub)
    pool FOLDER --manifest FILE     train the course pool into FOLDER (random seeds; once a course)
    autograde ASSIGNMENT            grade a class over worker processes, resumably (--workers N)
    merge GRADEBOOK ASSIGNMENT      copy another gradebook's grades into this course's

Book page: "Instructor guide". ``autograde`` and ``merge`` run in the course folder (the one
holding ``nbgrader_config.py``) unless ``--course`` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bertlab.course",
                                     description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    secret = commands.add_parser("secret", help="write a new course secret")
    secret.add_argument("file", type=Path)
    keys = commands.add_parser("keys", help="print students' course keys")
    keys.add_argument("--secret", type=Path, required=True, help="the course secret file")
    keys.add_argument("students", nargs="+", help="nbgrader student ids")
    pool = commands.add_parser("pool", help="train the course pool")
    pool.add_argument("folder", type=Path)
    pool.add_argument("--manifest", type=Path, required=True,
                      help="where to write which recipe and seed each member is (keep it private)")
    pool.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    grade = commands.add_parser("autograde", help="grade a class over worker processes")
    grade.add_argument("assignment")
    grade.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    grade.add_argument("--force", action="store_true", help="regrade submissions already graded")
    grade.add_argument("--shard", default="1/1", help="K/N: grade the K-th of N shares of the class")
    grade.add_argument("--gradebook", type=Path, help="gradebook to write (default: the course's)")
    merge = commands.add_parser("merge", help="copy another gradebook's grades into the course's")
    merge.add_argument("gradebook", type=Path)
    merge.add_argument("assignment")
    for command in (grade, merge):
        command.add_argument("--course", type=Path, default=Path.cwd(), help="the course folder")
    arguments = parser.parse_args(argv)

    if arguments.command == "secret":
        from .keys import new_secret

        if arguments.file.exists():
            parser.error(f"{arguments.file} exists: a course keeps its secret (delete it first)")
        arguments.file.parent.mkdir(parents=True, exist_ok=True)
        arguments.file.write_text(new_secret() + "\n")
        arguments.file.chmod(0o600)
        print(f"course secret written to {arguments.file} (mode 600)")
    elif arguments.command == "keys":
        from .keys import read_secret, student_key

        secret_bytes = read_secret(arguments.secret)
        for student in arguments.students:
            print(f"{student}\t{student_key(secret_bytes, student)}")
    elif arguments.command == "pool":
        from .pool import build_pool

        built = build_pool(arguments.folder, arguments.manifest, jobs=arguments.jobs)
        print(f"{len(built.members)} models and {len(built.bundles)} bundles in {arguments.folder}; "
              f"manifest (keep it private): {arguments.manifest}")
    elif arguments.command == "autograde":
        from .parallel import autograde, parse_shard

        start = time.perf_counter()
        graded = autograde(arguments.course, arguments.assignment, workers=arguments.workers,
                           force=arguments.force, shard=parse_shard(arguments.shard),
                           gradebook=arguments.gradebook)
        failed = [g.student for g in graded if not g.success]
        print(f"{len(graded)} submission(s) graded in {time.perf_counter() - start:.0f} s"
              + (f"; nbgrader reported errors for {', '.join(failed)}" if failed else ""))
    elif arguments.command == "merge":
        from .parallel import merge_gradebooks

        count = merge_gradebooks(arguments.gradebook, arguments.course / "gradebook.db",
                                 arguments.assignment)
        print(f"{count} submission(s) merged into {arguments.course / 'gradebook.db'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
