"""Cache keys follow the code that computes what they cache (issue 13, item 4).

A zoo model's key covers the code that trains and saves it, the experiment tables' key the code
that measures the models; identical code gives identical keys, and editing a docstring or a
comment changes nothing. Each test edits a copy of the package's sources, never the real files.
"""

import shutil

import pytest
import yaml

from bertlab import sources
from bertlab.zoo import cache, experiment
from bertlab.zoo.__main__ import main as zoo_cli


@pytest.fixture
def copied_sources(tmp_path, monkeypatch):
    """A copy of bertlab's .py files that the keys read instead of the real ones."""
    shutil.copytree(sources.SOURCE_ROOT / "bertlab", tmp_path / "bertlab",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    monkeypatch.setattr(sources, "SOURCE_ROOT", tmp_path)
    return tmp_path / "bertlab"


def keys() -> tuple[str, str]:
    return cache.key("overfit", 0), experiment.tables_key()


def append(path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_identical_code_gives_identical_keys(copied_sources, monkeypatch):
    copied = keys()
    monkeypatch.undo()
    assert keys() == copied


@pytest.mark.parametrize("module, zoo_changes", [
    ("zoo/training.py", True),    # the training loop
    ("extraction.py", True),      # it tokenises the training batches
    ("classification.py", True),  # it measures the training curves (and early stopping)
    ("metrics.py", False),        # measured by the experiment only
    ("diagnosis.py", False),
])
def test_a_change_to_the_code_changes_the_keys_that_depend_on_it(copied_sources, module,
                                                                   zoo_changes):
    zoo_key, experiment_key = keys()
    append(copied_sources / module, "\nTHRESHOLD_CHANGED_BY_A_TEST = 0.5\n")
    new_zoo_key, new_experiment_key = keys()
    assert (new_zoo_key != zoo_key) == zoo_changes
    assert new_experiment_key != experiment_key  # the experiment measures what the zoo trains


def test_code_the_experiment_does_not_import_changes_no_key(copied_sources):
    before = keys()
    append(copied_sources / "views.py", "\nCOLOUR_CHANGED_BY_A_TEST = 'red'\n")
    assert keys() == before


def test_docstrings_and_comments_change_no_key(copied_sources):
    before = keys()
    training = copied_sources / "zoo" / "training.py"
    text = training.read_text(encoding="utf-8")
    text = text.replace('"""The zoo\'s fine-tuning loop', '"""Reworded: the zoo\'s fine-tuning loop')
    text = text.replace("def fine_tune(", "# a new comment\ndef fine_tune(", 1)
    training.write_text(text + "\n\n# a comment at the end\n", encoding="utf-8")
    assert keys() == before


def test_relative_absolute_and_function_level_imports_are_followed(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .a import run\n")
    (package / "a.py").write_text("from .sub import b\nimport pkg.c\n\ndef run():\n"
                                  "    from . import d\n    return b.VALUE\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("from ..e import NAME\nVALUE = 1\n")
    for name in ("c", "d", "e", "unused"):
        (package / f"{name}.py").write_text("X = 1\n")
    assert sources.imported_modules("pkg.a", root=tmp_path) == [
        "pkg.a", "pkg.c", "pkg.d", "pkg.e", "pkg.sub.b"]
    before = sources.code_fingerprint("pkg.a", root=tmp_path)
    (package / "unused.py").write_text("X = 2\n")
    assert sources.code_fingerprint("pkg.a", root=tmp_path) == before
    (package / "e.py").write_text("X = 2\n")
    assert sources.code_fingerprint("pkg.a", root=tmp_path) != before


def test_the_zoo_depends_neither_on_the_verdicts_nor_on_the_package_root():
    """Dependencies point down (issue 13, item 2): the trainer does not import the verdict
    module, and nothing of the zoo's training imports from the package root, which re-exports
    everything (its code would then be in every key)."""
    trained_by = sources.imported_modules("bertlab.zoo.cache")
    assert "bertlab.diagnosis" not in trained_by
    assert "bertlab" not in trained_by
    assert "bertlab" not in sources.imported_modules("bertlab.zoo.experiment")


def test_the_pages_workflow_restores_only_a_cache_of_the_same_key(capsys):
    """The zoo cache of .github/workflows/pages.yml is keyed by `python -m bertlab.zoo key` (all
    the experiment's keys in one hash), with no fallback to a cache of another key."""
    workflow = yaml.safe_load((sources.SOURCE_ROOT / ".github" / "workflows" / "pages.yml")
                              .read_text(encoding="utf-8"))
    steps = workflow["jobs"]["build"]["steps"]
    caches = [step for step in steps if step.get("uses", "").startswith("actions/cache")]
    assert len(caches) == 1 and "restore-keys" not in caches[0]["with"]
    key_step = next(step for step in steps if step.get("id") == "zoo")
    assert "python -m bertlab.zoo key" in key_step["run"]
    assert "steps.zoo.outputs.key" in caches[0]["with"]["key"]
    assert steps.index(key_step) < steps.index(caches[0])
    assert zoo_cli(["key"]) == 0
    assert capsys.readouterr().out.strip() == experiment.tables_key()
