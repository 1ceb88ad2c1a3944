"""The built book in a real browser: every page renders without a JavaScript error, and the
BertViz chapter really draws its attention views.

Headless Debian Chromium (`apt-get install chromium`; `make system`) is driven by Playwright's
Python API with ``executable_path``: Playwright's own browser download is never used. The site
is served from ``_build/html`` on localhost. BertViz's views load require.js, d3 and jQuery from
a CDN, and the book's math loads MathJax from one: these machines cannot reach a CDN, so the test
answers those URLs with the same files from npm packages (``tests/book/browser``, ``npm ci``) and
blocks every other request that leaves localhost. A blocked request is reported, not ignored.

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from test_book import HTML, ROOT, book_build, needs_build, toc_pages  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NODE_MODULES = ROOT / "tests" / "book" / "browser" / "node_modules"
ARTIFACTS = ROOT / "test-artifacts"
BERTVIZ_SITE = Path(__import__("bertviz").__file__).parent
# URL prefix on a CDN -> folder of an npm package that holds the same files (tests/book/browser).
# BertViz's URLs are the ones in its head_view.py/model_view.py and *_view.js
# (`test_cdn_routes_cover_bertviz` keeps this in step with the installed version). BertViz asks
# for jQuery 2.0.0, which npm does not carry; jquery@2.2.4 is the same major version.
CDN_FILES = {
    "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js": "requirejs/require.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/5.7.0/d3.min.js": "d3/dist/d3.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/jquery/2.0.0/jquery.min.js": "jquery/dist/jquery.min.js",
}
CDN_FOLDERS = {"https://cdn.jsdelivr.net/npm/mathjax@3/": "mathjax/"}
CONTENT_TYPES = {".js": "application/javascript", ".woff": "font/woff", ".woff2": "font/woff2",
                 ".json": "application/json", ".css": "text/css"}
# A view is drawn when its SVG holds at least this many shapes of its kind: the head view draws
# a rect per token per side and per head (about 400 for the chapter's 15-token pair), the model
# view a thumbnail of lines per head (thousands); a view left blank holds none.
MIN_SHAPES = 100
# The chapter's views, in page order, and the SVG shape each draws its attention with.
BERTVIZ_VIEWS = (("model view", "line"), ("head view, [CLS]-concentration layer", "rect"),
                 ("head view, structural layer", "rect"))


def test_cdn_routes_cover_bertviz():
    """Every CDN file the installed BertViz asks for has a route (d3 and jQuery lack the .js)."""
    sources = "".join(path.read_text() for path in BERTVIZ_SITE.glob("*_view.*"))
    wanted = {url for url in CDN_FILES if url.removesuffix(".js") in sources}
    assert wanted == set(CDN_FILES), f"BertViz no longer loads {set(CDN_FILES) - wanted}"


def local_file(url: str) -> Path | None:
    """The npm file that answers a CDN `url`, or None."""
    if url in CDN_FILES:
        return NODE_MODULES / CDN_FILES[url]
    for prefix, folder in CDN_FOLDERS.items():
        if url.startswith(prefix):
            return NODE_MODULES / folder / url.removeprefix(prefix).split("?")[0]
    return None


@pytest.fixture(scope="module")
def site(book_build):
    """The built book served on an ephemeral localhost port; yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the name http.server uses)
        pass


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system` (apt-get install chromium).")
    if not (NODE_MODULES / "requirejs").exists():
        pytest.fail("tests/book/browser/node_modules is missing: run `make system` (npm ci).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageVisit:
    """Opens one page with the CDN routes, and keeps its console errors and blocked requests."""

    def __init__(self, browser, site: str):
        self.site = site
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.missing: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.site):
            return route.continue_()
        path = local_file(url)
        if path is None:
            self.blocked.append(url)
            return route.abort("blockedbyclient")
        if not path.is_file():
            self.missing.append(f"{url} -> {path}")
            return route.abort("failed")
        return route.fulfill(path=str(path), content_type=CONTENT_TYPES.get(path.suffix),
                             headers={"Access-Control-Allow-Origin": "*"})

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def open(self, name: str):
        self.page.goto(f"{self.site}/{name}.html", wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self):
        self.context.close()


@needs_build
@pytest.mark.parametrize("name", toc_pages())
def test_page_renders_without_javascript_errors(browser, site, name):
    visit = PageVisit(browser, site)
    try:
        page = visit.open(name)
        assert page.locator("article, main").first.inner_text().strip(), f"{name} is empty"
        assert not visit.errors, f"{name}: JavaScript errors:\n" + "\n".join(visit.errors)
        assert not visit.missing, f"{name}: routed files missing:\n" + "\n".join(visit.missing)
        assert not visit.blocked, (f"{name} asks for files outside the site that the test does "
                                   f"not serve:\n" + "\n".join(visit.blocked))
    finally:
        visit.close()


@needs_build
def test_bertviz_chapter_draws_its_views(browser, site):
    visit = PageVisit(browser, site)
    try:
        page = visit.open("book/bertviz")
        views = page.locator("div[id^='bertviz-']")
        assert views.count() == len(BERTVIZ_VIEWS), \
            f"expected {len(BERTVIZ_VIEWS)} BertViz views, found {views.count()}"
        ARTIFACTS.mkdir(exist_ok=True)
        for index, (name, shape) in enumerate(BERTVIZ_VIEWS):
            view = views.nth(index)
            view.scroll_into_view_if_needed()
            shapes = view.locator(f"svg {shape}")
            shapes.nth(MIN_SHAPES - 1).wait_for(state="attached", timeout=20_000)
            assert shapes.count() >= MIN_SHAPES, f"{name}: only {shapes.count()} {shape}s drawn"
            view.screenshot(path=str(ARTIFACTS / f"bertviz-view-{index}.png"))
        page.screenshot(path=str(ARTIFACTS / "bertviz-page.png"), full_page=True)
        assert not visit.errors, "JavaScript errors:\n" + "\n".join(visit.errors)
        assert not visit.blocked and not visit.missing, visit.blocked + visit.missing
    finally:
        visit.close()
