"""Quality measures shared by the CLI, the benchmarks and the tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two 0..1 images (RGB averaged)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _dct_matrix(n: int) -> np.ndarray:
    i = np.arange(n, dtype=np.float64)
    m = np.cos(np.pi * (i[None] + 0.5) * i[:, None] / n) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m  # orthonormal DCT-II


def dct_baseline(img: np.ndarray, n_wavelets: int) -> np.ndarray:
    """The equal-storage baseline: keep the lowest k x k DCT coefficients per channel, where
    3 k^2 = 12 N floats (k = floor(sqrt(4 N))). A Gabor fit that cannot beat it is worse than a
    thumbnail."""
    k = int(np.floor(np.sqrt(4 * n_wavelets)))
    h, w = img.shape[:2]
    dh, dw = _dct_matrix(h), _dct_matrix(w)
    x = np.asarray(img, np.float64).transpose(2, 0, 1)
    c = dh @ x @ dw.T
    c[:, k:, :] = 0
    c[:, :, k:] = 0
    return np.clip((dh.T @ c @ dw).transpose(1, 2, 0), 0, 1).astype(np.float32)


def dct_baseline_psnr(img: np.ndarray, n_wavelets: int) -> float:
    return psnr(dct_baseline(img, n_wavelets), img)


# JPEG's full-range BT.601 YCbCr (an orthogonal-ish basis that puts most energy in Y)
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114],
                        [-0.168736, -0.331264, 0.5],
                        [0.5, -0.418688, -0.081312]])


def dct_baseline_ycbcr(img: np.ndarray, n_wavelets: int) -> np.ndarray:
    """The YCbCr equal-float floor: the same 12 N floats spent where a codec spends them.

    Keep the lowest ky x ky DCT coefficients of luma and kc x kc of each chroma channel with
    ky^2 + 2 kc^2 <= 12 N, the split chosen for the least RGB error (computed exactly in the
    coefficient domain: the DCT and the colour transform are both linear). It is at least as
    good as the RGB floor (`dct_baseline`, kc = ky there) on every picture, and far better on
    greyish ones, so a fit that beats it beats a real low-pass codec of the same size."""
    budget = 12 * n_wavelets
    h, w = img.shape[:2]
    dh, dw = _dct_matrix(h), _dct_matrix(w)
    ycc = np.asarray(img, np.float64) @ _RGB_TO_YCC.T
    c = dh @ ycc.transpose(2, 0, 1) @ dw.T  # (3, h, w) coefficients
    back = np.linalg.inv(_RGB_TO_YCC)  # rgb = back @ ycc per pixel and per coefficient
    gram = back.T @ back  # ||rgb error||^2 = e^T gram e for a YCbCr error e
    rows = np.arange(h)[:, None]
    cols = np.arange(w)[None, :]
    level = np.maximum(rows, cols)  # a coefficient is kept by a k x k square iff level < k
    best = None
    for kc in range(0, int(np.floor(np.sqrt(budget / 2))) + 1):
        ky = int(np.floor(np.sqrt(budget - 2 * kc * kc)))
        keep = np.stack([level < ky, level < kc, level < kc])
        e = np.where(keep, 0.0, c)
        err = float(np.einsum("ihw,ij,jhw->", e, gram, e))
        if best is None or err < best[0]:
            best = (err, ky, kc)
    assert best is not None
    _, ky, kc = best
    keep = np.stack([level < ky, level < kc, level < kc])
    rec = (dh.T @ np.where(keep, c, 0.0) @ dw).transpose(1, 2, 0) @ back.T
    return np.clip(rec, 0, 1).astype(np.float32)


def dct_baseline_ycbcr_psnr(img: np.ndarray, n_wavelets: int) -> float:
    return psnr(dct_baseline_ycbcr(img, n_wavelets), img)


def flicker(frames: Sequence[np.ndarray]) -> float:
    """Mean absolute frame-to-frame difference (0..1 units) of a sequence."""
    if len(frames) < 2:
        return 0.0
    return float(np.mean([np.abs(np.asarray(b, np.float64) - np.asarray(a, np.float64)).mean()
                          for a, b in zip(frames[:-1], frames[1:])]))


def flicker_ratio(renders: Sequence[np.ndarray], sources: Sequence[np.ndarray]) -> float:
    """Flicker of the fitted renders relative to the source's own motion (1 = no added
    flicker; independent per-frame fits of a still scene score far above 1)."""
    src = flicker(sources)
    return flicker(renders) / max(src, 1e-6)


# -- look metrics: what a diffusion preset does to a photo, measured against the source --------
# CIELAB (D65, CIE 1976). Why Lab: a distance of ~2.3 is just noticeable and ~20 is a plainly
# different colour everywhere, so "how strong is the look" has a unit a person can read.
_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
# a pixel is "black" below this in every channel (~13/255); "was not black" means the source had
# a channel of at least BLACK_SOURCE there, so genuinely dark areas that stay dark do not count
BLACK_LEVEL = 0.05
BLACK_SOURCE = 0.15


def srgb_to_lab(img: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB 0..1 -> (..., 3) CIELAB (L* 0..100) under D65, float64."""
    c = np.clip(np.asarray(img, np.float64), 0.0, 1.0)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _SRGB_TO_XYZ.T / _WHITE_D65
    d = 6.0 / 29.0
    f = np.where(xyz > d ** 3, np.cbrt(xyz), xyz / (3 * d * d) + 4.0 / 29.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]),
                     200.0 * (f[..., 1] - f[..., 2])], -1)


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIE76 colour difference (Euclidean distance in CIELAB) of two (H, W, 3) images."""
    return float(np.sqrt(((srgb_to_lab(a) - srgb_to_lab(b)) ** 2).sum(-1)).mean())


def _laplacian(x: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian of (H, W, C) with replicated borders (zero across the border)."""
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * x


