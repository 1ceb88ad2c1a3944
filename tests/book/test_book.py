"""The book: it builds without a warning, its verdicts follow from its numbers, and every chapter
can be opened in Colab.

The build is slow (every chapter runs on the real model), so these tests reuse the build of the
same run: `make book` and `make test` run `jupyter-book build . -W -n --keep-going` and keep its
output in ``_build/build.log``. `book_build` reuses that build when the log is newer than every
source it depends on and says the build succeeded; otherwise it builds the book itself, the same
way, and writes the log.

The claim checks (``_build/claims/*.json``, written by the chapters through
`bertlab.claims.record`) are read as plain JSON and their verdicts re-derived here without
bertlab's own code, so a bug in `ClaimCheck.verdict` cannot hide itself.
"""

from __future__ import annotations

import json
import operator
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

pytestmark = pytest.mark.slow
# The build needs the trained model zoo (the fine-tuning chapters and the scorecard read it), so
# every test that reads the build carries the `zoo` mark too: `make test` runs them after
# `make zoo` and `make book`, and `pytest -m "not zoo"` never starts a book build.
needs_build = pytest.mark.zoo

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
LOG = BUILD / "build.log"
CLAIMS_DIR = Path(os.environ.get("BERTLAB_CLAIMS_DIR") or BUILD / "claims")
CLAIMS = [f"C{number}" for number in range(1, 12)]
# What the book's build depends on: a change to any of these makes an older build stale.
SOURCES = ["_config.yml", "_toc.yml", "references.bib", "book/**/*.md", "bertlab/**/*.py",
           "bertlab/data/*"]
# Sphinx reports problems as "WARNING: …", "ERROR: …" or "CRITICAL: …" (with -W the first
# becomes an error too). Other tools' log lines that merely contain the word, such as the
# kernel's "[IPKernelApp] WARNING | …", are not build warnings.
SPHINX_PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE):|Traceback \(most recent call last\)")
# The install cell every chapter starts with (it does nothing outside Colab).
COLAB_GUARD = 'if "google.colab" in sys.modules:'
COLAB_INSTALL = re.compile(r'%pip install -q "bertlab @ git\+https://github\.com/bertlab/bertlab"')
# How a condition of a claim check compares its value with its threshold.
OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def toc_pages() -> list[str]:
    """Every page of `_toc.yml`, root first, as paths relative to the root without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def build_is_current() -> bool:
    """A successful build whose log is newer than every source file."""
    if not (LOG.exists() and (HTML / "index.html").exists()):
        return False
    if "build succeeded" not in LOG.read_text(errors="replace"):
        return False
    newest_source = max(path.stat().st_mtime for pattern in SOURCES for path in ROOT.glob(pattern))
    return LOG.stat().st_mtime >= newest_source


@pytest.fixture(scope="session")
def book_build() -> str:
    """The log of a current build of the book (made here if `make book` did not make one)."""
    if not build_is_current():
        environment = {**os.environ, "BERTLAB_CLAIMS_DIR": str(CLAIMS_DIR),
                       "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
        for stale in CLAIMS_DIR.glob("C*.json"):
            stale.unlink()
        command = [str(Path(sys.executable).with_name("jupyter-book")), "build", ".", "-W", "-n",
                   "--keep-going"]
        result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True,
                                text=True, timeout=1800)
        BUILD.mkdir(exist_ok=True)
        LOG.write_text(result.stdout + result.stderr)
        assert result.returncode == 0, f"The book build failed; see {LOG}:\n{LOG.read_text()[-4000:]}"
    return LOG.read_text(errors="replace")


@pytest.fixture(scope="session")
def records(book_build) -> list[dict]:
    """Every claim record of the build, as plain JSON."""
    paths = sorted(CLAIMS_DIR.glob("C*.json"))
    assert paths, f"The build recorded no claim checks in {CLAIMS_DIR}."
    return [json.loads(path.read_text()) for path in paths]


def page(name: str) -> BeautifulSoup:
    return BeautifulSoup((HTML / f"{name}.html").read_text(), "html.parser")


def rederived_verdict(conditions: list[dict]) -> str:
    """The book's rule, written again: all conditions met, some, or none."""
    met = [OPERATORS[c["op"]](c["value"], c["threshold"]) for c in conditions]
    if all(met):
        return "holds"
    return "holds in part" if any(met) else "does not hold"


# --- the build ---------------------------------------------------------------------------------

@needs_build
def test_book_builds_without_warnings(book_build):
    problems = [line for line in book_build.splitlines() if SPHINX_PROBLEM.search(line)]
    assert not problems, "The book build reported problems:\n" + "\n".join(problems[:30])
    assert "build succeeded" in book_build


@needs_build
def test_every_toc_page_is_rendered(book_build):
    missing = [name for name in toc_pages() if not (HTML / f"{name}.html").exists()]
    assert not missing, f"Pages of _toc.yml with no HTML: {missing}"
    assert not (HTML / "solutions").exists() and not (HTML / "exercises").exists(), \
        "Only the pages of _toc.yml belong in the site (only_build_toc_files)."


# --- the claims --------------------------------------------------------------------------------

