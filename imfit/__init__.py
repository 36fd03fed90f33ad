"""imfit: fit images with Gabor wavelets, render them, bend them, export them.

The public API is small: `load`, `save`, `render` and the `GaborSet` type. Heavy modules (the
fitter, diffusion) are imported on use so that `import imfit` stays light.
"""

from imfit.errors import ImfitError
from imfit.formats.gabor_json import load, save
from imfit.model.gaborset import COLUMNS, GaborSet

__all__ = ["COLUMNS", "GaborSet", "ImfitError", "load", "render", "save"]
__version__ = "0.1.0"


def render(gs: GaborSet, width: int | None = None, height: int | None = None, **kw):  # type: ignore[no-untyped-def]
    """Render `gs` to a float32 (H, W, 3) array in 0..1 with torch (see imfit.render.render)."""
    from imfit.renderers.gabor import render as _render

    return _render(gs, width, height, **kw)
