"""The Python API's promises: checked inputs, the caller's random state left alone, one loader
for every format, and `import imfit` without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import imfit
from imfit import GaborSet, ImfitError


def _one_wavelet(size: int = 32) -> GaborSet:
    p = np.zeros((1, 12), np.float32)
    p[0, 3] = 0.3                      # sigma
    p[0, 4] = 0.3                      # gamma: the width along v, round here
    p[0, 5] = 10.0                     # wavelength: far longer than the envelope
    p[0, 9:12] = (0.4, 0.2, 0.1)       # amplitudes
    return GaborSet(p, width=size, height=size, bias=np.array([0.1, 0.1, 0.1], np.float32))


def test_fit_leaves_the_callers_random_state_alone():
    torch.manual_seed(1234)
    np.random.seed(99)
    t_before, n_before = torch.get_rng_state(), np.random.get_state()[1].copy()
    target = np.full((24, 24, 3), 0.3, np.float32)
    imfit.fit(target, num_gabors=4, iterations=3, rescales=0, seed=7)
    assert torch.equal(torch.get_rng_state(), t_before)
    assert np.array_equal(np.random.get_state()[1], n_before)


@pytest.mark.parametrize("bad, words", [
    (np.zeros((16, 16, 3), np.uint8), "dtype uint8"),
    (np.zeros((16, 16), np.float32), "(H, W, 3)"),
    (np.full((16, 16, 3), np.nan, np.float32), "NaN"),
    (np.full((16, 16, 3), 255.0, np.float32), "0..1"),
])
def test_fit_refuses_targets_it_would_fit_wrongly(bad, words):
    with pytest.raises(ImfitError, match=None) as e:
        imfit.fit(bad, num_gabors=2, iterations=1)
    assert words in str(e.value)


@pytest.mark.parametrize("kw", [{"zoom": 0}, {"zoom": float("nan")}, {"zoom": -1},
                                {"center": (float("nan"), 0)}, {"method": "bogus"},
                                {"backend": "vulkan"}])
def test_render_checks_its_view(kw):
    with pytest.raises(ImfitError):
        imfit.render(_one_wavelet(), 16, 16, **kw)


def test_render_of_one_wavelet_is_its_gaussian_envelope():
    """A wavelength far beyond the envelope leaves amp * exp(-r^2 / 2 sigma^2) * cos(0) + bias;
    a pixel of the 32-px frame spans 2/32 plane units (y from -1 to 1)."""
    gs = _one_wavelet(32)
    for zoom, center in ((1.0, (0.0, 0.0)), (2.0, (0.0, 0.0)), (1.5, (0.2, -0.1))):
        for method in ("dense", "tiled"):
            img = imfit.render(gs, 32, 32, zoom=zoom, center=center, method=method)
            c = ((np.arange(32) + 0.5) / 32 * 2 - 1) / zoom
            x, y = np.meshgrid(c + center[0], c + center[1])
            env = np.exp(-(x**2 + y**2) / (2 * 0.3**2))
            carrier = np.cos(2 * np.pi * x / 10.0)
            expect = 0.1 + env[..., None] * carrier[..., None] * np.array([0.4, 0.2, 0.1])
            assert np.abs(img - expect).max() < 1e-4, (zoom, center, method)


def test_save_does_not_replace_a_file_without_overwrite(tmp_path):
    p = tmp_path / "a.gabor.json"
    imfit.save(_one_wavelet(), p)
    with pytest.raises(ImfitError, match="exists"):
        imfit.save(_one_wavelet(8), p)
    assert imfit.load(p).width == 32


def test_load_reads_what_export_writes(tmp_path, small_fit):
    gs = small_fit[0]
    imfit.export(gs, "csv", tmp_path, stem="s")
    back = imfit.load(tmp_path / "s.csv", width=gs.width, height=gs.height)
    assert np.array_equal(back.params, gs.params)


def test_import_imfit_is_light():
    code = ("import sys, imfit; imfit.GaborSet; "
            "print(any(m.split('.')[0] in ('torch', 'moderngl', 'click') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "False"
