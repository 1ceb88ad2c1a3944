"""The notebook's side of grading: run a part's visible cases on an answer, quietly and watched.

Book page: "Instructor guide". `check` is what every test cell calls. In a student's notebook it
runs the part's **visible** cases, compares with bertlab's measurement and raises
``AssertionError`` with a hint when something is wrong. While nbgrader grades, nothing the
notebook does is trusted: an answer that is a function is run on every case by the grader, in a
Python apart from the notebook (`bertlab.course.isolated`), and `check` does nothing; for an
answer that is a value, the grader (`bertlab.course.judge`) hands the part's cases over in a
file for the length of the test cell only, `check` records what the value gives on each, and
the grader compares outside the kernel. Rebinding `check`, the answer's helpers, tolerances or
comparison functions in the notebook therefore earns nothing.

The preview runs a function answer's calls exactly as the grader does (`run_calls`), with
warnings silenced and stderr captured (nbgrader scores a test cell that writes to stderr 0), and
watched: a call into one of the bertlab functions the part asks the student to write themselves
is reported (where the grader runs answers, bertlab cannot even be imported).
"""

from __future__ import annotations

import ast
import contextlib
import dis
import functools
import io
import json
import logging
import os
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .context import Context
from .keys import current_key
from .isolated import NOT_GIVEN, plain, run_calls
from .parts import Case, Part, failure

__all__ = ["GRADING_ENV", "CASES_FILE", "RECORD_FILE", "check", "self_check", "run_case",
           "function_entry", "names_not_given"]

#: The folder through which the grader hands cases over and reads the record back.
GRADING_ENV = "BERTLAB_GRADING_DIR"
CASES_FILE = "cases.json"
RECORD_FILE = "record.jsonl"


def check(name: str, answer: Any) -> None:
    """Run part `name`'s checks on `answer` (see the module docstring for the two modes)."""
    from .assignments import PARTS

    part = PARTS[name]
    if os.environ.get(GRADING_ENV) and not part.is_value:
        print(f"{part.title}: graded by running the answer cell apart from the notebook.")
        return
    handed_over = _handed_over(name)
    context = Context(current_key())
    if handed_over is not None:
        _record(part, answer, handed_over, context)
        print(f"{part.title}: answers recorded; the grader compares them with the measurement.")
        return
    problems = visible_problems(part, answer, context)
    if problems:
        raise AssertionError("\n".join(problems))
    print(_passed(part))


def _passed(part: Part) -> str:
    """What a part whose visible cases found nothing wrong prints."""
    if part.form_only:
        return (f"○ {part.title}: well formed; whether it is right is not checked here (a "
                "visible case would give it away) but only when grading.")
    return f"✓ {part.title}: the visible checks pass (the grade adds hidden cases)."


def self_check(parts: Mapping[str, Callable[[], Any]]) -> dict[str, str]:
    """Run each part's visible checks and print ✓ or ✗; never raise. `parts` maps a part's name
    to a function returning the answer (a lambda, so that an answer not yet defined is reported
    rather than raised). Returns ``{name: "pass" or what is wrong}``."""
    from .assignments import PARTS

    context = Context(current_key())
    results = {}
    for name, get_answer in parts.items():
        part = PARTS[name]
        try:
            problems = visible_problems(part, get_answer(), context)
        except NameError as error:
            problems = [f"not defined yet ({error})"]
        results[name] = "pass" if not problems else " ".join(problems)
        print(_passed(part) if not problems else f"✗ {part.title}: {results[name]}")
    return results


def visible_problems(part: Part, answer: Any, context: Context) -> list[str]:
    """What is wrong with `answer` on the part's visible cases (empty when nothing is); for a
    function, first the names it reads that the grader will not give it."""
    from .assignments import NOTEBOOK_DATA

    if not part.is_value:
        outside = names_not_given(answer, NOTEBOOK_DATA.get(part.name, frozenset()))
        if outside:
            return [f"{part.name} uses {_listed(outside)}: {NOT_GIVEN}. Pass what it needs as "
                    "arguments (the part's instructions list them)."]
    problems = []
    for case in part.visible(context):
        entry = run_case(part, answer, case, context)
        problem = entry_problem(part, entry, case, context)
        if problem:
            problems.append(f"{case.label}: {problem}")
            if entry["error"] is not None or entry["calls"] or entry.get("refused"):
                break  # the same error or forbidden call would repeat on every case
    return problems


