"""Root conftest: loaded for tests/ and for the package's doctests alike."""

import pytest


# Tests that need the trained model zoo (`make zoo`: 24 fine-tuned models and the experiment's
# tables) carry the `zoo` marker, with the doctests of bertlab/zoo/ and of modules that load zoo
# models. `make test` builds the zoo first and runs them all; `make test-quick` leaves them out.
_ZOO_MODULES = ("test_zoo.py", "test_diagnosis.py", "diagnosis.py", "course.py")


# Tests that need the built book (and Chromium), or the nbgrader pipeline with zoo models, carry
# `book` / `course`: `make test` runs them after `make book`; `make test-quick` leaves them out.
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
