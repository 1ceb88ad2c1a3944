"""nbgrader's side of grading: run the answers apart from the notebook, judge outside it.

Book page: "Instructor guide". `JudgedExecute` takes the place of nbgrader's ``Execute`` in
``c.Autograde.autograde_preprocessors`` (the repository's ``nbgrader_config.py`` lists them). For one submission it:

1. derives the student's key and case seed from the instructor's secret (`bertlab.course.keys`);
   without a secret it grades in practice mode, with public models and cases, and says so;
2. before the notebook runs, runs every part whose answer is a function on its visible and
   hidden cases in a fresh Python that cannot import bertlab (`bertlab.course.isolated`), from
   the text of the cells the student can edit;
3. runs the notebook in a fresh kernel as nbgrader does, with the student's key in the kernel's
   environment (and the secret file's path removed from it); just before the test cell of a
   part whose answer is a value runs, writes that part's cases to a file the test cell's
   ``course.check`` reads, and deletes it when the cell is done (so no earlier or later cell can
   see the hidden cases);
4. afterwards, in this process, compares each part's results with bertlab's measurement, and
   replaces the test cell's outputs with the verdict: a ✓ line, or an error naming each failing
   case and its hint. nbgrader then scores the cell from that output (an error scores 0) as
   usual.

Nothing the notebook defines is trusted: a function scores only on what it returned where the
notebook could not reach, and where bertlab (the reference of every measurement) cannot be
imported; a value scores only when what the notebook recorded agrees with the measurement, and
not when a cell computes it with the bertlab function the part asks the student to write; a
notebook that touches the grader's files fails every part. Whatever the answers print to
stderr is dropped.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode, default

from .keys import KEY_ENV, PRACTICE_KEY, SECRET_ENV, case_seed, read_secret, student_key
from .keys import environment as _environment
from ..zoo.training import torch_threads
from .pool import POOL_ENV

__all__ = ["JudgedExecute", "GRADER_NAMES", "WRAP"]

#: Names that only code reaching into the grader's hand-over uses; a notebook cell that holds
#: one fails every part (and the instructor reads why in the feedback).
GRADER_NAMES = ("BERTLAB_GRADING_DIR", "GRADING_ENV", "cases.json", "record.jsonl", "CASES_FILE",
                "RECORD_FILE", "setprofile", "settrace", "_handed_over", "_record", "_watched")
#: Width the verdict's lines are wrapped to (feedback pages and notebooks alike).
WRAP = 96
#: At most this many failing cases are listed per part; the rest are counted.
_LISTED = 3
#: Seconds a cell (and a function part apart from the notebook) may take when nbgrader's
#: ``Execute.timeout`` is not set.
_CELL_TIMEOUT = 120


class JudgedExecute(Execute):
    """nbgrader's Execute, with the course's cases handed over and the verdicts judged outside."""

    secret_file = Unicode(help="File holding the course secret (default: $BERTLAB_COURSE_SECRET_FILE"
                          "); without one, grading uses the public practice key and cases."
                          ).tag(config=True)
    pool = Unicode(help="The course pool's folder (default: $BERTLAB_COURSE_POOL); without one, "
                   "the public practice models.").tag(config=True)
    threads = Integer(1, help="Torch threads of each notebook's kernel, and of the grader's own "
                      "measurements, while grading. One: on a busy machine (or with several "
                      "grading workers, or two courses graded at once) a second thread made "
                      "inference several times slower here, not faster (each small operation "
                      "waits for a thread that another process holds).").tag(config=True)

    @default("secret_file")
    def _secret_file_default(self):
        return os.environ.get(SECRET_ENV, "")

    @default("pool")
    def _pool_default(self):
        return os.environ.get(POOL_ENV, "")

    def preprocess(self, nb, resources=None, km=None):
        from .assignments import ASSIGNMENTS

        info = resources["nbgrader"]
        parts = ASSIGNMENTS.get(info["assignment"])
        if parts is None:  # not one of this course's assignments: nbgrader's own grading
            return super().preprocess(nb, resources, km)
        secret = read_secret(self.secret_file) if self.secret_file else None
        if secret is None:
            self.log.warning("No course secret (%s): grading %s in practice mode, with public "
                             "models and hidden cases anyone can compute.", SECRET_ENV,
                             info["student"])
        self._session = Session(parts, info["assignment"], info["student"], secret, self.pool,
                                self.threads)
        try:
            with torch_threads(self.threads):
                self._session.run_functions(nb, self.timeout or _CELL_TIMEOUT)
            with self._session.kernel_environment(), torch_threads(self.threads):
                nb, resources = super().preprocess(nb, resources, km)
            with torch_threads(self.threads):
                self._session.judge(nb)
        finally:
            self._session.close()
            self._session = None
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        session = getattr(self, "_session", None)
        part = session.part_tested_by(cell) if session else None
        if part is None or not part.is_value:
            return super().preprocess_cell(cell, resources, index)
        session.hand_over(part)
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            session.take_back()


class Session:
    """Grading one submission: its key, seed and cases, the hand-over folder, the verdicts."""

    def __init__(self, parts, assignment: str, student: str, secret: bytes | None, pool: str,
                 threads: int = 1):
        from .assignments import HAND_OVERS, check_cell_id
        from .checking import CASES_FILE, RECORD_FILE

        self.parts = {check_cell_id(part): part for part in parts}
        self.key = student_key(secret, student) if secret else PRACTICE_KEY
        self.seed = case_seed(secret, student, assignment)
        self.pool = pool
        self.folder = Path(tempfile.mkdtemp(prefix="bertlab-grading-"))
        self.cases_path, self.record_path = self.folder / CASES_FILE, self.folder / RECORD_FILE
        self.handed: dict[str, list] = {}
        self.isolated: dict = {"cells": [], "parts": {}}
        self._context = None
        self.threads = threads
        hand_over = HAND_OVERS.get(assignment)
        self.handed_files = hand_over(self.folder) if hand_over else {}

    @property
    def context(self):
        if self._context is None:
            from .context import Context

            with _environment({POOL_ENV: self.pool or None}):
                self._context = Context(self.key)
        return self._context

    def part_tested_by(self, cell):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        return self.parts.get(grade_id) if cell.cell_type == "code" else None

    @contextlib.contextmanager
    def kernel_environment(self) -> Iterator[None]:
        """The kernel's environment: the student's key, the pool, the hand-over folder, and no
        path to the secret."""
        from .checking import GRADING_ENV

        with _environment({KEY_ENV: self.key, POOL_ENV: self.pool or None,
                           GRADING_ENV: str(self.folder), SECRET_ENV: None,
                           "OMP_NUM_THREADS": str(self.threads), **self.handed_files}):
            yield

    def run_functions(self, nb: NotebookNode, timeout: float) -> None:
        """Run every function part's answer on all its cases apart from the notebook, before
        the notebook runs (so nothing it does can prepare that process)."""
        import bertlab

        from .isolated import encode, run_isolated

        functions = [part for part in self.parts.values() if not part.is_value]
        if not functions:
            return
        job_parts = []
        with _environment({POOL_ENV: self.pool or None}):
            for part in functions:
                self.handed[part.name] = part.cases(self.seed, self.context)
                job_parts.append({"name": part.name, "cases": [
                    {"id": case.id, "calls": encode(part.calls(case, self.context))}
                    for case in self.handed[part.name]]})
        setup, constants = _given(nb)
        cells = [{"id": cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"),
                  "source": _without_magics(cell.source)} for cell in _editable_cells(nb)]
        self.isolated = run_isolated(
            {"setup": setup, "constants": constants, "cells": cells, "parts": job_parts},
            timeout, blocked=[str(Path(bertlab.__file__).parent)], threads=self.threads)

    def hand_over(self, part) -> None:
        with _environment({POOL_ENV: self.pool or None}):
            cases = part.cases(self.seed, self.context)
        self.handed[part.name] = cases
        self.cases_path.write_text(json.dumps({"part": part.name,
                                               "cases": [case.as_json() for case in cases]}))

    def take_back(self) -> None:
        self.cases_path.unlink(missing_ok=True)

    def judge(self, nb: NotebookNode) -> None:
        """Replace every test cell's outputs with its part's verdict."""
        record = self._record()
        sources = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source
                   for cell in nb.cells}
        tampering = _grader_names_in(nb)
        with _environment({POOL_ENV: self.pool or None}):
            for cell in nb.cells:
                part = self.part_tested_by(cell)
                if part is not None:
                    others = [source for source in _editable_sources(nb)
                              if source != sources.get(part.name)]
                    problems = tampering or self._problems(part, record, sources.get(part.name, ""),
                                                           cell, others)
                    cell.outputs = [_verdict_output(part, problems, self.handed.get(part.name, []))]

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _record(self) -> list[dict]:
        if not self.record_path.is_file():
            return []
        entries = []
        for line in self.record_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def _problems(self, part, record: list[dict], answer_source: str, cell,
                  other_sources: list[str]) -> list[str]:
        from .checking import entry_problem

        cases = self.handed.get(part.name)
        if cases is None:
            return ["the test cell did not run."]
        if not part.is_value:
            return self._function_problems(part, cases)
        named = _forbidden_names_in(answer_source, part)
        if named:
            return [f"the answer cell uses {', '.join(named)}, which this part asks you to write "
                    "yourself."]
        # A value can be computed in any cell the student edits and copied into the answer cell.
        named = sorted({name for source in other_sources
                        for name in _forbidden_names_in(source, part, qualified_only=True)})
        if named:
            return [f"a cell of this notebook uses {', '.join(named)} for this part's value, "
                    "which this part asks you to find yourself."]
        entries = [entry for entry in record if entry.get("part") == part.name]
        ids = [entry.get("case") for entry in entries]
        if len(ids) != len(set(ids)):
            return ["results were recorded more than once for the same case: something other "
                    "than the test cell wrote the grader's record."]
        by_case = dict(zip(ids, entries))
        stopped = _kernel_error(cell) or "the test cell stopped before this case"
        if not entries:
            return [f"no result for any case: {stopped}."]
        problems = []
        for case in cases:
            entry = by_case.get(case.id)
            problem = (f"no result ({stopped})" if entry is None
                       else entry_problem(part, entry, case, self.context))
            if problem:
                problems.append(f"{case.label}: {problem}")
        return problems


    def _function_problems(self, part, cases: list) -> list[str]:
        """What is wrong with a function part's results from apart from the notebook."""
        from .checking import entry_problem, function_entry

        found = self.isolated["parts"].get(part.name, {})
        if "missing" in found:
            return [f"{found['missing']}."]
        ran, problems = found.get("cases", {}), []
        for case in cases:
            raw = ran.get(case.id)
            problem = ("no result (the answer did not finish within the time a cell may take)"
                       if raw is None else
                       entry_problem(part, function_entry(part, case.id, raw), case, self.context))
            if problem:
                problems.append(f"{case.label}: {problem}")
        return problems