def names_not_given(answer: Any, notebook_data: frozenset[str]) -> dict[str, str]:
    """The global names `answer` reads that do not exist where the grader runs it
    (`bertlab.course.isolated`): ``{name: why}``.

    Read from its code (and that of the functions and classes of the notebook it uses, in turn):
    a name of `notebook_data` (what the setup cell computes from the model and the data),
    anything of bertlab (a module, function, class or object; bertlab cannot be imported there),
    and a value whose defining cell read `notebook_data` or bertlab (that cell fails there). The setup's
    other imports, bertlab's plain constants it imports, and what the student's own cells define
    are given there, so they pass.
    """
    if not isinstance(answer, types.FunctionType):
        return {}
    found: dict[str, str] = {}
    seen: set[types.CodeType] = set()
    todo = [(answer.__code__, answer.__globals__)]
    while todo:
        code, scope = todo.pop()
        if code in seen:
            continue
        seen.add(code)
        todo += [(constant, scope) for constant in code.co_consts
                 if isinstance(constant, types.CodeType)]   # nested functions, comprehensions
        for instruction in dis.get_instructions(code):
            name = instruction.argval
            if instruction.opname not in ("LOAD_GLOBAL", "LOAD_NAME") or name not in scope:
                continue
            value, notebook = scope[name], scope.get("__name__")
            if name in notebook_data:
                found[name] = "the setup cell's data"
            elif _of_bertlab(value):
                found[name] = "from bertlab"
            elif isinstance(value, types.FunctionType) and value.__module__ == notebook:
                todo.append((value.__code__, value.__globals__))
            elif isinstance(value, type) and value.__module__ == notebook:
                todo += [(function.__code__, function.__globals__)
                         for function in _functions(value)]
            elif not isinstance(value, types.ModuleType) and not callable(value):
                source = _computed_from(name, notebook_data, scope)
                if source:
                    found[name] = f"computed from {source} in the cell that defines it"
    return found


def _of_bertlab(value: Any) -> bool:
    """Whether `value` is a bertlab module, function, class or object (its plain constants,
    numbers, strings and tuples, are not)."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
    elif callable(value):
        module = getattr(value, "__module__", None)
    else:
        module = type(value).__module__
    return isinstance(module, str) and (module == "bertlab" or module.startswith("bertlab."))


def _computed_from(name: str, notebook_data: frozenset[str], scope: dict) -> str | None:
    """What the last notebook cell that assigns `name` reads that the grader's Python lacks: names
    of `notebook_data`, names bound in `scope` to something of bertlab, or "bertlab" where the
    cell imports it (read from IPython's input history; None outside IPython or when it reads
    none of these). Such a value exists in the notebook but not where the grader runs the answer,
    since that cell fails there."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    history = shell.user_ns.get("In", []) if shell is not None else []
    for source in reversed(history):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        assigned = {target.id for statement in tree.body
                    if isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For))
                    for node in (statement.targets if isinstance(statement, ast.Assign)
                                 else [statement.target])
                    for target in ast.walk(node) if isinstance(target, ast.Name)}
        if name in assigned:
            read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                    and isinstance(node.ctx, ast.Load)
                    and (node.id in notebook_data or _of_bertlab(scope.get(node.id)))}
            if any(_imports_bertlab(node) for node in ast.walk(tree)):
                read.add("bertlab")
            return ", ".join(sorted(read)) or None
    return None


def _imports_bertlab(node) -> bool:
    """Whether an AST node is ``import bertlab...`` or ``from bertlab... import ...``."""
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "bertlab" for alias in node.names)
    return (isinstance(node, ast.ImportFrom) and node.level == 0
            and (node.module or "").split(".")[0] == "bertlab")


def _listed(names: dict[str, str]) -> str:
    return ", ".join(f"{name} ({why})" for name, why in sorted(names.items()))


def entry_problem(part: Part, entry: dict, case: Case, context: Context) -> str | None:
    """What a recorded entry says is wrong: an error, a forbidden call, or a wrong output."""
    if entry["calls"]:
        return (f"calls {', '.join(sorted(set(entry['calls'])))}, which this part asks you to "
                "write yourself.")
    if entry.get("refused"):
        if part.forbidden:
            return ("imports bertlab, whose measurement this part asks you to write yourself "
                    "(where answers are graded, bertlab cannot be imported).")
        return ("imports bertlab, which cannot be imported where answers are graded: use the "
                "function's arguments and the names of the setup cell.")
    if entry["error"] is not None:
        return entry["error"]
    try:
        return failure(part, entry["output"], case, context)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        return (f"the answer's result does not have the form the part asks for ({type(error).__name__}"
                f": {error}); see the part's instructions for what to return.")


