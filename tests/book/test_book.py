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

import itertools
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
           "bertlab/data/*", "book/_ext/*.py", "book/_static/*", "package-lock.json"]
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


def rederived_met(item: dict) -> bool | None:
    """Met, not met, or undecided (None): the whole interval on one side of the threshold, or not."""
    passes = OPERATORS[item["op"]]
    low, high = passes(item["low"], item["threshold"]), passes(item["high"], item["threshold"])
    return low if low == high else None


def rederived_verdict(record: dict) -> str:
    """The book's rule, written again from the JSON alone: premises first; then the verdicts that
    every settling of the undecided conditions gives, which must agree."""
    if record.get("untestable") or any(rederived_met(p) is False for p in record["premises"]):
        return "not testable"
    if any(rederived_met(p) is None for p in record["premises"]):
        return "undecided"
    met = [rederived_met(c) for c in record["conditions"]]
    outcomes = set()
    for settled in itertools.product(*[(m,) if m is not None else (True, False) for m in met]):
        outcomes.add("holds" if all(settled) else "holds in part" if any(settled) else "does not hold")
    return outcomes.pop() if len(outcomes) == 1 else "undecided"


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
def test_every_condition_is_met_only_when_its_whole_interval_is_on_one_side(records):
    for r in records:
        for item in (*r["premises"], *r["conditions"]):
            assert item["low"] <= item["value"] <= item["high"], (r["claim"], item["text"])
            assert item["met"] == rederived_met(item), (
                f"{r['claim']} ({r['aspect']}): “{item['text']}” is recorded as met={item['met']} "
                f"but its interval [{item['low']}, {item['high']}] against {item['op']} "
                f"{item['threshold']} says {rederived_met(item)}")


@needs_build
def test_every_recorded_verdict_follows_from_its_conditions(records):
    wrong = [(r["claim"], r["aspect"], r["verdict"], rederived_verdict(r))
             for r in records if r["verdict"] != rederived_verdict(r)]
    assert not wrong, f"Verdicts that do not follow from their numbers (recorded, rule): {wrong}"


@needs_build
def test_fragile_records_name_a_threshold_move_that_flips_the_verdict(records):
    for r in records:
        for flip in r["fragile"]:
            moved = json.loads(json.dumps(r))
            items = moved["premises"] if flip["kind"] == "premise" else moved["conditions"]
            target = next(i for i in items if i["text"] == flip["text"])
            assert flip["moved_to"] == pytest.approx(target["threshold"] * 0.8) or \
                flip["moved_to"] == pytest.approx(target["threshold"] * 1.2)
            target["threshold"] = flip["moved_to"]
            assert rederived_verdict(moved) == flip["verdict"] != r["verdict"], (r["claim"], flip)


@needs_build
def test_every_claim_is_decided(records):
    decided = {r["claim"] for r in records}
    assert not set(CLAIMS) - decided, f"Claims with no recorded check: {sorted(set(CLAIMS) - decided)}"
    unknown = decided - set(CLAIMS)
    assert not unknown, f"Records of claims the seed does not make: {sorted(unknown)}"


def scorecard_table():
    """The scorecard's table at a glance: one row per claim."""
    return next(t for t in page("book/scorecard").find_all("table")
                if "conditions met" in t.get_text())


@needs_build
def test_scorecard_shows_every_claim_at_a_glance_before_any_code(records):
    soup = page("book/scorecard")
    table = scorecard_table()
    code = soup.select("div.cell_input, div.highlight")
    assert not code or table.sourceline < code[0].sourceline, "the table must come before any code"
    rows = {tr.find("td").find("strong").get_text(strip=True): tr.find_all("td")
            for tr in table.find("tbody").find_all("tr")}
    assert list(rows) == CLAIMS
    for claim, cells in rows.items():
        mine = [r for r in records if r["claim"] == claim]
        overall = cells[1].get_text(" ", strip=True)
        assert any(v in overall for v in ("holds", "not hold", "undecided", "not testable"))
        for r in mine:
            assert f"{r['aspect']}: " in cells[2].get_text(" ", strip=True)
            assert r["verdict"] in cells[2].get_text(" ", strip=True)
        testable = [r for r in mine if r["verdict"] != "not testable"]  # their conditions decide
        met = sum(c["met"] is True for r in testable for c in r["conditions"])
        total = sum(len(r["conditions"]) for r in testable)
        counted = cells[3].get_text(" ", strip=True)
        assert counted.startswith(f"{met} of {total}") if testable else counted == "–"
        links = {a["href"].split("#")[0] for a in cells[5].find_all("a")}
        assert links == {f"{r['chapter']}.html" for r in mine}, claim


@needs_build
def test_scorecard_details_show_every_check_with_its_numbers(records):
    text = " ".join(page("book/scorecard").get_text(" ").split())
    for r in records:
        assert f"{r['claim']} {r['verdict']} ({r['aspect']})" in text, (r["claim"], r["aspect"])
        for item in r["conditions"]:
            assert f"{item['value']:.3f}" in text, (r["claim"], item["text"])
        if r["fragile"]:
            assert "fragile" in text


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
