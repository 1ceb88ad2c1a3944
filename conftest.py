"""Root conftest: loaded for tests/ and for the package's doctests alike."""

import pytest


# Tests that need the trained model zoo (`python -m bertlab.zoo build --all`, 18 fine-tuned
# models) carry the `zoo` marker. `make test` runs them only after `make zoo`; see the Makefile.
_ZOO_MODULES = ("test_zoo.py", "test_diagnosis.py", "diagnosis.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in _ZOO_MODULES:
            item.add_marker(pytest.mark.zoo)
