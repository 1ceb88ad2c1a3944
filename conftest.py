"""Root conftest: loaded for tests/ and for the package's doctests alike."""

import pytest


# Tests that need the trained model zoo (`python -m bertlab.zoo build --all`, 18 fine-tuned
# models) carry the `zoo` marker, with the doctests of bertlab/zoo/ and of modules that load zoo models. `make test` runs them only after `make zoo`; see the Makefile.
_ZOO_MODULES = ("test_zoo.py", "test_diagnosis.py", "diagnosis.py", "course.py")


# Tests that need the built book (and Chromium), or the nbgrader pipeline with zoo models, carry
# `book` / `course`: `make test-book` and `make test-course` run them. Not yet in `make test`.
_BOOK_MODULES = ("test_book.py", "test_browser.py")
_COURSE_MODULES = ("test_course_e2e.py", "test_course_release.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in _ZOO_MODULES or item.path.parent.name == "zoo":
            item.add_marker(pytest.mark.zoo)
        if item.path.name in _BOOK_MODULES:
            item.add_marker(pytest.mark.book)
        if item.path.name in _COURSE_MODULES:
            item.add_marker(pytest.mark.course)
