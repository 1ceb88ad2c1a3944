"""The book's site needs nothing but itself: no CDN for MathJax, BertViz or the Japanese font.

A Sphinx extension of this book (``_config.yml``: ``local_extensions``). School networks behind a
firewall, and these machines, reach no CDN; the browser test (tests/book/test_browser.py) blocks
every request that leaves the site. Everything the pages load is therefore copied into
``_static`` at build time, from the npm packages pinned in ``package-lock.json`` (``make
assets`` = ``npm ci``) and from the bertlab package:

* **MathJax 3** (npm ``mathjax``, its ``es5`` folder) -> ``_static/mathjax/``; ``_config.yml``
  points Sphinx's ``mathjax_path`` there.
* **Noto Sans JP** (npm ``@fontsource/noto-sans-jp``, the font bertlab's figures use too),
  weights 400 and 700 -> ``_static/fonts/noto-sans-jp/``. fontsource cuts the font into ~120
  WOFF 2 slices by ``unicode-range``, so a browser fetches only the slices whose characters a page
  holds. The stylesheet written here keeps only the kana, kanji and CJK punctuation ranges of each
  slice (`CJK_RANGES`): ``book/_static/bertlab.css`` can then put the family *first* in the
  theme's font stacks, so Japanese text is always drawn in it while Latin text keeps the theme's
  font.
* **BertViz's libraries**: every `bertlab.head_view` / `bertlab.model_view` output carries d3 and
  jQuery inline (so a notebook or a saved view works alone). On the site they are written once
  to ``_static/bertlab/bertviz-libraries.js``, and each page's inline copies are replaced by a
  ``<script src>`` of that file: pages stay small and the browser caches the file.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

from bertlab.views import LIBRARIES_ATTRIBUTE, libraries_script

FONT_PACKAGE = Path("@fontsource") / "noto-sans-jp"
FONT_WEIGHTS = (400, 700)
FONT_FOLDER = "fonts/noto-sans-jp"
LIBRARIES_FILE = "_static/bertlab/bertviz-libraries.js"   # written into the site
#: Code points drawn in Noto Sans JP: CJK radicals to the unified ideographs (kana, CJK
#: punctuation and symbols among them), compatibility ideographs, vertical forms, half- and
#: full-width forms, and the supplementary ideograph planes.
CJK_RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
              (0x20000, 0x3FFFF))
_LIBRARIES = re.compile(rf"<script {LIBRARIES_ATTRIBUTE}>.*?</script>", re.DOTALL)
_FONT_FACE = re.compile(r"@font-face\s*{(?P<body>[^}]*)}")


def setup(app):
    app.connect("builder-inited", _check_npm_packages)
    app.connect("html-page-context", _load_libraries_from_site)
    app.connect("build-finished", _copy_assets)
    for weight in FONT_WEIGHTS:
        app.add_css_file(f"{FONT_FOLDER}/{weight}.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _node_modules(app) -> Path:
    return Path(app.srcdir) / "node_modules"


def _check_npm_packages(app) -> None:
    missing = [name for name in ("mathjax", str(FONT_PACKAGE))
               if not (_node_modules(app) / name / "package.json").exists()]
    if missing:
        raise ExtensionError(f"The site's npm packages {missing} are not installed in "
                             f"{_node_modules(app)}: run `make assets` (npm ci) first.")


def _load_libraries_from_site(app, pagename, templatename, context, doctree) -> None:
    """Replace the d3/jQuery copies inlined in a page's BertViz views by the site's one file."""
    body = context.get("body", "")
    if LIBRARIES_ATTRIBUTE in body:
        tag = f'<script src="{context["pathto"](LIBRARIES_FILE, 1)}"></script>'
        context["body"] = _LIBRARIES.sub(lambda _: tag, body)


def _copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    shutil.copytree(_node_modules(app) / "mathjax" / "es5", static / "mathjax", dirs_exist_ok=True)
    target = static.parent / LIBRARIES_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(libraries_script() + "\n", encoding="ascii")
    for licence in ("d3.LICENSE", "jquery.LICENSE"):
        shutil.copyfile(Path(app.srcdir) / "bertlab" / "assets" / licence,
                        static / "bertlab" / licence)
    _copy_font(_node_modules(app) / FONT_PACKAGE, static / FONT_FOLDER)


def _copy_font(package: Path, target: Path) -> None:
    """Each weight's stylesheet with its slices cut to `CJK_RANGES`, WOFF 2 only, and the
    WOFF 2 files it names; the licence beside them."""
    (target / "files").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(package / "LICENSE", target / "LICENSE")
    for weight in FONT_WEIGHTS:
        rules = []
        for face in _FONT_FACE.finditer((package / f"{weight}.css").read_text()):
            rule = _cjk_only(face["body"])
            if rule is not None:
                rules.append(rule)
                name = re.search(r"url\(\./files/([^)]+\.woff2)\)", rule)[1]
                shutil.copyfile(package / "files" / name, target / "files" / name)
        if not rules:
            raise ExtensionError(f"{package / f'{weight}.css'} has no @font-face for Japanese.")
        (target / f"{weight}.css").write_text(
            f"/* Noto Sans JP {weight} (SIL OFL 1.1, LICENSE beside this file), from fontsource; "
            f"kana, kanji and CJK punctuation only (book/_ext/offline_site.py) */\n"
            + "\n".join(rules) + "\n")


def _cjk_only(body: str) -> str | None:
    """One @font-face rule with WOFF 2 alone and its unicode-range cut to `CJK_RANGES`; None
    when the slice holds none of them."""
    ranges = re.search(r"unicode-range:\s*([^;]+);", body)
    kept = [piece for piece in (_intersect(item.strip()) for item in ranges[1].split(","))
            if piece] if ranges else []
    if not kept:
        return None
    body = re.sub(r"unicode-range:\s*[^;]+;", f"unicode-range: {','.join(kept)};", body)
    body = re.sub(r",\s*url\([^)]+\.woff\) format\('woff'\)", "", body)
    return "@font-face {" + body + "}"


def _intersect(item: str) -> str | None:
    """``U+4e00-4e2f`` (or ``U+3042``) cut to `CJK_RANGES`, as CSS; None if nothing is left."""
    low, _, high = item.removeprefix("U+").partition("-")
    low, high = int(low, 16), int(high or low, 16)
    pieces = []
    for start, end in CJK_RANGES:
        a, b = max(low, start), min(high, end)
        if a <= b:
            pieces.append(f"U+{a:x}" if a == b else f"U+{a:x}-{b:x}")
    return ",".join(pieces) or None
