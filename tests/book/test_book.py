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
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from filelock import FileLock

pytestmark = pytest.mark.slow
# The build needs the trained model zoo (the fine-tuning chapters and the scorecard read it), so
# every test that reads the build carries the `zoo` mark too: `make test` runs them after
# `make zoo` and `make book`, and `pytest -m "not zoo"` never starts a book build.
needs_build = pytest.mark.zoo

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
LOG = BUILD / "build.log"
# `make test` runs the tests in two processes (pytest-xdist): whichever first finds the build stale
# builds it while holding this lock, and the other waits for that build instead of starting its own.
BUILD_LOCK = BUILD / ".build.lock"
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
    BUILD.mkdir(exist_ok=True)
    with FileLock(BUILD_LOCK):
        if not build_is_current():
            build_book()
    return LOG.read_text(errors="replace")


def build_book() -> None:
    """Build the English edition from scratch, as `make book-en` does, into ``_build``."""
    environment = {**os.environ, "BERTLAB_CLAIMS_DIR": str(CLAIMS_DIR),
                   "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    for stale in CLAIMS_DIR.glob("C*.json"):
        stale.unlink()
    # The execution cache knows the chapters' code, not bertlab's, and Sphinx rereads only
    # the pages whose source changed: both go, so that every chapter is executed again and
    # writes its claim records again, with the code as it is now.
    for folder in (".jupyter_cache", ".doctrees"):
        shutil.rmtree(BUILD / folder, ignore_errors=True)
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", ".", "-W", "-n",
               "--keep-going"]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=1800)
    LOG.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"The book build failed; see {LOG}:\n{LOG.read_text()[-4000:]}"


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

def build_problems(log: str) -> list[str]:
    """The lines of a Sphinx build log that report a problem; a log that does not end in
    success is one too."""
    problems = [line for line in log.splitlines() if SPHINX_PROBLEM.search(line)]
    return problems + ([] if "build succeeded" in log else ["(the build did not succeed)"])


@needs_build
def test_book_builds_without_warnings(book_build):
    problems = build_problems(book_build)
    assert not problems, "The book build reported problems:\n" + "\n".join(problems[:30])


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


# --- a book a reader can read (the page pass) --------------------------------------------------
# What a reader of the rendered site meets: prose and figures first, code folded away, one
# counting of layers and heads, figures drawn for the column, a computed summary at the end of
# every chapter, and terms linked to the glossary. All read from the built HTML.

#: The largest share of a page's code cells whose code is shown by default: one in three. The
#: chapters read as prose and figures; the code a reader should see is the code that shows how to
#: use bertlab (load a model, extract, score, run a claim check), three to five short cells in a
#: chapter of twelve to twenty. Everything that only computes the numbers quoted in the prose,
#: draws a figure or formats a table folds behind the toggle ("hide-input"), and bookkeeping
#: (glue, the Colab install cell) is removed. A third leaves room for those usage cells and no
#: more: at a half, the plotting code of a chapter would fit under the bar again.
MAX_SHOWN_CODE = 1 / 3
#: The chapters that decide claims or teach the tools, which end with a computed summary.
CHAPTERS = ["book/extracting", "book/cls", "book/sep", "book/roles", "book/finetuned",
            "book/finetuned_experiment", "book/beyond_attention", "book/bertviz"]
#: The one place that explains the tensor's 0-based counting (DESIGN.md: "the book says so once,
#: where the tensor is introduced").
COUNTING_PAGE = "book/extracting"
#: Ways a page can count layers and heads from 0, or mix two countings, in what a reader sees.
MIXED_NUMBERING = [
    re.compile(r"\b[01]-based\b", re.I),                                  # "(0-based)", "1-based"
    re.compile(r"\b(layers?|heads?) 0\b(?![.,]?\d)", re.I),               # "layer 0", "head 0"
    re.compile(r"\b(layer|head)s? (index|indices)\b", re.I),              # "layer indices from 3"
    re.compile(r"\b(layers?|heads?)\b[^.]{0,60}\b(counted|counting|numbered) from 0", re.I),
]
#: A figure is drawn for the text column: the column shows images up to about 790 px wide (the
#: book theme at a 1400 px window, measured), and a figure wider than 870 px would be shrunk below
#: 90 % of its drawn size, its 10-point labels below 12 px. Figures are drawn at 100 dpi.
MAX_FIGURE_PX = 870


def reader_text(soup: BeautifulSoup) -> BeautifulSoup:
    """The article a reader sees, without code inputs (shown or folded) and without the page's
    navigation: prose, outputs, tables, admonitions."""
    article = soup.select_one("article.bd-article") or soup
    for code in article.select("div.cell_input, details.above-input"):
        code.decompose()
    return article


