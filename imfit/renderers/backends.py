"""Which engine does the work: torch here, GL through a plugin, with one fallback policy.

`imfit/` must not import GL code, yet a notebook, a Blender script and every CLI command want the
same "GL when available, else torch" choice, for drawing a fit and for the diffusion and Poisson
engines alike. The GL engines therefore register themselves as entry points (group
`imfit.renderers`: `gl` draws, `gl-diffusion` and `gl-poisson` step and solve; pyproject.toml)
and are looked up by name on first use: the dependency points from viewer/ to imfit/, never back.
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
    gl = _gl_or_none("gl", backend, note, "rendering", strategy)
    return torch_renderer() if gl is None else gl


def gl_engine(name: str, backend: str = "torch",
              note: Callable[[str], Any] | None = None) -> Callable[..., Any] | None:
    """The GL engine registered as `name` ("gl-diffusion": `engine(preset, image)`,
    "gl-poisson": `solver(system)`) for `backend`, or None for the caller's torch engine.

    "torch" -> None; "gl" -> the GL engine, or ImfitError where no GL context can be made;
    "auto" -> GL when a context can be made, else None after one line through `note`.
    """
    return _gl_or_none(name, backend, note, name.removeprefix("gl-"))


def _gl_or_none(name: str, backend: str, note: Callable[[str], Any] | None, what: str,
                *args: Any) -> Any:
    """The one policy: the plugin `name` made with `args`, or None meaning torch."""
    if backend not in BACKENDS:
        raise ImfitError(f"unknown backend {backend!r} (use {', '.join(BACKENDS)})")
    if backend == "torch":
        return None
    try:
        return _plugin(name)(*args)
    except ImfitError as e:
        if backend == "gl" or "strategy" in str(e):
            raise
        if note is not None:
            note(f"note: no GL here, {what} with torch ({e})")
        return None
