import numpy as np
import pytest
import torch
from conftest import random_params
from tolerances import TILED_VS_DENSE

import imfit
from imfit import GaborSet
from imfit.renderers.gabor import (
    View,
    bin_tiles,
    coefficients,
    render_dense,
    render_tiled,
    render_tiled_coef,
)


def test_tiled_matches_dense_on_a_real_fit(small_fit):
    gs, _ = small_fit
    dense = imfit.render(gs, 96, 96, method="dense")
    fast = imfit.render(gs, 96, 96)
    assert np.abs(dense - fast).max() < TILED_VS_DENSE


def test_tiled_matches_dense_off_frame_and_zoomed(small_fit):
    gs, _ = small_fit
    kw = dict(center=(0.7, -0.4), zoom=0.5)
    dense = imfit.render(gs, 80, 50, method="dense", **kw)
    fast = imfit.render(gs, 80, 50, **kw)
    assert np.abs(dense - fast).max() < TILED_VS_DENSE


def test_gradcheck_tiny_case():
    p = torch.from_numpy(random_params(3, seed=5, dtype=np.float64))
    view = View.of(12, 10, (0.1, 0.0), 1.2)
    geom = p[:, :6].clone().requires_grad_()
    coef = coefficients(p).clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda g, c: render_tiled_coef(g, c, view, radius=6.0),
                                    (geom, coef), eps=1e-6, atol=1e-6)


def test_fast_and_dense_gradients_agree():
    p = torch.from_numpy(random_params(24, seed=7, dtype=np.float64))
    view = View.of(40, 32)
    w = torch.randn(32, 40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, b = p.clone().requires_grad_(), p.clone().requires_grad_()
    (render_dense(a, view, 0.0, clamp=False) * w).sum().backward()
    (render_tiled(b, view, 0.0, clamp=False, radius=8.0) * w).sum().backward()
    # column by column: a wrong theta gradient must not hide behind large position gradients
    for c in range(a.grad.shape[1]):
        ga, gb = a.grad[:, c], b.grad[:, c]
        assert torch.allclose(ga, gb, rtol=1e-6, atol=1e-8 * ga.abs().max()), c


def test_zoom_and_pan_are_consistent():
    """A 2x zoom on a corner equals the matching crop of a render twice as big."""
    gs = GaborSet(random_params(40, seed=4), 64, 64)
    big = imfit.render(gs, 128, 128)
    zoomed = imfit.render(gs, 64, 64, center=(-0.5, -0.5), zoom=2.0)
    assert np.abs(big[:64, :64] - zoomed).max() < 1e-5


def test_default_size_and_aspect():
    gs = GaborSet(random_params(5), 90, 45)
    assert imfit.render(gs).shape == (45, 90, 3)
    assert imfit.render(gs, 30).shape == (15, 30, 3)


def test_bins_only_overlapping_tiles():
    p = np.zeros((2, 12), np.float32)
    p[:, 3:6] = [0.02, 0.02, 0.1]
    p[0, :2] = [-0.9, -0.9]  # top-left corner
    p[1, :2] = [50.0, 50.0]  # far off screen
    pairs = bin_tiles(torch.from_numpy(p[:, :6]), View.of(128, 128))
    assert pairs.wid.tolist() == [0]
    assert (pairs.tx.item(), pairs.ty.item()) == (0, 0)


def test_empty_set_renders_the_bias():
    img = imfit.render(GaborSet.empty(8, 8).replace(bias=(0.2, 0.4, 0.6)))
    assert np.allclose(img, [0.2, 0.4, 0.6])


@pytest.mark.parametrize("n", [1, 300])
def test_render_is_finite_and_in_range(n):
    img = imfit.render(GaborSet(random_params(n, seed=n), 64, 64))
    assert np.isfinite(img).all() and img.min() >= 0 and img.max() <= 1