@needs_build
def test_every_recorded_verdict_follows_from_its_conditions(records):
    wrong = [(r["claim"], r["aspect"], r["verdict"], rederived_verdict(r["conditions"]))
             for r in records if r["verdict"] != rederived_verdict(r["conditions"])]
    assert not wrong, f"Verdicts that do not follow from their numbers (recorded, rule): {wrong}"


@needs_build
def test_every_claim_is_decided(records):
    decided = {r["claim"] for r in records}
    assert not set(CLAIMS) - decided, f"Claims with no recorded check: {sorted(set(CLAIMS) - decided)}"
    unknown = decided - set(CLAIMS)
    assert not unknown, f"Records of claims the seed does not make: {sorted(unknown)}"


def scorecard_rows() -> dict[tuple[str, str], list]:
    """The scorecard table: (claim, aspect) -> its cells (claim, aspect, verdict, conditions, chapter)."""
    table = next(t for t in page("book/scorecard").find_all("table")
                 if "deciding conditions" in t.get_text())
    rows = {}
    for tr in table.find("tbody").find_all("tr"):
        cells = tr.find_all("td")
        rows[(cells[0].get_text(strip=True), cells[1].get_text(strip=True))] = cells
    return rows


@needs_build
def test_scorecard_shows_every_record_with_its_verdict_and_numbers(records):
    rows = scorecard_rows()
    assert len(rows) == len(records), (
        f"The scorecard has {len(rows)} rows but the build recorded {len(records)} checks: a "
        f"stale record in {CLAIMS_DIR}, or a check the scorecard does not show.")
    for r in records:
        cells = rows.get((r["claim"], r["aspect"]))
        assert cells is not None, f"{r['claim']} ({r['aspect']}) is recorded but not on the scorecard"
        assert cells[2].get_text(strip=True) == r["verdict"], (r["claim"], r["aspect"])
        shown = [line.strip() for line in cells[3].get_text("\n").splitlines() if line.strip()]
        assert len(shown) == len(r["conditions"]), (r["claim"], shown)
        for condition, line in zip(r["conditions"], shown):
            met = OPERATORS[condition["op"]](condition["value"], condition["threshold"])
            numbers = f"{condition['value']:.3f} {condition['op']} {condition['threshold']:g}"
            assert line.startswith("✓" if met else "✗") and line.endswith(numbers), (line, numbers)
        link = cells[4].find("a")
        assert link is not None and link["href"].split("#")[0] == f"{r['chapter']}.html", \
            f"{r['claim']} should link to its chapter {r['chapter']!r}"


@needs_build
def test_intro_table_names_the_chapters_that_decide_each_claim(records):
    """The introduction's claims table is written by hand; the records say where each is decided."""
    table = next(t for t in page("book/intro").find_all("table") if "tested in" in t.get_text())
    linked = {tr.find("td").get_text(strip=True): {a["href"].split("#")[0] for a in tr.find_all("a")}
              for tr in table.find("tbody").find_all("tr")}
    for r in records:
        assert f"{r['chapter']}.html" in linked.get(r["claim"], set()), \
            f"The intro does not link {r['claim']} to {r['chapter']!r}, where a check decides it"


@needs_build
def test_chapters_show_the_verdicts_they_record(records):
    """Each chapter that records a check prints the same verdict (`ClaimCheck.to_markdown`)."""
    for r in records:
        text = " ".join(page(f"book/{r['chapter']}").get_text(" ").split())
        assert f"{r['claim']} {r['verdict']} ({r['aspect']})" in text, \
            f"book/{r['chapter']} does not show '{r['claim']} {r['verdict']}'"


# --- Colab and the launch buttons --------------------------------------------------------------

def test_config_has_top_level_launch_buttons():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    buttons = config.get("launch_buttons") or {}
    assert buttons.get("colab_url", "").startswith("https://colab.research.google.com")
    assert buttons.get("binderhub_url", "").startswith("https://")
    assert config["repository"]["url"] == "https://github.com/bertlab/bertlab"
    assert "launch_buttons" not in (config.get("sphinx", {}).get("config") or {})
    assert config["execute"]["execute_notebooks"] != "off"
    assert config["only_build_toc_files"] is True


def first_code_cell(text: str) -> str | None:
    match = re.search(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    return match.group(1) if match else None


@pytest.mark.parametrize("name", toc_pages())
def test_every_chapter_starts_with_the_colab_install_cell(name):
    text = (ROOT / f"{name}.md").read_text()
    cell = first_code_cell(text)
    if cell is None:      # a page without code (glossary, references) has nothing to install
        assert "kernelspec" not in text, f"{name} is a notebook without a code cell"
        return
    assert COLAB_GUARD in cell and COLAB_INSTALL.search(cell), \
        f"The first code cell of {name} must be the Colab install cell:\n{cell}"


@needs_build
def test_notebook_pages_have_a_colab_button(book_build):
    for name in toc_pages():
        if first_code_cell((ROOT / f"{name}.md").read_text()) is None:
            continue
        links = [a.get("href", "") for a in page(name).find_all("a")]
        assert any(href.startswith("https://colab.research.google.com/github/bertlab/bertlab")
                   for href in links), f"{name}.html has no Open-in-Colab button"