def code_cells(name: str) -> tuple[int, int]:
    """(cells on the page, cells whose code is shown by default) of a built page. A cell whose
    input is folded sits in a <details>; a removed input leaves only the outputs."""
    cells = page(name).select("div.cell")
    shown = [cell for cell in cells
             if (inputs := cell.select_one("div.cell_input")) and inputs.find_parent("details") is None]
    return len(cells), len(shown)


def pages_with_code() -> list[str]:
    return [name for name in toc_pages() if first_code_cell((ROOT / f"{name}.md").read_text())]


@needs_build
@pytest.mark.parametrize("name", pages_with_code())
def test_at_most_a_third_of_a_pages_code_is_shown(book_build, name):
    total, shown = code_cells(name)
    assert total, f"{name} has code cells in its source but none on the page"
    assert shown / total <= MAX_SHOWN_CODE, (
        f"{name} shows the code of {shown} of its {total} cells ({shown / total:.0%}); at most "
        f"{MAX_SHOWN_CODE:.0%}: fold computing and formatting cells (hide-input)")


def test_the_share_of_shown_code_is_counted_from_the_page_structure():
    """`code_cells` on hand-made HTML: a shown, a folded and a removed input."""
    html = """<article class="bd-article">
      <div class="cell"><div class="cell_input">shown</div><div class="cell_output">1</div></div>
      <div class="cell"><details class="hide above-input"><summary>Show code</summary>
        <div class="cell_input">folded</div></details><div class="cell_output">2</div></div>
      <div class="cell"><div class="cell_output">removed input</div></div></article>"""
    soup = BeautifulSoup(html, "html.parser")
    cells = soup.select("div.cell")
    shown = [c for c in cells if (i := c.select_one("div.cell_input")) and i.find_parent("details") is None]
    assert (len(cells), len(shown)) == (3, 1)
    assert "folded" not in reader_text(soup).get_text() and "removed input" in reader_text(soup).get_text()


def mixed_numbering(text: str) -> list[str]:
    """The phrases of `text` that count layers or heads from 0 or name two countings."""
    return [match.group(0) for pattern in MIXED_NUMBERING for match in pattern.finditer(text)]


def test_the_numbering_scan_catches_what_it_is_meant_to():
    for wrong in ("Head 5 of layer 4 (0-based)", "layer (0-based)", "in layer 0, the lowest",
                  "layers 6–10 (1-based)", "In the upper half (layer indices from 3 on)",
                  "head 0 of each layer", "layers are counted from 0 here"):
        assert mixed_numbering(wrong), wrong
    for right in ("layer 1, head 3", "layers 5–6 of 6", "segment B starts at position 7 (counting "
                  "from 0)", "a layer 0.5 of the way up", "hidden dimension 99", "seed 0"):
        assert not mixed_numbering(right), right


def grid(table) -> list[list[str]]:
    """A table's rows as lists of cell texts, with colspan and rowspan spread out."""
    rows, carried = [], {}
    for tr in table.find_all("tr"):
        row, column = [], 0
        for cell in tr.find_all(["th", "td"]):
            while (column in carried) and carried[column][1] > 0:
                row.append(carried[column][0])
                carried[column][1] -= 1
                column += 1
            text = cell.get_text(" ", strip=True)
            for _ in range(int(cell.get("colspan", 1))):
                if int(cell.get("rowspan", 1)) > 1:
                    carried[column] = [text, int(cell["rowspan"]) - 1]
                row.append(text)
                column += 1
        while (column in carried) and carried[column][1] > 0:
            row.append(carried[column][0])
            carried[column][1] -= 1
            column += 1
        rows.append(row)
    return rows


def columns_counting_from_zero(table) -> list[str]:
    """Headers of a table's columns named "layer…" or "head…" whose values include 0."""
    rows = grid(table)
    header_rows = len(table.select("thead tr")) or 1
    wrong = []
    for column in range(max(map(len, rows), default=0)):
        header = " ".join(r[column] for r in rows[:header_rows] if column < len(r)).strip().lower()
        if not re.match(r"^(layer|head)\b", header):
            continue
        values = [r[column] for r in rows[header_rows:] if column < len(r)]
        numbers = [int(v) for v in values if re.fullmatch(r"\d+", v)]
        if numbers and min(numbers) == 0:
            wrong.append(header)
    return wrong


