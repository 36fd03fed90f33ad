import numpy as np
import pytest

from imfit import ImfitError
from imfit.fit import FitSettings, Fitter, fit_image
from imfit.image import load_target, psnr


def dct_baseline_psnr(img: np.ndarray, n_wavelets: int) -> float:
    """Equal-storage DCT baseline: keep the lowest k x k coefficients per channel, 3k^2 = 12N."""
    import torch

    k = int(np.floor(np.sqrt(4 * n_wavelets)))
    h, w = img.shape[:2]

    def dct_mat(n: int) -> torch.Tensor:
        i = torch.arange(n, dtype=torch.float64)
        m = torch.cos(np.pi * (i[None] + 0.5) * i[:, None] / n) * np.sqrt(2 / n)
        m[0] /= np.sqrt(2)
        return m

    dh, dw = dct_mat(h), dct_mat(w)
    x = torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1)
    c = dh @ x @ dw.T
    c[:, k:, :] = 0
    c[:, :, k:] = 0
    rec = (dh.T @ c @ dw).permute(1, 2, 0).numpy()
    return psnr(np.clip(rec, 0, 1), img)


def test_fit_beats_the_dct_baseline_at_equal_storage(small_fit):
    gs, target = small_fit
    import imfit

    got = psnr(imfit.render(gs), target)
    assert got > dct_baseline_psnr(target, len(gs)) + 1.0
    assert gs.meta["psnr"] == pytest.approx(got, abs=0.01)
    assert len(gs) == 96 and not gs.meta["incomplete"]


def test_fit_is_deterministic_with_a_seed(assets):
    t, _ = load_target(assets / "chelsea.png", 32)
    s = FitSettings(num_gabors=16, size=32, iterations=15, rescales=1, seed=3)
    a = fit_image(t, s).gaborset
    b = fit_image(t, s).gaborset
    assert np.array_equal(a.params, b.params)


def test_ctrl_c_keeps_the_latest_parameters(assets):
    t, _ = load_target(assets / "astronaut.png", 32)
    s = FitSettings(num_gabors=16, size=32, iterations=200, rescales=0)

    def progress(step, total, p):
        if step >= 20:
            raise KeyboardInterrupt

    res = Fitter(t, s).run(progress)
    assert res.interrupted and res.gaborset.meta["incomplete"]
    assert 20 <= res.steps < 200 and len(res.gaborset) == 16


def test_weight_map_focuses_the_fit(assets):
    t, _ = load_target(assets / "astronaut.png", 32)
    w = np.zeros(t.shape[:2], np.float32)
    w[:, :16] = 1.0
    s = FitSettings(num_gabors=12, size=32, iterations=40, rescales=0)
    gs = fit_image(t, s, weight=w).gaborset
    import imfit

    img = imfit.render(gs)
    assert psnr(img[:, :16], t[:, :16]) > psnr(img[:, 16:], t[:, 16:])


def test_warm_start_begins_where_the_previous_fit_ended(small_fit):
    gs, target = small_fit
    s = FitSettings(num_gabors=len(gs), size=64, iterations=5, rescales=1)
    res = fit_image(target, s, init=gs)
    assert res.psnr >= gs.meta["psnr"] - 0.5


@pytest.mark.parametrize("kw, msg", [
    ({"num_gabors": 0}, "num-gabors"),
    ({"iterations": -1}, "iterations"),
    ({"rescales": -2}, "rescales"),
    ({"global_lr": float("nan")}, "global-lr"),
    ({"device": "tpu"}, "unknown --device"),
])
def test_bad_settings(kw, msg):
    t = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(ImfitError, match=msg):
        Fitter(t, FitSettings(**kw))


def test_schedule_matches_torch_imfit_defaults():
    assert FitSettings().schedule(256) == [(64, 600), (128, 300), (256, 200)]
