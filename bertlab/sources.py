"""Fingerprints of the code behind a cached result, so that a fix to the code recomputes it.

Book chapters: "Fine-tuned and overfit models" (how the zoo cache is kept honest) and "Claims
scorecard" (the results the chapters share). A zoo model's cache key (`bertlab.zoo.cache.key`),
the experiment tables' key and every result kept by `bertlab.caching.on_disk` hash the source of
the module that computes them and of every bertlab module it imports, directly or through others:
a change to the training loop, to `bertlab.extraction` (which tokenises the training batches) or
to `bertlab.metrics` (which the experiment measures with) gives new keys, and the old cache is
never read again. Docstrings and comments are left out of the hash, so editing them rebuilds
nothing.

Imports are read from the source (every ``import`` statement, also those inside functions), not
from what Python has loaded. The packages above a module are not followed (``bertlab/__init__.py``
only re-exports names); a module that imports a name from the package root does depend on it, and
then on everything the root imports.

>>> "bertlab.extraction" in imported_modules("bertlab.zoo.training")
True
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

__all__ = ["SOURCE_ROOT", "imported_modules", "code_fingerprint"]

#: The folder that holds the ``bertlab`` package: module names are looked up as files under it.
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def imported_modules(module: str, root: Path | None = None) -> list[str]:
    """`module` and every module of its package that it imports, directly or not, sorted.

    Only modules of the same top-level package (``bertlab``) are followed; ``from a import b``
    counts as importing the module ``a.b`` where there is one, and ``a`` otherwise.
    """
    root = SOURCE_ROOT if root is None else Path(root)
    package = module.split(".")[0]
    found, pending = set(), [module]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        path = _source_file(name, root)
        for imported in _imports(name, path, path.read_text(encoding="utf-8")):
            if imported.split(".")[0] == package and imported not in found:
                pending.append(imported if _find(imported, root) else imported.rsplit(".", 1)[0])
    return sorted(found)


def code_fingerprint(*modules: str, root: Path | None = None) -> str:
    """A 16-character hash of the code of `modules` and of every module they import.

    The same code (whatever its docstrings and comments) gives the same fingerprint.
    """
    names = sorted({name for module in modules for name in imported_modules(module, root)})
    digest = hashlib.sha256()
    for name in names:
        source = _source_file(name, SOURCE_ROOT if root is None else Path(root))
        digest.update(f"{name}\n{_code(source.read_text(encoding='utf-8'))}\n".encode())
    return digest.hexdigest()[:16]


def _find(module: str, root: Path) -> Path | None:
    """The file of `module` under `root` (``a/b.py`` or ``a/b/__init__.py``), or None."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _source_file(module: str, root: Path) -> Path:
    path = _find(module, root)
    if path is None:
        raise FileNotFoundError(f"No source file for module {module!r} under {root}.")
    return path


def _imports(module: str, path: Path, source: str) -> list[str]:
    """Absolute names of what `module` (at `path`) imports: ``a.b`` for both ``import a.b`` and
    ``from a import b`` (whether ``b`` is a module or not is decided by the caller)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for level, base, aliases in _import_statements(source):
        if level:  # relative: ``from ..x import y`` inside `package`
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - level + 1] + ([base] if base else []))
        names += [f"{base}.{alias}" for alias in aliases] if aliases else [base]
    return names


@functools.lru_cache(maxsize=256)
def _import_statements(source: str) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """Every import of a source text as (level, module, names): ``import a.b`` is
    ``(0, "a.b", ())``, ``from ..a import b, c`` is ``(2, "a", ("b", "c"))``."""
    statements = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            statements += [(0, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            statements.append((node.level, node.module or "",
                               tuple(alias.name for alias in node.names if alias.name != "*")))
    return tuple(statements)


@functools.lru_cache(maxsize=256)
def _code(source: str) -> str:
    """The source text re-written from its syntax tree without docstrings: comments, blank lines
    and layout are gone too, so only a change to what the code does changes the text."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)
