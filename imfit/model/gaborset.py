"""The central type: a set of Gabor wavelets in physical units.

One frozen dataclass around a single (N, 12) float32 array, after gsplat's row-aligned rule:
every per-wavelet quantity is a column of that array, named views are slices (no copies), and
indexing returns the same type. Everything else (renderers, exporters, edits) reads this.

Coordinate conventions (stated once here, repeated in every file format and export):
- The fitted image spans y in [-1, 1] (top to bottom, y points DOWN like image rows) and
  x in [-aspect, aspect] (left to right), aspect = width / height. One unit is half the image
  height, so wavelets are isotropic whatever the aspect. The origin is the image centre.
- theta is in radians, measured from +x towards +y (clockwise on screen, since y is down).
- sigma is the Gaussian standard deviation ALONG the wave (the u axis, the direction the
  cosine oscillates in), gamma the standard deviation ACROSS it (v axis); both in units.
- wavelength is the period of the cosine along u, in units; phase is in radians per channel.
- A pixel is clamp(bias + sum_i amp_i * exp(-u^2/2sigma^2 - v^2/2gamma^2) * cos(2 pi u/wavelength
  + phase_i), 0, 1), with u = dx cos(theta) + dy sin(theta), v = -dx sin(theta) + dy cos(theta).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imfit.errors import ImfitError

COLUMNS: tuple[str, ...] = (
    "x",
    "y",
    "theta",
    "sigma",
    "gamma",
    "wavelength",
    "phase_r",
    "phase_g",
    "phase_b",
    "amp_r",
    "amp_g",
    "amp_b",
)
NCOL = len(COLUMNS)
COL = {name: i for i, name in enumerate(COLUMNS)}

# Smallest positive width/wavelength we accept: far below a pixel at any practical size, but it
# keeps 1/sigma^2 finite in float32 so renderers and shaders never divide by zero.
MIN_WIDTH = 1e-6


@dataclass(frozen=True, eq=False)
class GaborSet:
    """N wavelets x 12 float32 values plus the frame they were fitted in.

    params: (N, 12) float32, columns in COLUMNS order, physical units (see module docstring).
    width, height: the fitted image size in pixels (sets the aspect and the preview size).
    bias: global RGB colour added before the clamp (the model has no DC term otherwise).
    meta: free-form fit metadata (source, settings, PSNR, seed...); JSON-serialisable.
    """

    params: np.ndarray
    width: int = 256
    height: int = 256
    bias: tuple[float, float, float] = (0.5, 0.5, 0.5)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = np.asarray(self.params)
        if p.ndim != 2 or p.shape[1] != NCOL:
            raise ImfitError(f"wavelet array must have shape (N, {NCOL}), got {tuple(p.shape)}")
        if not np.issubdtype(p.dtype, np.number):
            raise ImfitError(f"wavelet array must be numeric, got dtype {p.dtype}")
        src = p
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 -> inf, refused just below
            p = np.ascontiguousarray(p, dtype=np.float32)
        if p.flags.writeable and np.may_share_memory(p, src):
            p = p.copy()  # freeze our own copy, never the caller's array
        p.setflags(write=False)
        if not np.isfinite(p).all():
            bad = np.argwhere(~np.isfinite(p))[0]
            raise ImfitError(
                f"wavelet {bad[0]} has a non-finite {COLUMNS[bad[1]]} ({p[bad[0], bad[1]]})"
            )
        for name in ("sigma", "gamma", "wavelength"):
            col = p[:, COL[name]]
            if col.size and (col < MIN_WIDTH).any():
                i = int(np.argmin(col))
                raise ImfitError(f"wavelet {i} has {name} {col[i]:g}; it must be positive")
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ImfitError(f"{name} must be a positive integer, got {v!r}")
        bias = tuple(float(b) for b in np.asarray(self.bias, dtype=np.float64).reshape(-1))
        if len(bias) == 1:
            bias = bias * 3
        if len(bias) != 3 or not all(math.isfinite(b) for b in bias):
            raise ImfitError(f"bias must be 3 finite numbers, got {self.bias!r}")
        object.__setattr__(self, "params", p)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "meta", dict(self.meta))

    # -- size and indexing -------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.params.shape[0])

    @property
    def n(self) -> int:
        return len(self)

    @property
    def aspect(self) -> float:
        return self.width / self.height

    def __getitem__(self, idx: Any) -> GaborSet:
        """Rows by int, slice, index array or boolean mask; always returns a GaborSet."""
        if isinstance(idx, (int, np.integer)):
            idx = [int(idx)]
        return self.replace(params=self.params[idx])

    def replace(self, **changes: Any) -> GaborSet:
        """A new set with some fields changed (the input is never mutated)."""
        kw = dict(params=self.params, width=self.width, height=self.height, bias=self.bias,
                  meta=self.meta)
        kw.update(changes)
        return GaborSet(**kw)

    # -- named views (read-only slices, no copies) ---------------------------------------------
    @property
    def xy(self) -> np.ndarray:  # (N, 2)
        return self.params[:, 0:2]

    @property
    def theta(self) -> np.ndarray:  # (N,)
        return self.params[:, 2]

    @property
    def sigma(self) -> np.ndarray:  # (N,)
        return self.params[:, 3]

    @property
    def gamma(self) -> np.ndarray:  # (N,)
        return self.params[:, 4]

    @property
    def wavelength(self) -> np.ndarray:  # (N,)
        return self.params[:, 5]

    @property
    def phase(self) -> np.ndarray:  # (N, 3)
        return self.params[:, 6:9]

    @property
    def amplitude(self) -> np.ndarray:  # (N, 3)
        return self.params[:, 9:12]

    def energy(self) -> np.ndarray:  # (N,)
        """Each wavelet's L2 energy on the plane: sum_c amp_c^2 * pi * sigma * gamma.

        The integral of (amp G cos)^2 is ~amp^2 pi sigma gamma / 2 for wavelengths shorter than
        the window; the constant does not matter for ranking (strongest-first exports, top-k).
        """
        amp2 = (self.amplitude.astype(np.float64) ** 2).sum(axis=1)
        return amp2 * np.pi * self.sigma.astype(np.float64) * self.gamma.astype(np.float64)

    def order_by_energy(self) -> np.ndarray:  # (N,) indices, strongest first
        return np.argsort(-self.energy(), kind="stable")

    @staticmethod
    def empty(width: int = 256, height: int = 256) -> GaborSet:
        return GaborSet(np.zeros((0, NCOL), np.float32), width, height)