# The HF and readability metrics look at a picture at 1/HF_REFERENCE of its longer side: a
# frame and its source are area-averaged down to at most this many pixels first. Why: the
# diffusion looks are designed at a picture-relative scale (a preset's look_size, 256 by
# default), and per-pixel Laplacian energy of a larger copy of the same picture is not
# comparable (a 2x enlargement has a quarter of it, upsampling noise adds some), so the
# native-pixel ratio grew from 72 at 256 px to 777 at 512 px for the same look. At or below
# 256 px nothing changes.
HF_REFERENCE = 256


def area_matrix(n: int, m: int) -> np.ndarray:
    """(m, n) exact area-averaging weights from n samples to m <= n: target i covers source
    [i n/m, (i+1) n/m], each source pixel weighted by its overlap."""
    edges = np.arange(m + 1) * (n / m)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n)[None]
    return np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None) / (n / m)


def area_reduce(img: np.ndarray, reference: int = HF_REFERENCE) -> np.ndarray:
    """(H, W, C) area-averaged to a longer side of at most `reference` (aspect kept, rounded
    as imfit diffuse --size rounds); unchanged when already that small or reference is 0."""
    x = np.asarray(img, np.float64)
    h, w = x.shape[:2]
    if reference <= 0 or max(h, w) <= reference:
        return x
    if w >= h:
        tw, th = reference, max(1, int(h * reference / w + 0.5))
    else:
        tw, th = max(1, int(w * reference / h + 0.5)), reference
    x = np.tensordot(area_matrix(h, th), x, axes=(1, 0))  # rows, then columns: two matmuls
    return np.tensordot(x, area_matrix(w, tw), axes=(1, 1)).transpose(0, 2, 1)


def hf_energy(img: np.ndarray, reference: int = HF_REFERENCE) -> float:
    """Mean squared 4-neighbour Laplacian over RGB of the picture area-reduced to a longer side
    of at most `reference` (0: native pixels): the energy at the finest picture-relative scale
    (stipple, speckle, grain at 1/256 of the picture). A pixel checkerboard of amplitude a at
    or below the reference size scores 64 a^2."""
    return float((_laplacian(area_reduce(img, reference)) ** 2).mean())


