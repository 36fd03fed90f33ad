"""Quality measures shared by the CLI, the benchmarks and the tests."""

from __future__ import annotations

from collections.abc import Sequence

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
