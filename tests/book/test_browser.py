"""The built book, and a saved BertViz view, in a real browser that can reach nothing else.

Every request that is not to the local site (or, for a saved view, to its own file) is
**blocked**, as on a school network behind a firewall or these machines: no CDN is routed to a
local copy. On every page of the book: no request was blocked, no console or page error,
MathJax typeset every formula (none left as raw ``\\(...\\)``), every BertViz view drew its SVG,
and every Japanese character is drawn in the shipped Noto Sans JP (the font Chromium really used,
read through DevTools, not the CSS that asks for it). The HTML that `bertlab.head_view` /
`bertlab.model_view` return with ``html_action="return"`` must draw when opened from a file,
alone and on a page with require.js and another jQuery (classic Jupyter's situation).

Screenshots of every page and view go to ``test-artifacts/``. Helpers: ``browsing.py``.
"""

from __future__ import annotations

import json

import pytest

import bertlab
from browsing import (CHROMIUM, CHROMIUM_ARGS, Visit, drawn_in_shipped_font,
                      japanese_fonts, serve, untypeset_math)
from test_book import HTML, ROOT, book_build, needs_build, toc_pages  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "test-artifacts"
REQUIRE_JS = ROOT / "node_modules" / "requirejs" / "require.js"
# A view is drawn when its SVG holds at least this many shapes: the head view draws a rect per
# token per side and per head and a line per pair of tokens per head (about 400 rects and 2,700
# lines for the chapter's 15-token pair), the model view a thumbnail of lines per head
# (thousands); a view left blank holds none.
MIN_SHAPES = 100
# The BertViz chapter's views, in page order: the model view of both chosen layers, then the
# head view of the [CLS]-concentration layer and of the structural layer.
BERTVIZ_VIEWS = ("model view", "head view", "head view")
VIEW_SHAPES = {"bertlab.head_view": "rect", "bertlab.model_view": "line"}
# Pages that must hold Japanese text, so that the font check has something to check.
JAPANESE_PAGES = ("book/glossary", "book/bertviz")


