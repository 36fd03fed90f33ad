import numpy as np
import pytest

from imfit import ImfitError
from imfit.fit import FitSettings, Fitter, fit_image
from imfit.image import load_target
from imfit.metrics import dct_baseline_psnr, flicker, flicker_ratio, psnr


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


def test_dct_baseline_matches_the_reference_figure():
    """The issue quotes 19.6 dB for 256 wavelets on astronaut at 256x256; our baseline agrees."""
    from pathlib import Path

    # the full-size original when ../shared is beside the clone; else the shipped 256 px copy
    # (resampled once more, hence the looser bound)
    full = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "astronaut.png"
    src = full if full.exists() else None
    t, _ = load_target(src or Path(__file__).parent.parent / "assets" / "astronaut.png", 256)
    got = dct_baseline_psnr(t, 256)
    assert abs(got - 19.6) < (0.15 if src else 0.6)


def test_flicker_measures():
    a = np.zeros((4, 4, 3))
    b = np.ones((4, 4, 3)) * 0.1
    assert flicker([a, b, a]) == pytest.approx(0.1)
    assert flicker_ratio([a, a, a], [a, b, a]) == 0.0
