"""imfit: fit images with Gabor wavelets, render them, bend them, export them.

The Python API (docs/api.md): `fit`, `load`, `save`, `render`, `edit` (the pure edit ops),
`morph`, `animate`, `diffuse`, `blend`, `export`, the `GaborSet` type and `ImfitError`.
Everything but the type and the error is imported on first use, so `import imfit` stays light
(no torch until a function needs it).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from imfit.errors import ImfitError
from imfit.model.gaborset import COLUMNS, GaborSet

if TYPE_CHECKING:
    from imfit import edit
    from imfit.api import animate, blend, diffuse, export, fit, load, morph, render, save

__all__ = ["COLUMNS", "GaborSet", "ImfitError", "animate", "blend", "diffuse", "edit",
           "export", "fit", "load", "morph", "render", "save"]
__version__ = "0.1.0"

_API = {"animate", "blend", "diffuse", "export", "fit", "load", "morph", "render", "save"}


def __getattr__(name: str) -> Any:
    """PEP 562 lazy attributes: the API functions and the `edit` subpackage."""
    if name in _API:
        value = getattr(import_module("imfit.api"), name)
    elif name == "edit":
        value = import_module("imfit.edit")
    else:
        raise AttributeError(f"module 'imfit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