def hf_ratio(img: np.ndarray, source: np.ndarray, reference: int = HF_REFERENCE) -> float:
    """High-frequency energy of `img` relative to the source's, both at the same picture-relative
    scale (`hf_energy`): ~1 keeps the texture, > 1 adds (stipple), plain smoothing gives well
    below 1."""
    return hf_energy(img, reference) / max(hf_energy(source, reference), 1e-12)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of (H, W) with replicated borders (scipy's correlate1d in C: a
    1024 px clip of 151 frames is measured in seconds, not minutes)."""
    from scipy.ndimage import correlate1d

    r = max(1, int(3 * sigma + 0.5))
    t = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    return correlate1d(correlate1d(x, k, 0, mode="nearest"), k, 1, mode="nearest")


def edge_map(img: np.ndarray, lab: np.ndarray | None = None) -> np.ndarray:
    """(H, W) blurred edge strength: |grad L*| (central differences), Gaussian-blurred with a
    sigma of 1/128 of the shorter side (at least 1 px), so that the same picture at another
    size gives the same map and pixel-scale stipple does not count as an edge. `lab`: the
    picture's CIELAB if already computed."""
    lum = (srgb_to_lab(img) if lab is None else lab)[..., 0]
    p = np.pad(lum, 1, mode="edge")
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) / 2
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) / 2
    return _blur(np.hypot(gx, gy), max(1.0, min(lum.shape) / 128))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return 0.0 if den < 1e-12 else float((a * b).sum() / den)


def readability(img: np.ndarray, source: np.ndarray, reference: int = HF_REFERENCE) -> float:
    """Pearson correlation of the blurred edge maps of `img` and the source, both area-averaged
    to a longer side of at most `reference` first (as for HF): 1 when the same edges are where
    they were (at any contrast), 0 when no edge is left (a flat picture).

    Why at the reference size: a look made at 256 px and enlarged 4x (look_size) is the same
    picture, but its one-look-pixel stipple becomes 4 px blocks, whose edges the central
    differences see, where at 256 px they are blind to a one-pixel checkerboard; at native
    pixels engrave's readability fell from 0.65 at 256 px to 0.07 at 512 px for the same look.
    At or below the reference nothing changes."""
    return _correlation(edge_map(area_reduce(img, reference)),
                        edge_map(area_reduce(source, reference)))


def black_fraction(img: np.ndarray, source: np.ndarray) -> float:
    """Fraction of pixels black in `img` (every channel < BLACK_LEVEL) that were not in the
    source (some channel >= BLACK_SOURCE): ink blots the process made, not the night sky."""
    a, s = np.asarray(img), np.asarray(source)
    return float(((a.max(-1) < BLACK_LEVEL) & (s.max(-1) >= BLACK_SOURCE)).mean())


@dataclass(frozen=True)
class LookMetrics:
    """How a clip of frames looks against its source (see `look_metrics`)."""

    peak_de: float      # mean CIELAB dE to the source at the frame where it is largest
    peak_frame: int     # that frame's index
    drift: float        # mean dE between the frames at 1/3 and 2/3 of the clip
    hf: float           # high-frequency energy of the peak frame / the source's
    readability: float  # worst frame's edge-map correlation with the source
    black: float        # worst frame's fraction of new black pixels
    return_de: float    # smallest dE to the source after the first third (breathing back)
    peak_de_px: float   # the peak frame's dE at native pixels (detail finer than the look too)

    def row(self) -> list[str]:
        return [f"{self.peak_de:.1f}", f"{self.drift:.1f}", f"{self.hf:.2f}",
                f"{self.readability:.2f}", f"{100 * self.black:.2f}%", f"{self.return_de:.1f}",
                f"{self.peak_de_px:.1f}"]


LOOK_COLUMNS = ("dE peak", "drift", "HF", "readable", "black", "dE min", "dE px")


