"""BertViz's head and model views, drawn with no network and no require.js.

Book chapter: "BertViz side by side". BertViz's own HTML loads require.js, d3 5.7.0 and jQuery
from a CDN when it renders: behind a firewall, offline, or in a browser test that blocks the
network, the view stays blank ("requirejs is not defined"). The views here are BertViz's own
(its ``html_action="return"`` HTML, its JavaScript unchanged), made self-contained:

* d3 and jQuery come from ``bertlab/assets`` (copied from npm by ``scripts/vendor_assets.py``,
  their licences beside them) and are **inlined in each view**, evaluated once per page into
  ``window.bertlabViewLibraries``. Each view carries them, unlike itables' offline mode, which
  loads its library once per notebook: Colab draws every output in its own frame, where a
  library loaded by another cell is absent (itables is online-only there for that reason).
  They are evaluated with ``define`` hidden, so a page with require.js (classic Jupyter) does not
  take them as anonymous modules, and jQuery hands the page's own ``$`` back (``noConflict``).
* BertViz's calls ``require.config({paths: <CDN>})`` and ``requirejs(["jquery", "d3"], draw)``
  are answered by a local stand-in that ignores the CDN paths and calls ``draw`` with the
  inlined libraries. No require.js, no request.

The result draws in classic Jupyter, JupyterLab, VS Code, Colab, in a saved ``.html`` file
opened from disk, and on the book's site, whose build (``book/_ext/offline_site.py``) replaces
the inlined libraries by one shared file in ``_static``. The HTML is plain ASCII, so a saved
view needs no charset declaration.

Layers and heads are 0-based here, as in the tensor and in BertViz's own menus.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from .errors import InputError
from .extraction import Attention

__all__ = ["head_view", "model_view", "libraries_script", "LIBRARIES_ATTRIBUTE"]

#: The attribute of the ``<script>`` that holds the inlined libraries in a view's HTML; the
#: book's build looks for it to load the libraries from the site instead.
LIBRARIES_ATTRIBUTE = "data-bertlab-libraries"
#: BertViz's HTML asks for require.js with exactly this tag (bertviz 1.4, head and model view).
_REQUIRE_TAG = ('<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/'
                'require.min.js"></script>')
_VIEW_SCRIPT = re.compile(r'\n<script type="text/javascript">\n(?P<code>.*)\n</script>\n$', re.DOTALL)
# The font BertViz sets on its view; the book's site adds its Japanese font to it (the name is
# only a name where that font is not loaded: a notebook falls back as before).
_BERTVIZ_FONT = "font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;"
_VIEW_FONT = "font-family:'Helvetica Neue', Helvetica, Arial, 'Noto Sans JP', sans-serif;"
# BertViz's code runs inside this, with `require`/`requirejs` meaning the libraries above.
_STAND_IN = """(function () {
  var libraries = window.bertlabViewLibraries;
  var require = {config: function () {}};  /* BertViz's CDN paths: not used */
  function requirejs(names, draw) {
    draw.apply(null, names.map(function (name) { return libraries[name]; }));
  }
%s
})();"""


def head_view(att: Attention, layers: Sequence[int] | None = None, *, layer: int | None = None,
              heads: Sequence[int] | None = None, html_action: str | None = None):
    """BertViz's head view of one text; `layers` (shown) and `layer` (selected first) are 0-based.

    `html_action`: ``"view"`` displays it, ``"return"`` returns an ``IPython.display.HTML`` whose
    ``.data`` is a self-contained page fragment (save it as ``.html`` and open it offline);
    ``None`` displays it in a notebook and returns it anywhere else.
    """
    from bertviz import head_view as bertviz_head_view

    kwargs = _bertviz_arguments(att, layers)
    if layer is not None:
        layer = _indices([layer], att.n_layers, "layer")[0]
        if layer not in kwargs["include_layers"]:
            _bad_layer(layer, kwargs["include_layers"])
    heads = None if heads is None else _indices(heads, att.n_heads, "head")
    view = bertviz_head_view(**kwargs, layer=layer, heads=heads, html_action="return")
    return _show(offline_html(view.data), html_action)


def model_view(att: Attention, layers: Sequence[int] | None = None, *,
               heads: Sequence[int] | None = None, html_action: str | None = None):
    """BertViz's model view (every chosen layer × head as a thumbnail); `layers` are 0-based.

    `html_action` as in `head_view`.
    """
    from bertviz import model_view as bertviz_model_view

    kwargs = _bertviz_arguments(att, layers)
    heads = None if heads is None else _indices(heads, att.n_heads, "head")
    view = bertviz_model_view(**kwargs, include_heads=heads, html_action="return")
    return _show(offline_html(view.data), html_action)


def offline_html(bertviz_html: str) -> str:
    """BertViz's returned HTML made self-contained: its require.js tag dropped, the libraries
    inlined, its script run by the stand-in. Raises `InputError` on HTML of another shape."""
    match = _VIEW_SCRIPT.search(bertviz_html)
    if not bertviz_html.startswith(_REQUIRE_TAG) or match is None:
        raise InputError("This BertViz HTML does not have the shape bertlab knows (bertviz 1.4: "
                         "a require.js tag, the view's div, one script): check the installed "
                         "bertviz version against bertlab's requirement.")
    markup = bertviz_html[len(_REQUIRE_TAG):match.start()].replace(_BERTVIZ_FONT, _VIEW_FONT)
    return (markup
            + f"\n<script {LIBRARIES_ATTRIBUTE}>\n{libraries_script()}\n</script>\n"
            + f"<script>\n{_inline_js(_STAND_IN % match['code'])}\n</script>\n")


@cache
def libraries_script() -> str:
    """JavaScript that defines ``window.bertlabViewLibraries = {d3, jquery}`` once per page.

    d3 5.7.0 and jQuery 2.2.4, verbatim from ``bertlab/assets`` (licences there), with
    ``define``/``module``/``exports`` hidden so neither registers with a page's require.js.
    """
    d3, jquery = (_inline_js(_asset(name)) for name in ("d3.min.js", "jquery.min.js"))
    return ("/* bertlab: BertViz's libraries, d3 5.7.0 (BSD-3-Clause) and jQuery 2.2.4 (MIT); "
            "licences in bertlab/assets */\n"
            "(function () {\n"
            "  if (window.bertlabViewLibraries) return;\n"
            "  var define, module, exports;  /* hidden from the libraries: no AMD, no CommonJS */\n"
            "  var scope = {};\n"
            f"  (function () {{\n{d3}\n  }}).call(scope);  /* d3 puts itself on `this` */\n"
            f"{jquery}\n"
            "  window.bertlabViewLibraries = {d3: scope.d3, jquery: window.jQuery.noConflict(true)};\n"
            "})();")


def _asset(name: str) -> str:
    return (files("bertlab") / "assets" / name).read_text(encoding="utf-8")


def _inline_js(code: str) -> str:
    """JavaScript safe inside an HTML ``<script>`` of any page: ``</script`` and ``<!--`` cannot
    end or bend it, and every non-ASCII character is written as a ``\\u`` escape (valid in JS
    strings, names and regular expressions alike), so the page's charset does not matter."""
    code = re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE).replace("<!--", "<\\!--")
    return "".join(c if ord(c) < 128 else "".join(f"\\u{unit:04x}" for unit in _utf16(c))
                   for c in code)