def _verdict_output(part, problems: list[str], cases: list) -> NotebookNode:
    """The output that replaces a test cell's: a ✓ line on stdout, or an error listing failures."""
    if not problems:
        hidden = sum(not case.visible for case in cases)
        return NotebookNode(output_type="stream", name="stdout", text=(
            f"✓ {part.title}: all {len(cases)} cases pass ({len(cases) - hidden} visible, "
            f"{hidden} hidden).\n"))
    listed = problems[:_LISTED]
    if len(problems) > _LISTED:
        listed.append(f"... and {len(problems) - _LISTED} more failing case(s).")
    summary = f"✗ {part.title}: {len(problems)} of {len(cases) or '?'} cases fail."
    lines = [summary] + [wrapped for problem in listed
                         for wrapped in textwrap.wrap(problem, WRAP, initial_indent="  - ",
                                                      subsequent_indent="    ")]
    return NotebookNode(output_type="error", ename="PartFailed", evalue=summary, traceback=lines)


def _kernel_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"the test cell raised {output.get('ename')}: {output.get('evalue')}"[:300]
    return None


#: Dynamic lookups that would hide a forbidden name from `_forbidden_names_in`. An answer that is a
#: value runs when its cell runs, outside the watch of `bertlab.course.checking`, so its cell may
#: not use them; a function's calls are watched while it runs, aliases or not.
_DYNAMIC_LOOKUPS = ("getattr", "importlib", "__import__", "eval", "exec", "globals", "vars")


