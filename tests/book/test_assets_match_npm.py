"""The files bertlab carries in bertlab/assets are byte for byte those of a fresh ``npm ci``
(``make assets``) of the lock file: nobody edited or replaced them by hand."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "bertlab" / "assets"
NODE_MODULES = ROOT / "node_modules"
MANIFEST = json.loads((ASSETS / "ASSETS.json").read_text())


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_vendored_file_equals_the_npm_file(name):
    record = MANIFEST[name]
    package = NODE_MODULES / record["package"]
    if not package.is_dir():
        pytest.fail(f"{package} is missing: run `make assets` (npm ci).")
    assert (ASSETS / name).read_bytes() == (package / record["source"]).read_bytes(), \
        f"bertlab/assets/{name} is not {record['package']}/{record['source']}: run `make vendor`."
