"""A Japanese font for matplotlib: Noto Sans JP, the font the book's site ships.

Book: figures with Japanese text (the seed's terms, Japanese tokens). matplotlib's default
DejaVu Sans has no kana or kanji, and Colab has no Japanese font at all, so such text would be
drawn as empty boxes. bertlab ships Noto Sans JP (weight 400, the 6,886 characters of its
"japanese" subset: kana, the JIS X 0208 kanji, punctuation) in ``bertlab/assets``, copied from
the fontsource npm package the site uses. matplotlib's FreeType reads neither WOFF nor WOFF 2,
so the shipped WOFF is unpacked once by fontTools (a matplotlib dependency) into a TrueType file
in the cache (``$BERTLAB_CACHE/fonts``, else ``~/.cache/bertlab/fonts``).

>>> import matplotlib.pyplot as plt
>>> with plt.rc_context():                      # leave the caller's settings as they were
...     use_japanese_font(), plt.rcParams["font.family"][-1]
('Noto Sans JP', 'Noto Sans JP')
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib.resources import files
from pathlib import Path

__all__ = ["JAPANESE_FONT", "japanese_font_path", "use_japanese_font"]

#: The family name matplotlib knows the font by once `use_japanese_font` has registered it.
JAPANESE_FONT = "Noto Sans JP"
_SHIPPED = "noto-sans-jp-400.woff"


def japanese_font_path() -> Path:
    """The TrueType file of the shipped Noto Sans JP, unpacked on first use."""
    shipped = files("bertlab") / "assets" / _SHIPPED
    data = shipped.read_bytes()
    root = Path(os.environ.get("BERTLAB_CACHE") or Path.home() / ".cache" / "bertlab")
    target = root / "fonts" / f"noto-sans-jp-400-{hashlib.sha256(data).hexdigest()[:12]}.ttf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        _unpack(shipped, target)
    return target


def _unpack(woff, target: Path) -> None:
    """WOFF -> TrueType, under the family name `JAPANESE_FONT`, written atomically (a book build
    and a test run may unpack at the same time)."""
    from fontTools.ttLib import TTFont

    with woff.open("rb") as stream:
        font = TTFont(stream)
    font.flavor = None
    # fontsource's static instances keep the variable font's default-instance name ("Noto Sans
    # JP Thin") although this file's glyphs and OS/2 weight are 400: name it what it is.
    names = font["name"]
    for name_id, value in ((1, JAPANESE_FONT), (2, "Regular"), (4, f"{JAPANESE_FONT} Regular"),
                           (6, "NotoSansJP-Regular"), (16, JAPANESE_FONT), (17, "Regular")):
        names.setName(value, name_id, 3, 1, 0x409)
    names.removeNames(platformID=1)  # the Mac-platform copies would keep the old name
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".ttf", delete=False) as out:
        font.save(out)
    os.replace(out.name, target)


def use_japanese_font() -> str:
    """Register Noto Sans JP with matplotlib and add it as the last fallback of ``font.family``.

    Latin text keeps the font it had; a character that font lacks (kana, kanji) is drawn in
    Noto Sans JP (matplotlib's per-glyph fallback, 3.6 and later). Returns the family name.
    """
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    path = str(japanese_font_path())
    if not any(entry.fname == path for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(path)
    families = [f for f in plt.rcParams["font.family"] if f != JAPANESE_FONT]
    plt.rcParams["font.family"] = [*families, JAPANESE_FONT]
    return JAPANESE_FONT
