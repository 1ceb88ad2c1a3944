"""Root conftest: loaded for tests/ and for the package's doctests alike.

Tests live in folders by what they need, and each folder gives its tests one marker:

* ``tests/unit``: hand-built tensors and tables, rules; no model (marker ``unit``);
* ``tests/model``: the tiny random BERTs and the real embedded model (marker ``model``);
* ``tests/zoo``: the trained model zoo (``make zoo``) (marker ``zoo``);
* ``tests/book``: the built book and Chromium (``make book``, ``make system``) (marker ``book``);
* ``tests/course``: the nbgrader pipeline on zoo models (marker ``course``).

``make test-quick`` runs every test that needs neither the zoo, the book nor nbgrader:
``pytest -m "not zoo and not book and not course"``. Doctests of modules that load zoo models
(`bertlab/zoo`, `diagnosis.py`) carry ``zoo`` too.
"""

import pytest

_FOLDER_MARKERS = {"unit": "unit", "model": "model", "zoo": "zoo", "book": "book",
                   "course": "course"}
# The book and the course read zoo models, so their tests need the zoo as well.
_NEEDS_ZOO = {"book", "course"}
_ZOO_DOCTEST_MODULES = ("diagnosis.py",)


def _test_folder(path) -> str | None:
    """The folder right under ``tests/`` that holds `path` (None outside ``tests/``)."""
    parts = path.parts
    if "tests" not in parts[:-1]:
        return None
    return parts[parts.index("tests") + 1] if parts.index("tests") + 1 < len(parts) - 1 else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = _FOLDER_MARKERS.get(_test_folder(item.path))
        if marker:
            item.add_marker(getattr(pytest.mark, marker))
            if marker in _NEEDS_ZOO:
                item.add_marker(pytest.mark.zoo)
        in_zoo_package = "zoo" in item.path.parts and "bertlab" in item.path.parts
        if item.path.name in _ZOO_DOCTEST_MODULES or in_zoo_package:
            item.add_marker(pytest.mark.zoo)
