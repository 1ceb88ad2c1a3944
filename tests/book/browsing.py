"""Helpers of the browser test: a real headless Chromium that can reach nothing but the site.

Debian's Chromium (`make system`) driven by Playwright's Python API with ``executable_path``
(Playwright's own browser download is never used). A `Visit` opens one page in a fresh context
whose every request is checked: a request to the site goes through, every other one is
**blocked** and recorded (no CDN is routed to a local copy any more: the site must ship its
files). Console errors and page errors are recorded too.
"""

from __future__ import annotations

import functools
import http.server
import threading
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: The characters the font check looks at: kana, kanji, CJK punctuation and full-width forms,
#: the ranges the site draws in Noto Sans JP (book/_ext/offline_site.py, CJK_RANGES).
JAPANESE = r"[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
SHIPPED_FONT = "Noto Sans JP"


@contextmanager
def serve(folder: Path):
    """`folder` served on an ephemeral localhost port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the name http.server uses)
        pass


class Visit:
    """One page in its own browser context: requests outside `allowed` blocked and recorded."""

    def __init__(self, browser, allowed: str):
        self.allowed = allowed
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _route(self, route):
        if route.request.url.startswith(self.allowed):
            return route.continue_()
        self.blocked.append(route.request.url)
        return route.abort("blockedbyclient")

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def open(self, url: str):
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return self.page

    def problems(self) -> list[str]:
        return ([f"blocked request: {url}" for url in self.blocked] + self.errors)

    def close(self):
        self.context.close()


def untypeset_math(page) -> list[str]:
    """The formulas MathJax left raw, after waiting for it; [] when the page has none."""
    return page.evaluate("""async () => {
        const formulas = [...document.querySelectorAll('.math')];
        if (formulas.length === 0) return [];
        if (!window.MathJax || !MathJax.startup) return ['MathJax did not load'];
        await MathJax.startup.promise;
        return formulas.filter(f => !f.querySelector('mjx-container'))
                       .map(f => f.textContent.slice(0, 80));
    }""")


def japanese_fonts(page) -> list[tuple[str, int, list[dict]]]:
    """For each drawn element whose own text holds Japanese: that text, its number of
    Japanese characters, and the fonts Chromium really drew its text with
    (DevTools ``CSS.getPlatformFontsForNode``: family, whether a web font, glyph count)."""
    count = page.evaluate(f"""async () => {{
        await document.fonts.ready;
        const japanese = /{JAPANESE}/gu;
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const owners = new Map();
        while (walker.nextNode()) {{
            const node = walker.currentNode, owner = node.parentElement;
            const found = (node.nodeValue.match(japanese) || []).length;
            // drawn: not in a folded cell (closed <details> hide their content from view)
            if (found && owner.checkVisibility({{visibilityProperty: true}})) {{
                owners.set(owner, (owners.get(owner) || 0) + found);
            }}
        }}
        let index = 0;
        for (const [owner, found] of owners) {{
            owner.setAttribute('data-japanese', index++);
            owner.setAttribute('data-japanese-count', found);
        }}
        await document.fonts.ready;
        return index;
    }}""")
    if not count:
        return []
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    found = []
    for index in range(count):
        selector = f"[data-japanese='{index}']"
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        element = page.locator(selector)
        found.append((element.inner_text()[:60], int(element.get_attribute("data-japanese-count")),
                      fonts))
    cdp.detach()
    return found


def drawn_in_shipped_font(japanese_characters: int, fonts: list[dict]) -> bool:
    """Every Japanese character drawn in the shipped web font (not a system font)."""
    shipped = sum(font["glyphCount"] for font in fonts
                  if font["isCustomFont"] and font["familyName"].startswith(SHIPPED_FONT))
    return shipped >= japanese_characters
