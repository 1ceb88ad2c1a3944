"""What ``import bertlab`` costs, and that every public name is still there.

A graded notebook (and any script that only measures) imports bertlab in a fresh process: it
should not wait for matplotlib, scikit-learn or scipy.stats, which only drawing, the BertViz views
and probing use. Those names are imported on first use (``bertlab.__getattr__``, PEP 562).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Heavy libraries that only drawing, the views and probing need.
NOT_AT_IMPORT = ("matplotlib", "sklearn", "scipy.stats", "bertviz")


def modules_after(code: str) -> set[str]:
    """The modules loaded in a fresh interpreter after running `code`."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    listing = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, timeout=300).stdout
    return set(listing.split())


@pytest.mark.slow
def test_importing_bertlab_loads_no_drawing_or_probing_library():
    loaded = modules_after("import bertlab")
    assert "bertlab" in loaded
    assert not [name for name in NOT_AT_IMPORT if name in loaded]


@pytest.mark.slow
def test_a_name_imported_on_first_use_works_and_loads_its_library():
    loaded = modules_after("import bertlab\nbertlab.plot_heatmap")
    assert "matplotlib" in loaded


def test_every_public_name_is_listed_and_reachable():
    import bertlab

    missing = [name for name in bertlab.__all__ if not hasattr(bertlab, name)]
    assert not missing
    assert set(bertlab.__all__) <= set(dir(bertlab))
    with pytest.raises(AttributeError, match="no attribute 'plot_everything'"):
        bertlab.plot_everything
