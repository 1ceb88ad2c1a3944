"""Copy the third-party files the Python package needs at run time from npm into bertlab/assets/.

BertViz's views need d3 5.7.0 and jQuery in the browser, and figures with Japanese text need a
Japanese font in matplotlib. A ``pip install`` of bertlab (Colab) has neither npm nor a network
it may rely on, so the package carries these files itself. They are not written by hand: this
script copies them, byte for byte, from the npm packages pinned in ``package-lock.json``
(``make assets`` runs ``npm ci``), puts each package's licence beside them, and records in
``bertlab/assets/ASSETS.json`` where each file came from and its SHA-256.
``tests/unit/test_assets.py`` checks the record against the files and the lock file, and
``tests/book/test_assets_match_npm.py`` checks the files against a fresh ``npm ci``.

Run:  make vendor      (= npm ci, then .venv/bin/python scripts/vendor_assets.py)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
ASSETS = ROOT / "bertlab" / "assets"
MANIFEST = ASSETS / "ASSETS.json"

# file in bertlab/assets -> (npm package, path inside it, the package's licence file).
# The font is Noto Sans JP's "japanese" subset (kana, JIS X 0208 kanji, punctuation: 6,886
# characters) at weight 400, as WOFF 1: fontTools (a matplotlib dependency) unpacks WOFF 1 with
# zlib alone, while WOFF 2 would need brotli. The site uses the same fontsource package.
FILES = {
    "d3.min.js": ("d3", "dist/d3.min.js", "LICENSE"),
    "jquery.min.js": ("jquery", "dist/jquery.min.js", "LICENSE.txt"),
    "noto-sans-jp-400.woff": ("@fontsource/noto-sans-jp",
                              "files/noto-sans-jp-japanese-400-normal.woff", "LICENSE"),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def licence_name(package: str) -> str:
    """``@fontsource/noto-sans-jp`` -> ``noto-sans-jp.LICENSE``."""
    return package.rsplit("/", 1)[-1] + ".LICENSE"


def locked_version(package: str) -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    return lock["packages"][f"node_modules/{package}"]["version"]


def main() -> int:
    if not NODE_MODULES.is_dir():
        print("node_modules is missing: run `make assets` (npm ci) first.", file=sys.stderr)
        return 1
    ASSETS.mkdir(exist_ok=True)
    record = {}
    for name, (package, source, licence) in FILES.items():
        folder = NODE_MODULES / package
        installed = json.loads((folder / "package.json").read_text())["version"]
        if installed != locked_version(package):
            print(f"{package} {installed} is installed but the lock file says "
                  f"{locked_version(package)}: run `npm ci`.", file=sys.stderr)
            return 1
        shutil.copyfile(folder / source, ASSETS / name)
        shutil.copyfile(folder / licence, ASSETS / licence_name(package))
        record[name] = {"package": package, "version": installed, "source": source,
                        "licence": licence_name(package), "sha256": sha256(ASSETS / name)}
    MANIFEST.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {len(record)} files and their licences to {ASSETS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
