"""The Python API: what `import imfit` offers a notebook or a Blender script.

Each function checks its inputs once, here at the boundary, with a message a user understands
(an `ImfitError`), then calls the capability that does the work. Heavy modules (torch, the
fitter, diffusion) are imported on first call. Nothing here touches the caller's global random
state: seeds are explicit arguments and the fitter draws from its own generators.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from imfit import validate
from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet

PathLike = str | os.PathLike[str]
def load(path: PathLike, width: int | None = None, height: int | None = None) -> GaborSet:
    """Any wavelet file imfit reads: `.gabor.json`, torch-imfit `.txt`, and the exported
    `.tsv` / `.csv` / `.coll` / `.jxf` / `.npz` / `.json` (tables take `width`, `height`)."""
    from imfit.formats.readers import read

    return read(path, width, height)


def save(gs: GaborSet, path: PathLike, overwrite: bool = False) -> Path:
    """Write `gs` as `.gabor.json`, atomically; an existing file needs `overwrite=True`."""
    from imfit.formats.gabor_json import save as save_json

    if not isinstance(gs, GaborSet):
        raise ImfitError(f"save takes a GaborSet, got {type(gs).__name__}")
    return save_json(gs, path, overwrite=overwrite)


def render(gs: GaborSet, width: int | None = None, height: int | None = None, *,
           center: tuple[float, float] = (0.0, 0.0), zoom: float = 1.0,
           backend: str = "torch", method: str = "tiled") -> np.ndarray:
    """Draw `gs` as a float32 (H, W, 3) array in 0..1.

    Without a size it draws the fitted frame; with only `width`, the fitted aspect. `zoom` > 1
    magnifies, `center` pans in plane units (1 = half the image height). `backend` "torch"
    (exact, any machine), "gl" (the viewer's GLSL, needs OpenGL) or "auto" (GL when present).
    `method` "tiled" (fast, truncated at 4 sigma) or "dense" (the plain reference sum).
    """
    from imfit.renderers.backends import get_renderer

    if not isinstance(gs, GaborSet):
        raise ImfitError(f"render takes a GaborSet, got {type(gs).__name__}")
    if method not in ("tiled", "dense"):
        raise ImfitError(f"unknown render method {method!r} (use tiled or dense)")
    w = gs.width if width is None else width
    h = height if height is not None else (gs.height if w == gs.width else
                                            max(1, round(w / gs.aspect)))
    # the checks every renderer shares (imfit.validate), here too for the GL path
    w, h = validate.image_size(w, h, "render size")
    zoom = validate.number(zoom, "zoom", 0.0, 1e6, lo_open=True)
    center = validate.point(center, "center")
    if backend == "torch":
        from imfit.renderers.gabor import render as torch_render

        return torch_render(gs, w, h, center=center, zoom=zoom, method=method)
    if method != "tiled":
        raise ImfitError("method='dense' is the torch reference; use backend='torch'")
    return np.asarray(get_renderer(backend)(gs, w, h, center=center, zoom=zoom), np.float32)


def _as_image(image: Any, what: str) -> np.ndarray:
    """A float (H, W, 3) array in 0..1, or a path read as one; anything else is refused."""
    if isinstance(image, (str, os.PathLike)):
        from imfit.formats.images import read_image

        rgb, alpha = read_image(image)
        return rgb if alpha is None else rgb * alpha[..., None]
    a = np.asarray(image)
    if a.dtype.kind not in "f":
        raise ImfitError(f"{what} must be float values in 0..1, got dtype {a.dtype} (divide "
                         f"8-bit pixels by 255, or pass the file path)")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ImfitError(f"{what} must be an (H, W, 3) RGB array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ImfitError(f"{what} has NaN or infinite values")
    if a.size and (a.min() < -1e-3 or a.max() > 1 + 1e-3):
        raise ImfitError(f"{what} must lie in 0..1, got {a.min():g}..{a.max():g}")
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def fit(image: Any, num_gabors: int = 256, *, size: int = 256, iterations: int = 200,
        seed: int = 0, device: str = "cpu", weight: np.ndarray | None = None,
        init: GaborSet | None = None, progress: Callable[[int, float], None] | None = None,
        **settings: Any) -> GaborSet:
    """Fit `num_gabors` wavelets to a photo: a path, or a float (H, W, 3) array in 0..1.

    A path is read and scaled to longer side `size`; an array is fitted at its own size.
    Other keywords are `imfit.fitting.fitter.FitSettings` fields (rescales, l1, gradient...).
    The caller's global torch and numpy random states are left as they were.
    """
    import torch

    from imfit.fitting.fitter import FitSettings, fit_array

    if isinstance(image, (str, os.PathLike)):
        from imfit.formats.images import load_target

        target, w = load_target(image, size)
        weight = w if weight is None else weight
        meta = {"source": Path(image).name}
    else:
        target = _as_image(image, "the fit target")
        size = max(target.shape[:2])
        meta = {}
    try:
        s = FitSettings.from_options({"num_gabors": num_gabors, "size": size,
                                      "iterations": iterations, "seed": seed, "device": device,
                                      **settings})
    except TypeError as e:
        raise ImfitError(f"fit: {e}") from None
    s.validate()
    devices = [torch.device(device)] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        return fit_array(target, s, weight=weight, init=init, meta=meta,
                         progress=progress).gaborset


def morph(a: GaborSet, b: GaborSet, frames: int = 60, ease: str = "smooth") -> Iterator[GaborSet]:
    """The sets of a morph from `a` to `b` over `frames` frames (a first, b last), wavelets
    matched one to one so each travels to its partner."""
    from imfit.edit.morph import morph_sets

    return morph_sets(a, b, frames, ease)


def animate(gs: GaborSet, frames: int, fps: float = 30.0,
            drift: Mapping[str, float] | str | None = None, loop: bool = False,
            timeline: Any = None) -> Iterator[GaborSet]:
    """The set of every frame of an animation: `drift` rates in turns per second (e.g.
    {"phase": 0.5} or "phase=0.5,theta=0.1"), snapped to whole turns with `loop`; `timeline` a
    path or a parsed timeline (docs/timeline.md)."""
    from imfit.edit.animate import animation_sets, load_timeline, loop_rates
    from imfit.edit.ops import parse_drift

    rates = parse_drift(drift) if isinstance(drift, str) else dict(drift or {})
    if loop:
        rates = loop_rates(rates, frames, fps)
    if isinstance(timeline, (str, os.PathLike)):
        timeline = load_timeline(timeline)
    return animation_sets(gs, frames, fps, rates, loop=loop, timeline=timeline)


def diffuse(image: Any, preset: str = "perona-malik-drugs", steps: int | None = None,
            every: int | None = None, size: int | None = None,
            params: Mapping[str, Any] | None = None,
            device: str = "cpu") -> Iterator[np.ndarray]:
    """Run a diffusion preset on a picture (a path, a fit file or a float (H, W, 3) array):
    yields the picture, then the state every `every` steps up to `steps` (the preset's own
    numbers by default), each float32 (H, W, 3). `params` overrides preset parameters
    ({"kappa": 0.1}). `device`: cpu, cuda, cuda:N, mps or auto (the torch engine's)."""
    from imfit.device import resolve
    from imfit.diffusion.engine import diffuse_frames, load_preset, read_diffusion_input

    resolve(device)  # an absent device fails before the input is read

    p = load_preset(preset)
    if params:
        p = p.with_params(**dict(params))
    if isinstance(image, (str, os.PathLike)):
        frames, _ = read_diffusion_input(image, size)
    else:
        frames = [_as_image(image, "the diffusion input")]
    return diffuse_frames(p, frames, p.steps if steps is None else steps,
                          p.every if every is None else every, device=device)


def blend(src: Any, dst: Any, mask: Any, offset: tuple[int, int] | None = None,
          mixed: bool = False, device: str = "cpu") -> np.ndarray:
    """Seamless (Poisson) clone of `src` into `dst` inside `mask` (white = inside): float32
    (H, W, 3) in 0..1; pixels outside the mask are `dst`'s, bit for bit. `device`: where the
    solve's tensors live (cpu, cuda, cuda:N, mps or auto)."""
    from imfit.device import resolve
    from imfit.poisson.solve import blend as poisson_blend

    resolve(device)

    s, d = _as_image(src, "the source"), _as_image(dst, "the destination")
    if isinstance(mask, (str, os.PathLike)):
        m = _as_image(mask, "the mask").mean(-1)
    else:
        m = np.asarray(mask, np.float32)
        m = m.mean(-1) if m.ndim == 3 else m
    return poisson_blend(s, d, m, offset, mixed, device=device)


def export(gs: GaborSet, target: str, out_dir: PathLike, stem: str = "fit",
           force: bool = False, **options: Any) -> list[Path]:
    """Write the files of an export target (`json`, `glsl`, `touchdesigner`, `max`, `isf`,
    `shadertoy`, `blender`, `web`, `csv`, `npz`, `txt`) into `out_dir`, all or none."""
    found = [ep for ep in metadata.entry_points(group="imfit.exporters") if ep.name == "export"]
    if not found:
        raise ImfitError("the exporters package is not installed with imfit")
    paths, _ = found[0].load()(gs, target, out_dir, stem=stem, force=force, **options)
    return list(paths)
