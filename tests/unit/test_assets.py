"""The third-party files bertlab carries (bertlab/assets) are what ASSETS.json says: the npm
packages pinned in package-lock.json, byte for byte, each with its licence, and in the wheel.

That they equal a fresh ``npm ci`` is checked in tests/book/test_assets_match_npm.py (it needs
``make assets``)."""

import hashlib
import json
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "bertlab" / "assets"
MANIFEST = json.loads((ASSETS / "ASSETS.json").read_text())
LOCK = json.loads((ROOT / "package-lock.json").read_text())["packages"]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_asset_is_the_recorded_file_of_the_locked_npm_package(name):
    record = MANIFEST[name]
    assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == record["sha256"], \
        f"{name} differs from what scripts/vendor_assets.py recorded: run `make vendor`."
    locked = LOCK[f"node_modules/{record['package']}"]["version"]
    assert record["version"] == locked, \
        f"{name} is from {record['package']} {record['version']}, the lock pins {locked}."


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_asset_ships_with_its_licence(name):
    licence = (ASSETS / MANIFEST[name]["licence"]).read_text()
    expected = {"d3": "Redistribution and use in source and binary forms", "jquery": "Permission is hereby granted",
                "@fontsource/noto-sans-jp": "SIL Open Font License"}
    assert expected[MANIFEST[name]["package"]] in licence


def test_the_folder_holds_nothing_unrecorded_and_the_wheel_takes_it():
    recorded = set(MANIFEST) | {r["licence"] for r in MANIFEST.values()} | {"ASSETS.json"}
    assert {path.name for path in ASSETS.iterdir()} == recorded
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "assets/*" in package_data["package-data"]["bertlab"]


def test_bertvizs_libraries_are_the_versions_its_views_ask_for():
    """BertViz 1.4 asks for d3 5.7.0 and jQuery 2.x (2.0.0 is not on npm; 2.2.4 is its last)."""
    assert MANIFEST["d3.min.js"]["version"] == "5.7.0"
    assert MANIFEST["jquery.min.js"]["version"].startswith("2.")
