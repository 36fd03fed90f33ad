"""Which engine draws a frame: torch here, GL through a plugin, with one fallback policy.

`imfit/` must not import GL code, yet a notebook, a Blender script and every CLI command want the
same "GL when available, else torch" choice. The GL engine therefore registers itself as an
entry point (group `imfit.renderers`, name `gl`, in pyproject.toml) and is looked up by name on
first use: the dependency points from viewer/ to imfit/, never back.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any

from imfit.errors import ImfitError

Renderer = Callable[..., Any]  # (gs, width, height, center=, zoom=) -> float32 (H, W, 3) 0..1
BACKENDS = ("auto", "gl", "torch")
GROUP = "imfit.renderers"


def _plugin(name: str) -> Callable[..., Renderer]:
    """The factory registered under `name` (e.g. viewer.gl_render:gl_backend)."""
    found = [ep for ep in metadata.entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise ImfitError(f"no {name!r} renderer is installed (reinstall imfit with its viewer "
                         f"package, or use --backend torch)")
    return found[0].load()  # type: ignore[no-any-return]


def torch_renderer() -> Renderer:
    from imfit.renderers.gabor import render

    return render


def get_renderer(backend: str = "auto", strategy: str = "billboard",
                 note: Callable[[str], Any] | None = None) -> Renderer:
    """The frame renderer for `backend`: "gl", "torch", or "auto" (GL when a context can be
    made, else torch, saying so once through `note`). "gl" without GL raises ImfitError."""
    if backend not in BACKENDS:
        raise ImfitError(f"unknown backend {backend!r} (use {', '.join(BACKENDS)})")
    if backend == "torch":
        return torch_renderer()
    try:
        return _plugin("gl")(strategy)
    except ImfitError as e:
        if backend == "gl" or "strategy" in str(e):
            raise
        if note is not None:
            note(f"note: no GL here, rendering with torch ({e})")
        return torch_renderer()