def run_case(part: Part, answer: Any, case: Case, context: Context) -> dict:
    """Run `answer` on `case`: ``{"case", "output" (plain), "error", "calls"}``.

    Only the answer's own calls are watched (the part builds its inputs with bertlab itself).
    """
    if not part.is_value:
        calls: list[str] = []

        def watched(*args, **kwargs):
            with _watched(part.forbidden, calls):
                return answer(*args, **kwargs)

        if not callable(answer):
            return {"case": case.id, "output": None, "calls": [],
                    "error": f"is a {type(answer).__name__}, not a function."}
        with _quiet():
            ran = run_calls(watched, part.calls(case, context))
        return function_entry(part, case.id, {**ran, "calls": calls})
    output, error = None, None
    with _quiet():
        try:
            output = plain(part.run(answer, case, context))
        except NotImplementedError:
            error = "not answered yet (the answer cell still raises NotImplementedError)."
        except Exception as exception:  # any bug of the student's is a result to report
            error = f"raised {type(exception).__name__}: {exception}"
    return {"case": case.id, "output": output, "error": error, "calls": []}


def function_entry(part: Part, case_id: str, ran: dict) -> dict:
    """An entry of the same form as a value's from what `run_calls` gave on one case
    (``{"results", "unchanged", "error", "calls"}``, in the notebook or apart from it)."""
    output, error = None, ran.get("error")
    error = None if error is None else str(error)[:500]
    if error is None:
        try:
            output = plain(part.output(ran["results"], bool(ran["unchanged"])))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exception:
            error = (f"the answer's result does not have the form the part asks for "
                     f"({type(exception).__name__}: {exception}); see the part's instructions "
                     "for what to return.")
    return {"case": case_id, "output": output, "error": error, "calls": list(ran.get("calls", [])),
            "refused": list(ran.get("refused", []))}


def _handed_over(name: str) -> list[Case] | None:
    """The cases the grader handed over for part `name`, or None outside grading."""
    folder = os.environ.get(GRADING_ENV)
    path = Path(folder) / CASES_FILE if folder else None
    if path is None or not path.is_file():
        return None
    handed = json.loads(path.read_text())
    if handed.get("part") != name:
        return None
    return [Case.from_json(case) for case in handed["cases"]]


def _record(part: Part, answer: Any, cases: list[Case], context: Context) -> None:
    path = Path(os.environ[GRADING_ENV]) / RECORD_FILE
    for case in cases:
        entry = {"part": part.name, **run_case(part, answer, case, context)}
        with path.open("a", encoding="utf-8") as record:
            record.write(json.dumps(entry, allow_nan=True) + "\n")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence warnings, logging and stderr (Python's and the file descriptor's) for a block."""
    sys.stderr.flush()
    saved_fd = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull, warnings.catch_warnings(), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            previous_disable = logging.root.manager.disable
            logging.disable(logging.CRITICAL)
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved_fd, 2)
                logging.disable(previous_disable)
    finally:
        os.close(saved_fd)


@contextlib.contextmanager
def _watched(forbidden: tuple[str, ...], calls: list[str]) -> Iterator[None]:
    """Append to `calls` every call into the `forbidden` bertlab modules or functions made
    inside the block, by code object (so an alias or a copy of the function is caught too)."""
    codes = _code_objects(forbidden)
    if not codes:
        yield
        return

    def watch(frame, event, arg):
        if event == "call":
            name = codes.get(frame.f_code)
            if name is not None:
                calls.append(name)

    previous = sys.getprofile()
    sys.setprofile(watch)
    threading.setprofile(watch)
    try:
        yield
    finally:
        if sys.getprofile() is not watch:
            calls.append("sys.setprofile (the answer switched off the grader's watch)")
        sys.setprofile(None)
        threading.setprofile(None)
        with contextlib.suppress(TypeError):  # a C-level profiler (cProfile) cannot be set back
            sys.setprofile(previous)


@functools.lru_cache(maxsize=32)
def _code_objects(forbidden: tuple[str, ...]) -> dict[types.CodeType, str]:
    """{code object: dotted name} of every function defined in (or named by) the `forbidden`
    entries; a module's imports from elsewhere are not its own."""
    import importlib

    codes: dict[types.CodeType, str] = {}
    for dotted in forbidden:
        try:
            module = importlib.import_module(dotted)
        except ImportError:
            owner, _, attribute = dotted.rpartition(".")
            items = {dotted: getattr(importlib.import_module(owner), attribute)}
        else:
            items = {f"{dotted}.{name}": item for name, item in vars(module).items()
                     if getattr(item, "__module__", None) == module.__name__}
        for name, item in items.items():
            for function in _functions(item):
                codes[function.__code__] = name
    return codes


def _functions(item: Any) -> list[types.FunctionType]:
    """The plain Python functions behind `item`: itself, what it wraps, a class's methods."""
    found = []
    while item is not None and not isinstance(item, types.FunctionType) and hasattr(item, "__wrapped__"):
        item = item.__wrapped__
    if isinstance(item, types.FunctionType):
        found.append(item)
    elif isinstance(item, type):
        for member in vars(item).values():
            found += _functions(getattr(member, "__func__", member))
    return found
