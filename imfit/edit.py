"""Pure edit functions on a GaborSet: a new set out, the input untouched.

The viewer's keys, `imfit edit` and the animation commands all call these, so a change made live
is the same change made from the command line. Angles in radians, positions in plane units.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from imfit.errors import ImfitError
from imfit.gaborset import COL, GaborSet


def _rgb(v: float | Sequence[float], name: str) -> np.ndarray:
    a = np.asarray(v, np.float64).reshape(-1)
    if a.size == 1:
        a = np.repeat(a, 3)
    if a.size != 3 or not np.isfinite(a).all():
        raise ImfitError(f"{name} must be one number or three (R,G,B), got {v!r}")
    return a


def _positive(v: float, name: str) -> float:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ImfitError(f"{name} must be a positive number, got {v!r}")
    return float(v)


def _with(gs: GaborSet, p: np.ndarray, **kw: object) -> GaborSet:
    return gs.replace(params=p.astype(np.float32), **kw)


def scale(gs: GaborSet, sigma: float = 1.0, gamma: float = 1.0,
          wavelength: float = 1.0) -> GaborSet:
    """Multiply window widths and the wavelength (1 = unchanged)."""
    p = gs.params.astype(np.float64)
    p[:, COL["sigma"]] *= _positive(sigma, "sigma scale")
    p[:, COL["gamma"]] *= _positive(gamma, "gamma scale")
    p[:, COL["wavelength"]] *= _positive(wavelength, "wavelength scale")
    return _with(gs, p)


def rotate_wavelets(gs: GaborSet, angle: float) -> GaborSet:
    """Turn every wavelet about its own centre by `angle` radians (positions stay)."""
    p = gs.params.astype(np.float64)
    p[:, COL["theta"]] += angle
    return _with(gs, p)


def rotate_field(gs: GaborSet, angle: float,
                 center: tuple[float, float] = (0.0, 0.0)) -> GaborSet:
    """Rotate the whole picture by `angle` radians about `center` (positions and orientations).

    With y pointing down, a positive angle turns the picture clockwise on screen.
    """
    p = gs.params.astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = p[:, 0] - center[0], p[:, 1] - center[1]
    p[:, 0] = center[0] + c * dx - s * dy
    p[:, 1] = center[1] + s * dx + c * dy
    p[:, COL["theta"]] += angle
    return _with(gs, p)


def translate(gs: GaborSet, dx: float, dy: float) -> GaborSet:
    p = gs.params.astype(np.float64)
    p[:, 0] += dx
    p[:, 1] += dy
    return _with(gs, p)


def shift_phase(gs: GaborSet, radians: float | Sequence[float]) -> GaborSet:
    """Add to every phase (one number, or R,G,B): moves the stripes along each wave."""
    p = gs.params.astype(np.float64)
    p[:, 6:9] += _rgb(radians, "phase shift")
    return _with(gs, p)


def gain(gs: GaborSet, g: float | Sequence[float]) -> GaborSet:
    """Multiply amplitudes (one number, or per channel R,G,B). Negative flips the contrast."""
    p = gs.params.astype(np.float64)
    p[:, 9:12] *= _rgb(g, "gain")
    return _with(gs, p)


def with_bias(gs: GaborSet, bias: float | Sequence[float]) -> GaborSet:
    return gs.replace(bias=tuple(_rgb(bias, "bias")))


def top_k(gs: GaborSet, k: int) -> GaborSet:
    """The k highest-energy wavelets, strongest first."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ImfitError(f"top-k needs a count >= 0, got {k!r}")
    if k > len(gs):
        raise ImfitError(f"top-k {k} is more than the {len(gs)} wavelets in the set")
    return gs[gs.order_by_energy()[:k]]


DRIFT_KEYS = ("phase", "theta", "rotate")


def parse_drift(spec: str) -> dict[str, float]:
    """'phase=0.5,theta=0.1' -> {'phase': 0.5, 'theta': 0.1}; rates in turns per second."""
    out: dict[str, float] = {}
    for part in filter(None, (s.strip() for s in spec.split(","))):
        key, sep, val = part.partition("=")
        if not sep or key.strip() not in DRIFT_KEYS:
            raise ImfitError(f"drift {part!r}: use KEY=TURNS_PER_SECOND with KEY in "
                             f"{', '.join(DRIFT_KEYS)}")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            raise ImfitError(f"drift {part!r}: {val!r} is not a number") from None
        if not math.isfinite(out[key.strip()]):
            raise ImfitError(f"drift {part!r}: not a finite number")
    return out


def drift(gs: GaborSet, t: float, phase: float = 0.0, theta: float = 0.0,
          rotate: float = 0.0) -> GaborSet:
    """The set after `t` seconds of steady drift (rates in turns per second).

    phase: every phase advances (stripes travel); theta: every wavelet spins about its centre;
    rotate: the whole field turns about the origin. A whole number of turns over a loop's length
    makes the loop seamless.
    """
    out = gs
    if phase:
        out = shift_phase(out, 2 * math.pi * phase * t)
    if theta:
        out = rotate_wavelets(out, 2 * math.pi * theta * t)
    if rotate:
        out = rotate_field(out, 2 * math.pi * rotate * t)
    return out


def drift_frames(gs: GaborSet, frames: int, fps: float,
                 rates: dict[str, float]) -> Iterator[GaborSet]:
    """The sets of an animation: frame i is `drift(gs, i / fps, **rates)` (rates from
    `parse_drift`). Renderers map over this; `imfit render --frames` writes the result."""
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ImfitError(f"--frames must be at least 1, got {frames!r}")
    step = 1.0 / _positive(fps, "--fps")
    for i in range(int(frames)):
        yield drift(gs, i * step, **rates)
