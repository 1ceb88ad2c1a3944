"""The book's Sphinx extension (book/_ext/offline_site.py): the font's slices cut to Japanese, and
the views' inline libraries swapped for the site's file. The whole site is checked in a browser
by tests/book/test_browser.py; these are its rules on hand-made input."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))

import offline_site  # noqa: E402

from bertlab.views import LIBRARIES_ATTRIBUTE  # noqa: E402


def test_ranges_are_cut_to_the_japanese_blocks():
    assert offline_site._intersect("U+3000-30ff") == "U+3000-30ff"
    assert offline_site._intersect("U+0-ff") is None                    # Latin stays the theme's
    assert offline_site._intersect("U+2e00-2eff") == "U+2e80-2eff"      # cut at the block edge
    assert offline_site._intersect("U+ff5b") == "U+ff5b"
    assert offline_site._intersect("U+9fa0-fa10") == "U+9fa0-9fff,U+f900-fa10"


def test_a_font_face_keeps_woff2_and_only_its_japanese_ranges():
    body = ("font-family: 'Noto Sans JP'; font-weight: 400; "
            "src: url(./files/a-400.woff2) format('woff2'), url(./files/a-400.woff) format('woff'); "
            "unicode-range: U+20-7e,U+3041-3096,U+4e00;")
    rule = offline_site._cjk_only(body)
    assert "unicode-range: U+3041-3096,U+4e00;" in rule
    assert "a-400.woff2" in rule and ".woff)" not in rule
    assert offline_site._cjk_only("src: url(./files/l.woff2) format('woff2'); "
                                  "unicode-range: U+0-ff;") is None


def test_each_inline_copy_of_the_libraries_becomes_one_script_tag():
    inline = f"<script {LIBRARIES_ATTRIBUTE}>\nvar d3 = 1; /* </div> */\n</script>"
    context = {"body": f"<p>a</p>{inline}<script>draw()</script>{inline}",
               "pathto": lambda target, resource: "../" + target}
    offline_site._load_libraries_from_site(None, "book/bertviz", "page.html", context, None)
    tag = '<script src="../_static/bertlab/bertviz-libraries.js"></script>'
    assert context["body"] == f"<p>a</p>{tag}<script>draw()</script>{tag}"
