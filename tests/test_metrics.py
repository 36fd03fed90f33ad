"""The quality numbers the CLI and benchmarks print, against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from imfit.metrics import dct_baseline, flicker, flicker_ratio, psnr


def test_psnr_of_a_uniform_error():
    """An error of 0.1 everywhere: MSE 0.01, PSNR = 10 log10(1 / 0.01) = 20 dB."""
    a = np.full((8, 8, 3), 0.5)
    assert psnr(a, a + 0.1) == pytest.approx(20.0)
    assert psnr(a, a + 0.01) == pytest.approx(40.0)
    assert psnr(a, a) == float("inf")


def test_flicker_and_its_ratio():
    """Greys 0, 0.1, 0.3: mean step (0.1 + 0.2) / 2 = 0.15; renders that move twice as much
    as their sources have a ratio of 2 (1 = no flicker added)."""
    src = [np.full((4, 4, 3), g) for g in (0.0, 0.1, 0.3)]
    assert flicker(src) == pytest.approx(0.15)
    ren = [np.full((4, 4, 3), g) for g in (0.0, 0.2, 0.6)]
    assert flicker_ratio(ren, src) == pytest.approx(2.0)
    assert flicker_ratio(src, src) == pytest.approx(1.0)


def _cosine(n: int, u: int) -> np.ndarray:
    return np.cos(np.pi * (np.arange(n) + 0.5) * u / n)


@pytest.mark.parametrize("n_wavelets, k", [(4, 4), (9, 6), (16, 8)])
def test_dct_baseline_keeps_the_lowest_k_by_k_frequencies(n_wavelets, k):
    """Equal storage: 12 N floats = 3 k^2 coefficients, k = floor(sqrt(4 N)). A cosine of
    frequency k - 1 (in both axes) is kept exactly, one of frequency k is removed."""
    h = w = 32
    kept = 0.5 + 0.2 * np.outer(_cosine(h, k - 1), _cosine(w, k - 1))
    gone = 0.5 + 0.2 * np.outer(_cosine(h, k), _cosine(w, 0))
    img = np.repeat(kept[..., None], 3, -1)
    np.testing.assert_allclose(dct_baseline(img, n_wavelets), img, atol=1e-5)
    img = np.repeat(gone[..., None], 3, -1)
    np.testing.assert_allclose(dct_baseline(img, n_wavelets), 0.5, atol=1e-5)


# -- the shared validators (imfit/validate.py): the limits docs/format.md states ----------------
def test_validators_hold_their_stated_bounds():
    from imfit.errors import ImfitError
    from imfit.validate import MAX_PIXELS, MAX_SIDE, image_size, number, whole

    assert number(0.5, "zoom", 0, lo_open=True) == 0.5
    with pytest.raises(ImfitError, match=r"zoom must be in \(0"):
        number(0.0, "zoom", 0, lo_open=True)  # open: the bound itself is out
    assert number(0.0, "gain", 0) == 0.0  # closed: the bound is in
    assert whole(3.0, "count") == 3
    with pytest.raises(ImfitError, match="whole number"):
        whole(2.5, "count")
    assert image_size(MAX_SIDE, MAX_PIXELS // MAX_SIDE) == (MAX_SIDE, MAX_PIXELS // MAX_SIDE)
    with pytest.raises(ImfitError, match="too large"):
        image_size(MAX_SIDE, MAX_SIDE)  # each side allowed, the pixel count not


def test_new_black_counts_a_source_bright_in_any_one_channel():
    """Pure red turned black is new black (its red was bright); black that was dark blue
    (every channel below 0.15) is not."""
    from imfit.metrics import black_fraction

    src = np.zeros((2, 2, 3))
    src[0] = (1.0, 0.0, 0.0)  # top row red
    src[1] = (0.0, 0.0, 0.1)  # bottom row near-black blue
    assert black_fraction(np.zeros((2, 2, 3)), src) == pytest.approx(0.5)