def _forbidden_names_in(source: str, part, qualified_only: bool = False) -> list[str]:
    """The forbidden bertlab functions and constants a cell names (as an attribute, a name or an
    import), read from its source with `ast`. With `qualified_only` (a cell other than the
    answer's, where the student's own names may be anything), only an attribute (``module.NAME``)
    or an import from a forbidden module counts, and dynamic lookups do not."""
    if not part.forbidden:
        return []
    forbidden = _forbidden_names(part.forbidden, constants=part.is_value)
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return []  # the answer will fail to run; the recorded error says so
    named, loaded, defined = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            named.add(node.attr)
        elif isinstance(node, ast.Name) and not qualified_only:
            (loaded if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.ImportFrom) and qualified_only:
            module = node.module or ""
            if any(module == dotted or f"{module}.{alias.name}" == dotted
                   for dotted in part.forbidden for alias in node.names):
                named.update(alias.name for alias in node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and not qualified_only:
            named.update(alias.name.rpartition(".")[2] for alias in node.names)
            named.add((getattr(node, "module", None) or "").partition(".")[0])
    named |= loaded - defined  # a function of the student's own may share a forbidden name
    found = {forbidden[name] for name in named if name in forbidden}
    if part.is_value and not qualified_only:
        found |= {f"{name} (a dynamic lookup)" for name in named & set(_DYNAMIC_LOOKUPS)}
    return sorted(found)


def _editable_cells(nb: NotebookNode) -> list:
    """The code cells a student can edit (answer cells and cells they added), in order."""
    return [cell for cell in nb.cells if cell.cell_type == "code"
            and not cell.get("metadata", {}).get("nbgrader", {}).get("locked", False)]


def _editable_sources(nb: NotebookNode) -> list[str]:
    return [cell.source for cell in _editable_cells(nb)]


def _given(nb: NotebookNode) -> tuple[list[str], dict]:
    """What the setup cells give an answer function apart from the notebook: their imports of
    other libraries (as statements) and the constants they import from bertlab (plain values)."""
    import importlib

    statements, constants = [], {}
    for cell in nb.cells:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not grading.get("locked") or grading.get("grade"):
            continue
        try:
            tree = ast.parse(_without_magics(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                kept = [alias for alias in node.names if not _is_bertlab(alias.name)]
                if kept:
                    statements.append(ast.unparse(ast.Import(names=kept)))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if not _is_bertlab(node.module):
                    statements.append(ast.unparse(node))
                    continue
                module = importlib.import_module(node.module)
                constants.update({alias.asname or alias.name: getattr(module, alias.name)
                                  for alias in node.names
                                  if _plain_constant(getattr(module, alias.name, None))})
    return statements, constants


def _is_bertlab(module: str) -> bool:
    return module == "bertlab" or module.startswith("bertlab.")


def _plain_constant(value) -> bool:
    """Numbers, strings and None, and tuples, lists and string-keyed dicts of them."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_plain_constant(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain_constant(item) for key, item in value.items())
    return False


def _forbidden_names(forbidden: tuple[str, ...], constants: bool) -> dict[str, str]:
    """{short name: dotted name} of the functions of `forbidden`, and of its upper-case constants
    when `constants` (a value answer may not copy them; a function may use the thresholds)."""
    import importlib

    from .checking import _code_objects

    names = {name.rpartition(".")[2]: name for name in _code_objects(forbidden).values()}
    for dotted in forbidden if constants else ():
        try:
            module = importlib.import_module(dotted)
        except ImportError:
            continue
        names.update({name: f"{dotted}.{name}" for name in vars(module)
                      if name.isupper() and not name.startswith("_")})
    return names


def _grader_names_in(nb: NotebookNode) -> list[str]:
    """A problem for every part when a cell the student can edit names the grader's hand-over."""
    for source in _editable_sources(nb):
        found = [name for name in GRADER_NAMES if name in source]
        if found:
            return [f"a cell of this notebook reaches into the grader ({', '.join(found)}); "
                    "every part fails. Ask your instructor if this is a mistake."]
    return []


def _without_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())
