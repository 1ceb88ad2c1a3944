"""No page of the built book scrolls sideways, on a desktop window or a phone, in a real browser.

A wide table, a cell's output or a long line of code must scroll inside its own box (the rules
at the end of ``book/_static/bertlab.css``), or be reshaped; a figure must fit the column. Checked
in the same headless Chromium as `test_browser` (its `browser` and `site` fixtures, every outside
request blocked) on every page of `_toc.yml`, at two window widths: nothing may make the document
wider than the window, and nothing in the article may reach past the article's right edge unless
it sits inside a box that scrolls (or clips) within the article.
"""

from __future__ import annotations

import pytest

from test_book import book_build, needs_build, toc_pages  # noqa: F401  (a fixture)
from test_browser import browser, site  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

#: A desktop window (the article column is about 850 px wide) and a phone held upright.
WIDTHS = (1400, 420)
#: The elements that stick out of the article and are not inside a scrolling box of their own,
#: and whether the document is wider than the window.
_OVERFLOW = """() => {
  const article = document.querySelector('article.bd-article');
  const edge = article.getBoundingClientRect().right + 1;
  const sticking = [];
  for (const element of article.querySelectorAll('*')) {
    if (!element.getClientRects().length || element.getBoundingClientRect().right <= edge) continue;
    let box = element.parentElement, contained = false;
    while (box && box !== article) {
      if (getComputedStyle(box).overflowX !== 'visible' && box.getBoundingClientRect().right <= edge) {
        contained = true;
        break;
      }
      box = box.parentElement;
    }
    if (!contained) sticking.push(`${element.tagName.toLowerCase()}.${element.className}`.slice(0, 80));
  }
  const root = document.scrollingElement;
  return {sticking: sticking.slice(0, 5), scrolls: root.scrollWidth > root.clientWidth};
}"""


@needs_build
@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(browser, site, width):  # noqa: F811  (fixtures)
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(site)
                  else route.abort("blockedbyclient"))
    view = context.new_page()
    wide = {}
    try:
        for name in toc_pages():
            view.goto(f"{site}/{name}.html", wait_until="load")
            found = view.evaluate(_OVERFLOW)
            if found["scrolls"] or found["sticking"]:
                wide[name] = found
    finally:
        context.close()
    assert not wide, f"Pages wider than a {width} px window, or with content past the column: {wide}"
