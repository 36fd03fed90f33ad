"""Morphing one fit into another: match wavelets, then interpolate every parameter.

Wavelets are paired by an optimal assignment (scipy's linear_sum_assignment, the Jonker-Volgenant
algorithm) on a cost mixing position, log size and colour, so each stroke travels to the most
similar stroke of the other picture instead of to whichever shares its index. Unpaired wavelets
(when the counts differ) fade out (from A) or in (to B) in place.

Angles and phases move on the circle along the shorter path. A Gabor is unchanged by
theta -> theta + pi with every phase negated (u -> -u), and by amp -> -amp with phase + pi, so
orientations are really defined mod pi: each pair picks the representation of B that turns the
least, which keeps stripes from spinning half a turn for nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from imfit.edit.easing import ease as ease_at
from imfit.errors import ImfitError
from imfit.model.gaborset import COL, GaborSet
from imfit.validate import MAX_MORPH_WAVELETS, frame_count

TWO_PI = 2.0 * math.pi


def _wrap(a: np.ndarray) -> np.ndarray:
    """Angles into [-pi, pi)."""
    return np.mod(a + math.pi, TWO_PI) - math.pi


def _positive_amp(p: np.ndarray) -> np.ndarray:
    """Same picture with every amplitude >= 0 (amp -> -amp, phase -> phase + pi)."""
    q = p.copy()
    neg = q[:, 9:12] < 0
    q[:, 9:12] = np.abs(q[:, 9:12])
    q[:, 6:9] = np.where(neg, q[:, 6:9] + math.pi, q[:, 6:9])
    return q


def match_cost(a: GaborSet, b: GaborSet, size_weight: float = 0.05,
               color_weight: float = 1.0) -> np.ndarray:  # (Na, Nb)
    """Squared distance between every pair: position (units^2) + size_weight * (log sigma,
    log gamma)^2 + color_weight * (per-channel |amp|)^2. With the defaults, doubling a size
    costs like moving 0.16 units (8% of the image height)."""
    pa, pb = a.params.astype(np.float64), b.params.astype(np.float64)
    cost = ((pa[:, None, 0:2] - pb[None, :, 0:2]) ** 2).sum(-1)
    la = np.log(pa[:, COL["sigma"]:COL["gamma"] + 1])
    lb = np.log(pb[:, COL["sigma"]:COL["gamma"] + 1])
    cost += size_weight * ((la[:, None] - lb[None]) ** 2).sum(-1)
    ca, cb = np.abs(pa[:, 9:12]), np.abs(pb[:, 9:12])
    cost += color_weight * ((ca[:, None] - cb[None]) ** 2).sum(-1)
    return cost


@dataclass(frozen=True)
class Morph:
    """A matched pair of fits, ready to be sampled at any t in [0, 1].

    start, end: (M, 12) float64 rows (M = max(Na, Nb)) such that row i of `start` travels to
    row i of `end`; `fade`: (M,) 0 = a matched pair, -1 = only in A (fades out), +1 = only in B
    (fades in). Both ends are normalised (amp >= 0, B's angle representation nearest A's).
    """

    a: GaborSet
    b: GaborSet
    start: np.ndarray
    end: np.ndarray
    fade: np.ndarray
    pairs: int

    def at(self, t: float, ease: str = "linear") -> GaborSet:
        """The set at time t (0 = exactly A, 1 = exactly B; in between, interpolated)."""
        if not math.isfinite(t):
            raise ImfitError(f"morph time must be a finite number, got {t!r}")
        if t <= 0:
            return self.a
        if t >= 1:
            return self.b
        s = ease_at(t, ease)
        p0, p1 = self.start, self.end
        p = p0 + (p1 - p0) * s  # positions, angles and phases (already on the short path)
        for c in ("sigma", "gamma", "wavelength"):  # sizes in log space: no shrink-then-grow
            i = COL[c]
            p[:, i] = p0[:, i] * (p1[:, i] / p0[:, i]) ** s
        w = np.where(self.fade < 0, 1 - s, np.where(self.fade > 0, s, 1.0))
        amp = np.where(self.fade[:, None] == 0, p[:, 9:12], np.where(
            self.fade[:, None] < 0, p0[:, 9:12], p1[:, 9:12]))
        p[:, 9:12] = amp * w[:, None]
        bias = np.asarray(self.a.bias) + (np.asarray(self.b.bias) - np.asarray(self.a.bias)) * s
        return self.a.replace(params=p.astype(np.float32), bias=tuple(float(v) for v in bias))


def match(a: GaborSet, b: GaborSet, size_weight: float = 0.05,
          color_weight: float = 1.0) -> Morph:
    """Pair the wavelets of `a` and `b` optimally and line up their angles (see module doc)."""
    from scipy.optimize import linear_sum_assignment

    if not len(a) and not len(b):
        raise ImfitError("both fits are empty; there is nothing to morph")
    check_sizes(a, b)
    pa, pb = _positive_amp(a.params.astype(np.float64)), _positive_amp(b.params.astype(np.float64))
    if len(a) and len(b):
        ia, ib = linear_sum_assignment(match_cost(a, b, size_weight, color_weight))
    else:
        ia = ib = np.zeros(0, np.int64)
    s, e = pa[ia], pb[ib].copy()
    th = COL["theta"]
    d0 = _wrap(e[:, th] - s[:, th])
    d1 = _wrap(e[:, th] + math.pi - s[:, th])
    flip = np.abs(d1) < np.abs(d0)
    e[:, th] = s[:, th] + np.where(flip, d1, d0)
    e[:, 6:9] = np.where(flip[:, None], -e[:, 6:9], e[:, 6:9])
    e[:, 6:9] = s[:, 6:9] + _wrap(e[:, 6:9] - s[:, 6:9])
    only_a = np.setdiff1d(np.arange(len(a)), ia)
    only_b = np.setdiff1d(np.arange(len(b)), ib)
    # unmatched wavelets keep their shape and place; only their amplitude fades
    start = np.concatenate([s, pa[only_a], pb[only_b]])
    end = np.concatenate([e, pa[only_a], pb[only_b]])
    fade = np.concatenate([np.zeros(len(ia)), -np.ones(len(only_a)), np.ones(len(only_b))])
    return Morph(a, b, start, end, fade, len(ia))


def check_sizes(a: GaborSet, b: GaborSet) -> None:
    """Refuse, before allocating, a pairing whose dense Na x Nb cost matrix would not fit:
    20k x 20k took 15 GB. The optimal assignment needs the whole matrix, so it cannot be cut in
    chunks without giving up optimality; fewer wavelets (the strongest) morph just as well."""
    most = MAX_MORPH_WAVELETS
    if len(a) * len(b) > most * most:
        raise ImfitError(f"morphing {len(a)} into {len(b)} wavelets needs a {len(a)} x {len(b)} "
                         f"matching table; at most {most} x {most} (keep the strongest with "
                         f"`imfit edit FIT topk:k={most} -o FEWER.gabor.json`)")


def frame_times(frames: int) -> np.ndarray:
    """t of each frame: the first is exactly 0 (A), the last exactly 1 (B)."""
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 2:
        raise ImfitError(f"a morph needs at least 2 frames, got {frames!r}")
    return np.linspace(0.0, 1.0, frame_count(int(frames), "morph frames", lo=2))


def morph_sets(a: GaborSet, b: GaborSet, frames: int, ease: str = "smooth",
               size_weight: float = 0.05, color_weight: float = 1.0,
               bounce: bool = False) -> Iterator[GaborSet]:
    """The sets of each frame, A first, B last (with `bounce`, then back to just before A).

    Checks everything when called, not on the first frame; the sets are made one at a time, so
    a long morph never holds more than one frame's wavelets."""
    times = frame_times(frames)
    if bounce:
        times = np.concatenate([times, times[-2:0:-1]])
    ease_at(0.5, ease)  # refuse a bad ease before matching
    check_sizes(a, b)
    m = match(a, b, size_weight, color_weight)
    return (m.at(float(t), ease) for t in times)
