"""The fused C Perona-Malik step (imfit/_diffusion_kernel.c) against its plain twin, the banded
torch step of TorchDiffusion (itself held to a float64 numpy reference in test_diffusion.py)."""

import numpy as np
import pytest
from conftest import IN_CI
from tolerances import PM_C_EXP_REL, PM_C_VS_TORCH, PM_C_VS_TORCH_100

from imfit import native
from imfit.diffusion.engine import TorchDiffusion, load_preset
from imfit.formats.images import load_target

pytestmark = pytest.mark.skipif(not native.available(native.DIFFUSION) and not IN_CI,
                                reason="no C compiler: the torch step is used instead")


@pytest.fixture(scope="module")
def photo(assets):
    return load_target(assets / "chelsea.png", 160)[0]  # 160x106: not square


def twins(preset, image, threads=1):
    fast = TorchDiffusion(preset, image, threads=threads)
    plain = TorchDiffusion(preset, image, fast=False)
    assert fast.fast and not plain.fast
    return fast, plain


def gap(a, b):
    return float(np.abs(a.image() - b.image()).max())


def test_diffusion_kernel_builds_in_ci():
    assert native.available(native.DIFFUSION)  # CI has gcc: the fast step must be tested


def test_exp_matches_float64_exp():
    """One float32 in 257 over [-87, 0] (the exhaustive check was run once, outside the suite),
    plus the clamp below -87: exp(-87) instead of an underflowing 2^n."""
    lo = np.array([-87.0], np.float32).view(np.uint32)[0]
    bits = np.arange(np.uint32(0x80000000), lo + np.uint32(1), 257, dtype=np.uint32)
    x = np.concatenate([bits.view(np.float32), np.float32([0.0, -87.0])])
    out = np.empty_like(x)
    native.load(native.DIFFUSION).imfit_exp_neg(len(x), x.ctypes.data, out.ctypes.data)
    ref = np.exp(x.astype(np.float64))
    assert (np.abs(out - ref) / ref).max() < PM_C_EXP_REL
    far = np.float32([-88.0, -1e4, -1e8])
    clamped = np.empty_like(far)
    native.load(native.DIFFUSION).imfit_exp_neg(3, far.ctypes.data, clamped.ctypes.data)
    assert np.allclose(clamped, np.exp(-87.0), rtol=PM_C_EXP_REL, atol=0)


@pytest.mark.parametrize("g", ["exp", "rational"])
@pytest.mark.parametrize("fidelity", [0.0, 0.5])
def test_c_step_matches_the_torch_twin_on_a_photo(photo, g, fidelity):
    """10 then 100 steps; fidelity 0.5 also makes dt 0.25 run as two substeps."""
    pr = load_preset("perona-malik").with_params(g=g, fidelity=fidelity, kappa=0.1, dt=0.25)
    a, b = twins(pr, photo)
    for n, tol in ((10, PM_C_VS_TORCH), (90, PM_C_VS_TORCH_100)):
        a.step(n)
        b.step(n)
        assert gap(a, b) < tol, (n, gap(a, b))
    assert np.abs(a.image() - photo).mean() > 1e-3  # it did diffuse


@pytest.mark.parametrize("shape", [(2, 2), (3, 7), (7, 3), (2, 9), (9, 2)])
@pytest.mark.parametrize("threads", [1, 3])
def test_tiny_images_and_one_row_ranges(shape, threads):
    """Each pixel touches a border; with 3 threads, ranges of one row (or none)."""
    h, w = shape
    rng = np.random.default_rng(h * 10 + w)
    img = rng.random((h, w, 3), dtype=np.float32)
    for g in ("exp", "rational"):
        a, b = twins(load_preset("perona-malik").with_params(g=g, fidelity=0.3), img, threads)
        a.step(10)
        b.step(10)
        assert gap(a, b) < PM_C_VS_TORCH


def test_tiny_kappa_stops_every_flux():
    """kappa 1e-3 on noise: exp(-(d/kappa)^2) goes far below exp(-87), the clamp's range."""
    img = np.random.default_rng(3).random((9, 11, 3), dtype=np.float32)
    a, b = twins(load_preset("perona-malik").with_params(kappa=1e-3), img)
    a.step(5)
    b.step(5)
    assert gap(a, b) < PM_C_VS_TORCH


def test_result_does_not_depend_on_the_thread_count(photo):
    pr = load_preset("perona-malik").with_params(fidelity=0.2)
    runs = [TorchDiffusion(pr, photo, threads=t) for t in (1, 2, 5)]
    for r in runs:
        r.step(7)
    assert all(np.array_equal(runs[0].image(), r.image()) for r in runs[1:])


def test_no_ckernel_falls_back_to_the_torch_step(photo, monkeypatch):
    pr = load_preset("perona-malik")
    monkeypatch.setenv("IMFIT_NO_CKERNEL", "1")
    native.load.cache_clear()
    try:
        off = TorchDiffusion(pr, photo)
    finally:
        monkeypatch.delenv("IMFIT_NO_CKERNEL")
        native.load.cache_clear()
    plain = TorchDiffusion(pr, photo, fast=False)
    assert not off.fast and TorchDiffusion(pr, photo).fast
    off.step(3)
    plain.step(3)
    assert np.array_equal(off.image(), plain.image())
