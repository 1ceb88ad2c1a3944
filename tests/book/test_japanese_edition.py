"""The Japanese edition (``_build/html/ja``): built from the English build's executed chapters,
kept in step with the English text, and working in a browser that can reach nothing else.

`make book` builds the English edition (it executes every chapter) and then the Japanese one
(``make book-ja``: Sphinx with ``language=ja``, the prose from ``locale/ja``, the outputs from
the English build's execution cache). These tests read both builds (`ja_build` reuses
``_build/build-ja.log`` when it is current, else runs ``make book-ja``) and check:

* the Japanese build is warning-free and **executes nothing** (its log reads every notebook
  page from the cache; the editions extension would stop it otherwise);
* every page exists in both editions, each with a switch to the same page in the other;
* both editions carry, in their pages, the claim records of one run, equal to the files the
  English run wrote (``_build/claims``);
* the pages declared translated (``bertlab_editions.ja.translated`` in ``_config.yml``) have every
  catalogue entry that a fresh extraction of the English source asks for, translated and not
  fuzzy, and no English paragraph left on their Japanese page;
* in Chromium with every outside request blocked: every Japanese page loads cleanly, draws its
  maths and BertViz views, renders Japanese in the shipped font, and its switch leads to the
  same page in English and back (screenshots ``test-artifacts/ja-page-*.png``).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup
from filelock import FileLock

from bertlab.claims import RECORD_SCRIPT_CLASS
from browsing import JAPANESE, Visit
from test_book import (BUILD, BUILD_LOCK, CLAIMS_DIR, HTML, LOG, ROOT, SOURCES,  # noqa: F401
                       book_build, build_problems, build_is_current, needs_build, records, toc_pages)
from test_browser import browser, page_problems  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

JA_HTML = HTML / "ja"
JA_LOG = BUILD / "build-ja.log"
LOCALE = ROOT / "locale" / "ja" / "LC_MESSAGES"
# What the Japanese build depends on besides the English build's sources.
JA_SOURCES = ["locale/ja/LC_MESSAGES/**/*.po", "book/_ext/**/*", "Makefile"]
EDITIONS = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["bertlab_editions"]
TRANSLATED = EDITIONS["ja"]["translated"]


def ja_build_is_current() -> bool:
    """A successful Japanese build, newer than the English build and every source."""
    if not (build_is_current() and JA_LOG.exists() and (JA_HTML / "index.html").exists()):
        return False
    if "build succeeded" not in JA_LOG.read_text(errors="replace"):
        return False
    newest = max(path.stat().st_mtime for pattern in SOURCES + JA_SOURCES
                 for path in ROOT.glob(pattern))
    return JA_LOG.stat().st_mtime >= max(newest, LOG.stat().st_mtime)


@pytest.fixture(scope="session")
def ja_build(book_build) -> str:
    """The log of a current Japanese build (made here, by `make book-ja`, if need be)."""
    with FileLock(BUILD_LOCK):   # one build at a time, whichever test process finds it stale
        if not ja_build_is_current():
            result = subprocess.run(["make", "-s", "book-ja"], cwd=ROOT, capture_output=True,
                                    text=True, timeout=1800)
            assert result.returncode == 0, \
                f"make book-ja failed:\n{(result.stdout + result.stderr)[-4000:]}"
    return JA_LOG.read_text(errors="replace")


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(), "html.parser")


def notebook_pages() -> list[str]:
    """The pages that are notebooks (MyST with a kernel): the ones a build would execute."""
    return [name for name in toc_pages()
            if "kernelspec:" in (ROOT / f"{name}.md").read_text().split("\n---", 1)[0]]


# --- the build ---------------------------------------------------------------------------------

@needs_build
def test_japanese_build_is_warning_free(ja_build):
    problems = build_problems(ja_build)
    assert not problems, "The Japanese build reported problems:\n" + "\n".join(problems[:30])


@needs_build
def test_japanese_build_executes_no_chapter(ja_build):
    executed = [line for line in ja_build.splitlines() if "Executing notebook" in line]
    assert not executed, f"The Japanese build executed chapters: {executed}"
    cached = re.findall(r"Using cached notebook: ID=\d+", ja_build)
    assert len(cached) == len(notebook_pages()), (
        f"Every notebook page ({len(notebook_pages())}) should come from the English build's "
        f"execution cache; the log reads {len(cached)} from it.")


@needs_build
def test_every_page_is_in_both_editions_with_a_switch_to_the_other(ja_build):
    for name in toc_pages():
        english, japanese = HTML / f"{name}.html", JA_HTML / f"{name}.html"
        assert english.exists() and japanese.exists(), name
        assert soup(japanese).html["lang"] == "ja" and soup(english).html["lang"] == "en"
        for page, other in ((english, japanese), (japanese, english)):
            links = soup(page).select("a.bertlab-language-switch")
            assert len(links) == 1, f"{page}: one language switch expected, found {len(links)}"
            target = posixpath.normpath(posixpath.join(posixpath.dirname(
                page.relative_to(HTML).as_posix()), links[0]["href"]))
            assert target == other.relative_to(HTML).as_posix(), (page, links[0]["href"])


def records_by_page(root: Path) -> dict[str, list[dict]]:
    """Every claim record a page of the edition in `root` carries, page by page."""
    found = {}
    for name in toc_pages():
        scripts = soup(root / f"{name}.html").select(f"script.{RECORD_SCRIPT_CLASS}")
        if scripts:
            found[name] = [json.loads(script.string) for script in scripts]
    return found


@needs_build
def test_both_editions_carry_the_claim_records_of_one_run(ja_build):
    english, japanese = records_by_page(HTML), records_by_page(JA_HTML)
    assert english, "no page of the English edition carries a claim record"
    assert japanese == english, "the two editions show different claim records"
    files = {(r["claim"], r["aspect"]): r for r in
             (json.loads(path.read_text()) for path in CLAIMS_DIR.glob("C*.json"))}
    shown = {(r["claim"], r["aspect"]): r for r in english["book/scorecard"]}
    assert shown == files, "the scorecard's records differ from the files the run wrote"


# --- kept in step with the English text --------------------------------------------------------

@pytest.fixture(scope="module")
def fresh_catalogues(tmp_path_factory) -> Path:
    """The catalogue templates (.pot) of the English source as it is now, extracted like
    `make locale` does (execution off), into a temporary folder."""
    out = tmp_path_factory.mktemp("gettext")
    bin_ = Path(sys.executable).parent
    subprocess.run([str(bin_ / "jupyter-book"), "config", "sphinx", "."], cwd=ROOT, check=True,
                   capture_output=True)
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "book" / "_ext")}
    subprocess.run([str(bin_ / "sphinx-build"), "-b", "gettext", "-Q", "-D",
                    "nb_execution_mode=off", "-d", str(out / ".doctrees"), ".", str(out)],
                   cwd=ROOT, check=True, capture_output=True, env=environment, timeout=600)
    return out


def catalogue(path: Path):
    with path.open("rb") as stream:
        return read_po(stream)


@pytest.mark.parametrize("name", TRANSLATED)
def test_a_translated_page_has_every_entry_translated_and_none_fuzzy(fresh_catalogues, name):
    wanted = [m.id for m in catalogue(fresh_catalogues / f"{name}.pot") if m.id]
    po = LOCALE / f"{name}.po"
    assert po.exists(), f"{name} is declared translated but has no catalogue {po}"
    have = {m.id: m for m in catalogue(po) if m.id}
    missing = [msgid for msgid in wanted if msgid not in have]
    fuzzy = [msgid for msgid in wanted if msgid in have and have[msgid].fuzzy]
    empty = [msgid for msgid in wanted if msgid in have and not have[msgid].string]
    assert not missing, f"{name}: the English text changed; run `make locale` and translate {missing[:3]}"
    assert not fuzzy, f"{name}: fuzzy entries (English changed since translated): {fuzzy[:3]}"
    assert not empty, f"{name}: untranslated entries: {empty[:3]}"


def test_every_catalogue_entry_is_text_of_its_page_never_computed_output():
    for po in sorted(LOCALE.glob("**/*.po")):
        name = po.relative_to(LOCALE).with_suffix("").as_posix()
        source = " ".join((ROOT / f"{name}.md").read_text().split())
        foreign = [m.id for m in catalogue(po) if m.id   # (babel leaves obsolete entries out)
                   and " ".join(m.id.split()) not in source]
        assert not foreign, f"{po}: entries that are not text of {name}.md: {foreign[:3]}"


# An English sentence: five Latin words or more in a row, with nothing Japanese between them.
LATIN_WORD = r"[A-Za-z][A-Za-z'’\-]*"
LATIN_RUN = re.compile(rf"{LATIN_WORD}(?:[\s,;:.!?]+{LATIN_WORD})*")
MOST_WORDS_IN_A_ROW = 4
# What a Japanese paragraph may keep in Latin script: code, maths, links to other pages (their
# text is that page's title, checked on that page), and whatever is quoted or in parentheses
# (the English term at first use, a quotation), and the bibliography's entries (papers keep
# their titles).
ALLOWED_ELEMENTS = ("code, pre, kbd, .math, a.reference.internal, a.bertlab-language-switch, "
                    "div.citation")
ALLOWED_SPANS = re.compile(r"（[^（）]*）|\([^()]*\)|「[^「」]*」|『[^『』]*』|“[^”]*”|\"[^\"]*\"")


def english_left(text: str) -> list[str]:
    """The English runs left in one paragraph of a Japanese page (empty: it reads as Japanese).

    A paragraph with no Japanese character left at all is English if it has two Latin words;
    otherwise a run of more than `MOST_WORDS_IN_A_ROW` Latin words is an English sentence.
    """
    text = ALLOWED_SPANS.sub(" ", ALLOWED_SPANS.sub(" ", text))   # nested quotes: twice
    runs = [run.group() for run in LATIN_RUN.finditer(text)]
    words = lambda run: len(re.findall(LATIN_WORD, run))  # noqa: E731
    if not re.search(JAPANESE, text):
        return [text.strip()] if sum(words(run) for run in runs) >= 2 else []
    return [run for run in runs if words(run) > MOST_WORDS_IN_A_ROW]


def test_the_english_paragraph_check_at_its_thresholds():
    assert english_left("トークン（token）は重みです。") == []
    assert english_left("a b c d は英語ではありません") == []                 # four words
    assert english_left("これは one two three four five です") == ["one two three four five"]
    assert english_left("Rarer words split:") == ["Rarer words split:"]
    assert english_left("C1") == [] and english_left("12 層") == []
    assert english_left("「The dog chased the cat.」という例文") == []        # quoted
    assert english_left('"from an in-house pre-trained UniLM v2 model"（引用）です') == []
    assert english_left("Hugging Face Hub に接続できる") == []


@needs_build
def test_the_sidebar_part_titles_are_in_japanese(ja_build):
    """The part titles of _toc.yml (the sidebar's captions) come from the root page's catalogue,
    on every Japanese page."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = {m.id: m.string for m in catalogue(LOCALE / f"{toc['root']}.po") if m.id}
    wanted = [entries.get(part["caption"]) for part in toc["parts"]]
    assert all(wanted), f"captions of _toc.yml without a translation: {toc['parts']}"
    for name in toc_pages():
        shown = [caption.get_text(strip=True) for caption in
                 soup(JA_HTML / f"{name}.html").select(".bd-sidebar .caption-text")]
        assert shown == wanted, f"ja/{name}: the sidebar's part titles are {shown}"


@needs_build
@pytest.mark.parametrize("name", TRANSLATED)
def test_a_translated_japanese_page_has_no_english_paragraph(ja_build, name):
    article = soup(JA_HTML / f"{name}.html").select_one("article")
    for allowed in article.select(ALLOWED_ELEMENTS):
        allowed.replace_with(" ")
    paragraphs = article.select("p, h1, h2, h3, h4, dt, caption, .admonition-title")
    left = [(p.name, found) for p in paragraphs for found in english_left(p.get_text(" "))]
    assert not left, f"ja/{name}: English left on the Japanese page: {left[:5]}"


def claim_texts(record: dict) -> list[str]:
    """The English texts of a recorded check: statement, premises, conditions, illustrations and
    why it is not testable (the records keep the English only)."""
    items = [item["text"] for kind in ("premises", "conditions") for item in record[kind]]
    return [record["statement"], *items, *record["illustrations"],
            *([record["untestable"]] if record["untestable"] else [])]


@needs_build
def test_japanese_claim_boxes_and_scorecard_show_no_english_claim_text(ja_build, records):
    """Each check's texts are shown in Japanese (`bertlab.i18n.Text`) on the Japanese scorecard
    and on the chapter that decides it: none of the recorded English texts is on those pages,
    quoted or not."""
    def words(text):      # Sphinx makes quotes typographic: compare with plain ones
        return " ".join(text.translate(str.maketrans("‘’“”", "''\"\"")).split())

    pages = {name: words(soup(JA_HTML / f"{name}.html").select_one("article").get_text(" "))
             for name in {"book/scorecard", *(f"book/{r['chapter']}" for r in records)}}
    for r in records:
        for name in ("book/scorecard", f"book/{r['chapter']}"):
            left = [text for text in claim_texts(r) if words(text) in pages[name]]
            assert not left, f"ja/{name} shows {r['claim']} ({r['aspect']}) in English: {left[:2]}"


# --- in a browser ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(ja_build):
    from browsing import serve

    with serve(HTML) as url:
        yield url


@needs_build
@pytest.mark.parametrize("name", toc_pages())
def test_japanese_page_works_and_switches_to_the_same_page_in_english(browser, site, name):
    visit = Visit(browser, site)
    try:
        page = visit.open(f"{site}/ja/{name}.html")
        problems, fonts = page_problems(page, f"ja/{name}", f"ja-page-{name.replace('/', '-')}.png")
        assert not visit.problems(), f"ja/{name}:\n" + "\n".join(visit.problems())
        assert not problems, "\n".join(problems)
        assert fonts, f"ja/{name}: no Japanese text rendered"

        page.click("a.bertlab-language-switch")
        page.wait_for_load_state("networkidle")
        assert page.url == f"{site}/{name}.html"
        assert page.evaluate("document.documentElement.lang") == "en"
        page.click("a.bertlab-language-switch")
        page.wait_for_load_state("networkidle")
        assert page.url == f"{site}/ja/{name}.html"
        assert not visit.problems(), f"ja/{name} after switching:\n" + "\n".join(visit.problems())
    finally:
        visit.close()