@pytest.fixture(scope="module")
def site(book_build):
    with serve(HTML) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system` (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def drawn_views(page) -> list[tuple[str, int]]:
    """Each BertViz view on the page: its kind (the head view has a layer menu, the model view
    none) and how many SVG rects and lines it drew, after waiting for at least `MIN_SHAPES`."""
    views = page.locator("div[id^='bertviz-']")
    found = []
    for index in range(views.count()):
        view = views.nth(index)
        view.scroll_into_view_if_needed()
        shapes = view.locator("svg rect, svg line")
        try:
            shapes.nth(MIN_SHAPES - 1).wait_for(state="attached", timeout=20_000)
        except Exception:  # noqa: BLE001  (Playwright's timeout: reported by the count below)
            pass
        kind = "head view" if view.locator("select#layer").count() else "model view"
        found.append((kind, shapes.count()))
    return found


def page_problems(page, label: str, screenshot: str) -> tuple[list[str], list]:
    """What is wrong with how an open page is drawn (formulas MathJax left raw, BertViz views
    that drew too little, Japanese not drawn in the shipped font), after a screenshot of it into
    ``ARTIFACTS/screenshot``; and the page's Japanese text runs (`japanese_fonts`)."""
    raw = untypeset_math(page)
    views = drawn_views(page)
    fonts = japanese_fonts(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")  # header at the top
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    problems = []
    if raw:
        problems.append(f"{label}: MathJax left {len(raw)} formulas raw, e.g. {raw[:3]}")
    blank = [(kind, n) for kind, n in views if n < MIN_SHAPES]
    if blank:
        problems.append(f"{label}: BertViz views drew too little (view, SVG shapes): {blank}")
    boxes = [(text, n, [(f["familyName"], f["isCustomFont"], f["glyphCount"]) for f in used])
             for text, n, used in fonts if not drawn_in_shipped_font(n, used)]
    if boxes:
        problems.append(f"{label}: Japanese not drawn in the shipped font (text, characters, "
                        f"fonts used): {boxes[:5]}")
    return problems, fonts


@needs_build
@pytest.mark.parametrize("name", toc_pages())
def test_page_works_with_nothing_but_the_site(browser, site, name):
    visit = Visit(browser, site)
    try:
        page = visit.open(f"{site}/{name}.html")
        assert page.locator("article, main").first.inner_text().strip(), f"{name} is empty"
        problems, fonts = page_problems(page, name, f"page-{name.replace('/', '-')}.png")
        assert not visit.problems(), f"{name}:\n" + "\n".join(visit.problems())
        assert not problems, "\n".join(problems)
        if name in JAPANESE_PAGES:
            assert fonts, f"{name} should show Japanese terms, but none were found rendered"
    finally:
        visit.close()


@needs_build
def test_bertviz_chapter_draws_each_view_and_its_static_twin(browser, site):
    visit = Visit(browser, site)
    try:
        page = visit.open(f"{site}/book/bertviz.html")
        views = drawn_views(page)
        assert [kind for kind, _ in views] == list(BERTVIZ_VIEWS), views
        assert all(count >= MIN_SHAPES for _, count in views), views
        for index, view in enumerate(page.locator("div[id^='bertviz-']").all()):
            view.screenshot(path=str(ARTIFACTS / f"bertviz-view-{index}.png"))
        # Each view is followed by its static figure (an image of the same layers and heads).
        figures = page.locator("div[id^='bertviz-'] >> xpath=following::img[1]")
        assert figures.count() == len(BERTVIZ_VIEWS)
        libraries = page.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
        assert sum("_static/bertlab/bertviz-libraries.js" in src for src in libraries) == \
            len(BERTVIZ_VIEWS), "the views should load d3 and jQuery from the site"
        assert not visit.problems(), visit.problems()
    finally:
        visit.close()


# How JupyterLab (and VS Code) show an HTML output: set as innerHTML, then each <script>
# replaced by a new one with the same text, which runs (JupyterLab's evalInnerHTMLScriptTags).
INSERT_LIKE_JUPYTERLAB = """<div id="first"></div><div id="second"></div><script>
for (const [id, html] of [["first", __FIRST_VIEW__], ["second", __SECOND_VIEW__]]) {
  const host = document.getElementById(id);
  host.innerHTML = html;
  for (const old of host.querySelectorAll("script")) {
    const fresh = document.createElement("script");
    for (const attribute of old.attributes) fresh.setAttribute(attribute.name, attribute.value);
    fresh.textContent = old.textContent;
    old.replaceWith(fresh);
  }
}
</script>"""


@pytest.fixture(scope="module")
def saved_views(lm, tmp_path_factory):
    """Files written from `html_action="return"`: each view alone; each on a page that has
    require.js and its own `$` (as classic Jupyter does) before the view arrives; and two copies
    inserted into a page after it loaded, as JupyterLab and VS Code insert outputs."""
    folder = tmp_path_factory.mktemp("saved-views")
    att = bertlab.extract(lm, "The dog chased the cat.", "犬が猫を追いかけた。")
    files = {}
    for name, view in (("bertlab.head_view", bertlab.head_view),
                       ("bertlab.model_view", bertlab.model_view)):
        html = view(att, layers=[1, 3], html_action="return").data
        alone = folder / f"{name}.html"
        alone.write_text(html, encoding="ascii")
        classic = folder / f"{name}-classic.html"
        classic.write_text(f'<script src="{REQUIRE_JS.as_uri()}"></script>\n'
                           '<script>window.$ = window.jQuery = {notebook: true};</script>\n'
                           + html, encoding="ascii")
        lab = folder / f"{name}-lab.html"
        second = view(att, layers=[0], html_action="return").data      # its own element id
        as_js = {key: json.dumps(text).replace("</", "<\\/") for key, text in
                 (("__FIRST_VIEW__", html), ("__SECOND_VIEW__", second))}
        lab.write_text(INSERT_LIKE_JUPYTERLAB.replace("__FIRST_VIEW__", as_js["__FIRST_VIEW__"])
                       .replace("__SECOND_VIEW__", as_js["__SECOND_VIEW__"]), encoding="ascii")
        files[name] = (alone, classic, lab)
    return files


@pytest.mark.parametrize("name", sorted(VIEW_SHAPES))
def test_saved_view_draws_from_a_file_with_the_network_blocked(browser, saved_views, name):
    alone = saved_views[name][0]
    visit = Visit(browser, "file://")
    try:
        page = visit.open(alone.as_uri())
        shapes = page.locator(f"svg {VIEW_SHAPES[name]}")
        shapes.nth(MIN_SHAPES - 1).wait_for(state="attached", timeout=20_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"saved-{name}.png"), full_page=True)
        assert not visit.problems(), visit.problems()
        assert page.evaluate("typeof require") == "undefined", "the view must not need require.js"
    finally:
        visit.close()


@pytest.mark.parametrize("name", sorted(VIEW_SHAPES))
def test_saved_view_draws_beside_require_js_and_leaves_the_pages_jquery(browser, saved_views, name):
    if not REQUIRE_JS.exists():
        pytest.fail(f"{REQUIRE_JS} is missing: run `make assets` (npm ci).")
    classic = saved_views[name][1]
    visit = Visit(browser, "file://")
    try:
        page = visit.open(classic.as_uri())
        page.locator(f"svg {VIEW_SHAPES[name]}").nth(MIN_SHAPES - 1).wait_for(
            state="attached", timeout=20_000)
        assert not visit.problems(), visit.problems()   # e.g. "Mismatched anonymous define()"
        assert page.evaluate("window.$.notebook === true && window.jQuery.notebook === true")
        assert page.evaluate("typeof define === 'function' && !!define.amd")
    finally:
        visit.close()


@pytest.mark.parametrize("name", sorted(VIEW_SHAPES))
def test_two_views_inserted_after_load_both_draw(browser, saved_views, name):
    """JupyterLab and VS Code insert outputs into a live page; the libraries are evaluated once."""
    lab = saved_views[name][2]
    visit = Visit(browser, "file://")
    try:
        page = visit.open(lab.as_uri())
        for host in ("#first", "#second"):
            page.locator(f"{host} svg {VIEW_SHAPES[name]}").nth(MIN_SHAPES - 1).wait_for(
                state="attached", timeout=20_000)
        assert not visit.problems(), visit.problems()
        assert page.evaluate("typeof window.$") == "undefined"   # jQuery took nothing global
    finally:
        visit.close()
