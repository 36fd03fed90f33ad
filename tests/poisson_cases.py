"""Blend problems shared by the torch and GL Poisson tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imfit.formats.images import load_target
from imfit.poisson.solve import PoissonSystem, poisson_system

MASK_CASES = ["disc", "L clipped", "disc at a corner", "all but a hole"]


def mask_case(assets: Path, case: str,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """(src, dst, mask, offset) on real photos: irregular regions, clipped by the destination,
    touching its borders, or covering all of it but a small hole (nearly a Neumann problem,
    the hardest case for CG)."""
    src = load_target(assets / "chelsea.png", 96)[0]           # 96x64
    dst = load_target(assets / "astronaut.png", 128)[0]
    h, w = src.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.45 * h) ** 2
    ell = (yy > 0.6 * h) | (xx < 0.3 * w)
    if case == "disc":
        return src, dst, disc, (16, 32)
    if case == "L clipped":                                   # cut by the left and bottom edges
        return src, dst, ell, (-20, 80)
    if case == "disc at a corner":                            # touches the top and left borders
        return src, dst, disc, (-30, -12)
    hole = np.ones((h, w), bool)
    hole[30:33, 40:43] = False
    return src, load_target(assets / "astronaut.png", 48)[0], hole, (-20, -8)


def single_pixel_case() -> tuple[PoissonSystem, tuple[int, int], np.ndarray]:
    """(system, the pixel in the destination, its closed form): with four neighbours,
    4 f_p = sum f*_q + sum (g_p - g_q)."""
    rng = np.random.default_rng(3)
    src = rng.random((8, 8, 3), dtype=np.float32)
    dst = rng.random((20, 20, 3), dtype=np.float32)
    mask = np.zeros((8, 8))
    mask[5, 4] = 1
    system = poisson_system(src, dst, mask, (6, 3))                  # lands on dst[8, 10]
    q = ((7, 10), (9, 10), (8, 9), (8, 11))
    want = src[5, 4] + sum(dst[y, x].astype(np.float64) - src[y - 3, x - 6] for y, x in q) / 4
    return system, (8, 10), want


def flat_into_black_case() -> PoissonSystem:
    """A flat source pasted into black: no guidance, a black ring, so b = 0 and the answer is
    black; the start (the source) is far from it."""
    mask = np.zeros((20, 20))
    mask[3:17, 3:17] = 1
    return poisson_system(np.full((20, 20, 3), 0.5, np.float32), np.zeros((40, 40, 3), np.float32),
                    mask, (10, 10))