def test_the_table_scan_finds_a_layer_column_counting_from_zero():
    zero = pd_html(["layer", "cls_share"], [[0, 0.2], [1, 0.5]], index_name=None)
    one = pd_html(["layer", "cls_share"], [[1, 0.2], [2, 0.5]], index_name=None)
    index = pd_html(["cls_share"], [[0.2], [0.5]], index_name="layer (1 = lowest)", index=[0, 1])
    assert columns_counting_from_zero(zero) == ["layer"]
    assert columns_counting_from_zero(one) == []
    assert columns_counting_from_zero(index) == ["layer (1 = lowest)"]


def pd_html(columns, rows, index_name, index=None):
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns, index=index)
    frame.index.name = index_name
    html = frame.to_html(index=index is not None)
    return BeautifulSoup(html, "html.parser").find("table")


@needs_build
@pytest.mark.parametrize("name", toc_pages())
def test_a_reader_meets_one_counting_of_layers_and_heads(book_build, name):
    article = reader_text(page(name))
    blocks = article.find_all(["p", "li", "dd", "dt", "th", "td", "caption", "figcaption", "pre",
                               "h1", "h2", "h3"])
    found = [(phrase, " ".join(block.get_text(" ").split())[:120]) for block in blocks
             if not block.find(["p", "li", "td", "th"])          # innermost blocks only
             for phrase in mixed_numbering(block.get_text(" "))]
    explained = [f for f in found if re.match(r"0-based", f[0], re.I)]
    if name == COUNTING_PAGE:
        assert len({context for _, context in explained}) == 1, (
            f"{name} must explain the 0-based counting in exactly one place: {explained}")
        found = [f for f in found if f not in explained]
    assert not found, f"{name} shows layers or heads counted from 0, or two countings: {found}"
    for table in article.find_all("table"):
        assert not columns_counting_from_zero(table), (
            f"{name}: a table counts {columns_counting_from_zero(table)} from 0")


@needs_build
def test_the_tensors_counting_is_explained_where_the_tensor_is_introduced(book_build):
    text = " ".join(reader_text(page(COUNTING_PAGE)).get_text(" ").split())
    assert re.search(r"0-based", text) and "layer 1, head 3" in text


@needs_build
@pytest.mark.parametrize("name", toc_pages())
def test_figures_are_drawn_for_the_text_column(book_build, name):
    from PIL import Image

    for image in reader_text(page(name)).select("div.cell_output img"):
        path = (HTML / name).parent / image["src"]
        if path.suffix != ".png":
            continue
        width, height = Image.open(path).size
        assert width <= MAX_FIGURE_PX, (
            f"{name}: a figure {width} px wide ({path.name}) is shrunk to the column and its labels "
            f"become unreadable; draw it at most {MAX_FIGURE_PX / 100:g} inches wide (stack panels)")


def found_box(name: str):
    """The "What this chapter found" admonition of a built chapter, or None."""
    for box in page(name).select("div.admonition"):
        title = box.select_one(".admonition-title")
        if title and title.get_text(strip=True) == "What this chapter found":
            return box
    return None


@needs_build
@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_ends_with_a_computed_summary_of_what_it_found(records, name):
    box = found_box(name)
    assert box is not None, f"{name} has no 'What this chapter found' box"
    assert box.find_parent("div", class_="cell_output") is not None, \
        f"{name}: the summary must be printed by a cell (computed), not typed"
    sections = page(name).select("article.bd-article section section")
    assert box.find_parent("section").get("id") == sections[-1].get("id"), \
        f"{name}: the summary is not the last section"
    text = " ".join(box.get_text(" ").split())
    for r in records:
        if r["chapter"] == name.removeprefix("book/"):
            assert r["claim"] in text and r["verdict"] in text, (
                f"{name}: the summary does not give {r['claim']}'s verdict ({r['verdict']})")


@needs_build
def test_the_glossary_speaks_to_readers_and_the_chapters_link_to_it(book_build):
    glossary = " ".join(reader_text(page("book/glossary")).get_text(" ").split())
    assert "{term}" not in glossary and "Refer to a term" not in glossary, \
        "the glossary shows an authoring note"
    assert page("book/glossary").select("dl.glossary dt"), "the glossary lists no terms"


@needs_build
@pytest.mark.parametrize("name", ["book/tokens", *CHAPTERS])
def test_chapters_link_their_terms_to_the_glossary(book_build, name):
    links = [a for a in reader_text(page(name)).select("a.reference")
             if a.get("href", "").split("#")[0].endswith("glossary.html") and "#term-" in a["href"]]
    assert links, f"{name} links no term to the glossary (use the {{term}} role)"