def look_metrics(frames: Sequence[np.ndarray], source: np.ndarray) -> LookMetrics:
    """The look of a clip (float (H, W, 3) 0..1 frames, the source first or not) against the
    source. `frames` are taken as equally spaced in time.

    Every figure but black is picture-relative, taken on the pictures area-reduced to
    HF_REFERENCE (256 px; at or below it nothing changes), as HF and readability are: the
    same look at 1024 px is the 256 px look plus the photo's own finer detail, and at native
    pixels the dE of a smoothing look grew by 1 dE from 256 to 1024 px on the Hubble field
    (its sub-look-pixel stars), 58 % of cartoon's 2.1 dE. `peak_de_px` keeps the native-pixel
    dE of the peak frame, so what the finer detail adds stays visible."""
    if len(frames) < 3:
        raise ValueError("look_metrics needs at least 3 frames")
    # each reduced picture's Lab once (a 1024 px clip of 151 frames): for dE and the edge map
    src_small = area_reduce(source)
    src_lab = srgb_to_lab(src_small)
    src_edges = edge_map(src_small, src_lab)
    n = len(frames)
    third, two = round((n - 1) / 3), round(2 * (n - 1) / 3)
    des, reads, kept = [], [], {}
    for i, f in enumerate(frames):
        small = area_reduce(f)
        lab = srgb_to_lab(small)
        des.append(float(np.sqrt(((lab - src_lab) ** 2).sum(-1)).mean()))
        reads.append(_correlation(edge_map(small, lab), src_edges))
        if i in (third, two):
            kept[i] = small
    peak = int(np.argmax(des))
    return LookMetrics(
        peak_de=des[peak], peak_frame=peak, drift=delta_e(kept[third], kept[two]),
        hf=hf_ratio(frames[peak], source),
        readability=min(reads),
        black=max(black_fraction(f, source) for f in frames),
        return_de=min(des[third:]), peak_de_px=delta_e(frames[peak], source))


def breathing(frames: Sequence[np.ndarray], source: np.ndarray, period_frames: float) -> float:
    """How visibly a clip returns to the photo: over each whole period of `period_frames`
    frames (the source first, frames equally spaced in time), the swing max - min of the mean
    CIELAB dE to the source; the smallest swing over the periods. A swing of 10 or more is a
    plain pulse on video every period; a look that never returns (or never leaves) scores ~0.
    """
    if period_frames < 2:
        raise ValueError("breathing needs a period of at least 2 frames")
    src = area_reduce(source)  # picture-relative, as look_metrics' dE
    des = np.array([delta_e(area_reduce(f), src) for f in frames])
    n = int((len(des) - 1) // period_frames)
    if n < 1:
        raise ValueError("breathing needs a clip of at least one whole period")
    swings = []
    for i in range(n):
        a, b = round(i * period_frames), round((i + 1) * period_frames)
        w = des[a:b + 1]
        swings.append(float(w.max() - w.min()))
    return min(swings)


# -- what watercolor is for: pigment rims along the washes' edges ------------------------------
# A pixel is on an edge of the source where |grad L*| (central differences) is at least this
# many L* units per pixel, at the picture-relative scale of HF_REFERENCE: a plainly visible
# boundary (a 0 -> 1 step scores 50), not the grain of fur or the noise of a night sky.
EDGE_LEVEL = 10.0


def edge_darkening(frame: np.ndarray, source: np.ndarray,
                   reference: int = HF_REFERENCE) -> float:
    """Mean L* change (frame - source) in a band along the source's edges minus the mean L*
    change elsewhere; negative: the process darkened the edges more than the washes between
    them (watercolour's pigment rims, Curtis et al. 1997, Bousseau et al. 2006), 0: edges and
    washes changed alike (a global darkening scores 0, not a rim).

    Both pictures are area-reduced to at most `reference` px first (as `hf_energy`), so that
    the band has the same picture-relative width at any size. Edge pixels: |grad L*| of the
    source >= EDGE_LEVEL; the band: those dilated by one pixel (3x3). 0 when the source has no
    edge or is all edge."""
    lum0 = srgb_to_lab(area_reduce(source, reference))[..., 0]
    lum1 = srgb_to_lab(area_reduce(frame, reference))[..., 0]
    if lum0.shape != lum1.shape:
        raise ValueError(f"frame {lum1.shape} and source {lum0.shape} differ in size")
    p = np.pad(lum0, 1, mode="edge")
    edge = np.hypot((p[1:-1, 2:] - p[1:-1, :-2]) / 2, (p[2:, 1:-1] - p[:-2, 1:-1]) / 2)
    e = np.pad(edge >= EDGE_LEVEL, 1)
    h, w = lum0.shape
    band = np.zeros((h, w), bool)
    for a in range(3):
        for b in range(3):
            band |= e[a:a + h, b:b + w]
    if band.all() or not band.any():
        return 0.0
    dl = lum1 - lum0
    return float(dl[band].mean() - dl[~band].mean())