def _utf16(character: str) -> list[int]:
    data = character.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def _show(html: str, html_action: str | None):
    from IPython.display import HTML, display

    if html_action not in (None, "view", "return"):
        raise InputError(f"html_action must be 'view', 'return' or None (view in a notebook, "
                         f"return elsewhere), got {html_action!r}.")
    action = html_action or _default_action()
    if action == "view":
        display(HTML(html))
        return None
    return HTML(html)


def _default_action() -> str:
    """'view' inside a running notebook kernel, 'return' anywhere else (scripts, tests)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return "return"
    shell = get_ipython()
    return "view" if shell is not None and hasattr(shell, "kernel") else "return"


def _bertviz_arguments(att: Attention, layers: Sequence[int] | None) -> dict:
    """Arguments BertViz expects: one ``[1, H, Q, K]`` tensor per layer, and explicit layers.

    BertViz handles exactly one text; `include_layers=[]` would silently mean *all* layers.
    """
    if not isinstance(att, Attention):
        raise InputError(
            f"BertViz shows one text at a time: pass one Attention from bertlab.extract, got "
            f"{type(att).__name__}. For a batch, pick one element, e.g. extract_batch(...)[0].")
    layers = list(range(att.n_layers)) if layers is None else _indices(layers, att.n_layers, "layer")
    attention = [att.weights[l][None] for l in range(att.n_layers)]  # n_layers × [1, H, Q, K]
    return {"attention": attention, "tokens": list(att.tokens),
            "sentence_b_start": att.sentence_b_start, "include_layers": layers}


def _indices(values, count: int, what: str) -> list[int]:
    """`values` as a non-empty list of distinct 0-based indices below `count`, or a clear error
    (a bare number, a float such as 1.7, a bool or an index out of range is refused)."""
    if isinstance(values, (int, str, bytes, float)) or not hasattr(values, "__iter__"):
        raise InputError(f"{what}s must be a list of 0-based {what} numbers, e.g. [0, 2]; got "
                         f"{values!r}. For one {what}, write [{values!r}].")
    checked = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InputError(f"A {what} is a 0-based integer, got {value!r} in {list(values)!r}.")
        if not 0 <= value < count:
            raise InputError(f"{what.capitalize()} {value} is not available: {what}s are 0-based, "
                             f"choose from 0 to {count - 1}.")
        checked.append(int(value))
    if not checked:
        raise InputError(f"The list of {what}s is empty: pass the 0-based {what}s to show, or "
                         "None for all.")
    return checked


def _bad_layer(layer: int, allowed: list[int]):
    raise InputError(f"Layer {layer} is not available: layers are 0-based, choose from {allowed}.")
