"""What each feature MEANS, checked against an expectation built independently of the code:
a float64 numpy twin of the documented pixel formula, closed-form answers for one or two
wavelets, or the parameters themselves. Every test here was written to kill a planted bug of
tools/mutants_table.py that the older tests let through (its name is in the docstring).

All fast (no fit, no GL): the mutation tool runs this file first for most mutants.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import imfit
from imfit.edit import animate, morph
from imfit.edit import ops as edit
from imfit.edit.syntax import apply_ops, parse_ops
from imfit.model.gaborset import COL, GaborSet

RADIUS = 4.5  # the documented window cut (gaborset / gabor.glsl)
# float32 renderers vs the float64 twin: rounding of a few dozen ops on values <= 1, plus the
# cut tails (4e-5 * amp). 2e-5 is far below one 8-bit step and far above the measured 3e-6.
TWIN = 2e-5


def twin(params: np.ndarray, w: int, h: int, bias, center=(0.0, 0.0), zoom: float = 1.0,
         clamp: bool = True) -> np.ndarray:
    """The pixel formula of imfit.model.gaborset's docstring, in float64 numpy, nothing shared."""
    scale = 2.0 / (zoom * h)
    xs = center[0] + (np.arange(w) + 0.5 - w / 2) * scale
    ys = center[1] + (np.arange(h) + 0.5 - h / 2) * scale
    X, Y = np.meshgrid(xs, ys)
    out = np.zeros((h, w, 3)) + np.asarray(bias, np.float64)
    for x, y, th, sg, gm, wl, p0, p1, p2, a0, a1, a2 in np.asarray(params, np.float64):
        dx, dy = X - x, Y - y
        u = dx * math.cos(th) + dy * math.sin(th)
        v = -dx * math.sin(th) + dy * math.cos(th)
        q = (u / sg) ** 2 + (v / gm) ** 2
        env = np.where(q <= RADIUS**2, np.exp(-0.5 * q), 0.0)
        for c, (a, p) in enumerate(((a0, p0), (a1, p1), (a2, p2))):
            out[..., c] += a * env * np.cos(2 * math.pi * u / wl + p)
    return np.clip(out, 0, 1) if clamp else out


def wavelet(x=0.1, y=-0.05, theta=0.7, sigma=0.22, gamma=0.09, wavelength=0.17,
            phase=(0.3, -1.2, 2.0), amp=(0.3, -0.2, 0.25)) -> np.ndarray:
    return np.array([[x, y, theta, sigma, gamma, wavelength, *phase, *amp]], np.float32)


def one(w=48, h=40, bias=(0.45, 0.5, 0.4), **kw) -> GaborSet:
    return GaborSet(wavelet(**kw), w, h, bias)


# -- renderers: a single anisotropic wavelet, seen through several views --------------------------
VIEWS = [((0.0, 0.0), 1.0), ((0.1, -0.05), 2.5), ((-0.3, 0.2), 0.6)]


@pytest.mark.parametrize("center,zoom", VIEWS)
@pytest.mark.parametrize("method", ["tiled", "dense"])
def test_render_of_one_wavelet_is_the_formula(method, center, zoom):
    """Kills: dense_v_sign, ckernel_*, coef_phase_sign, view_zoom_inverted."""
    gs = one()
    got = imfit.render(gs, 52, 36, center=center, zoom=zoom, method=method)
    ref = twin(gs.params, 52, 36, gs.bias, center, zoom)
    assert np.abs(got - ref).max() < TWIN
    assert ref.std() > 0.02  # the wavelet is in view


@pytest.mark.parametrize("center,zoom", VIEWS)
def test_pure_torch_tiled_renderer_is_the_formula(center, zoom):
    """The path a GPU or a machine without a compiler uses. Kills: tiled_envelope,
    tiled_bbox_axes (a long thin wavelet at 0.7 rad needs the right bounding box)."""
    import torch

    from imfit.renderers.gabor import View, render_tiled

    gs = one(sigma=0.4, gamma=0.05)
    view = View.of(52, 36, center, zoom)
    got = render_tiled(torch.from_numpy(np.array(gs.params)), view, gs.bias, kernel="torch")
    ref = twin(gs.params, 52, 36, gs.bias, center, zoom)
    assert np.abs(got.numpy() - ref).max() < TWIN


def test_centre_pixel_is_bias_plus_amp_cos_phase():
    """Closed form: at the wavelet's centre u = v = 0, so pixel = bias + amp * cos(phase)."""
    # 40 px tall, centre between pixel rows 19 and 20 -> put the wavelet on pixel (20, 24)'s centre
    h, w = 40, 48
    x = (24 + 0.5 - w / 2) * 2 / h
    y = (20 + 0.5 - h / 2) * 2 / h
    gs = one(w, h, x=x, y=y)
    img = imfit.render(gs)
    amp, ph = gs.params[0, 9:12], gs.params[0, 6:9]
    assert np.allclose(img[20, 24], np.asarray(gs.bias) + amp * np.cos(ph), atol=1e-5)


def test_pure_torch_backward_matches_numeric_gradient_per_column():
    """Every column's gradient on its own scale (a global max would hide a wrong theta
    gradient behind large position gradients). Kills: tiled_backward_theta_sign."""
    import torch

    from imfit.renderers.gabor import View, coefficients, render_tiled_coef

    p = torch.from_numpy(wavelet(sigma=0.3, gamma=0.12)).double()
    view = View.of(24, 20)
    w = torch.linspace(-1, 1, 20 * 24 * 3, dtype=torch.float64).reshape(20, 24, 3)

    def loss(geom):
        return (render_tiled_coef(geom, coefficients(p), view, kernel="torch") * w).sum()

    geom = p[:, :6].clone().requires_grad_()
    (g,) = torch.autograd.grad(loss(geom), geom)
    for col in range(6):
        e = torch.zeros_like(geom)
        e[0, col] = 1e-6
        num = (loss(geom.detach() + e) - loss(geom.detach() - e)) / 2e-6
        assert abs(float(g[0, col]) - float(num)) <= 1e-4 * max(1.0, abs(float(num))), col


def test_cli_render_honours_zoom_and_center(tmp_path):
    """Kills: render_ignores_view."""
    from cli import main

    gs = one(64, 64)
    imfit.save(gs, tmp_path / "one.gabor.json")
    out = tmp_path / "view.png"
    r = CliRunner().invoke(main, ["render", str(tmp_path / "one.gabor.json"), "-o", str(out),
                                  "--size", "48x40", "--zoom", "2.5", "--center", "0.1,-0.05",
                                  "--backend", "torch"])
    assert r.exit_code == 0, r.output
    got = np.asarray(Image.open(out).convert("RGB"), np.float64) / 255
    ref = twin(gs.params, 48, 40, gs.bias, (0.1, -0.05), 2.5)
    assert np.abs(got - ref).max() <= 0.51 / 255 + TWIN


# -- edits: the parameters themselves -----------------------------------------------------------
def many(n=40, seed=0, w=64, h=48) -> GaborSet:
    from conftest import random_params

    return GaborSet(random_params(n, seed), w, h, (0.4, 0.5, 0.6))


def f32(a) -> np.ndarray:
    return np.asarray(a, np.float64).astype(np.float32)


def test_scale_multiplies_exactly_the_named_columns():
    """Kills: scale_ignores_gamma."""
    gs = many()
    p = gs.params.astype(np.float64)
    out = edit.scale(gs, sigma=2.0, gamma=3.0, wavelength=0.5).params
    assert np.array_equal(out[:, COL["sigma"]], f32(p[:, COL["sigma"]] * 2))
    assert np.array_equal(out[:, COL["gamma"]], f32(p[:, COL["gamma"]] * 3))
    assert np.array_equal(out[:, COL["wavelength"]], f32(p[:, COL["wavelength"]] * 0.5))
    rest = [i for i in range(12) if i not in (COL["sigma"], COL["gamma"], COL["wavelength"])]
    assert np.array_equal(out[:, rest], gs.params[:, rest])
    op = apply_ops(gs, parse_ops(["scale:gamma=3"])).params
    assert np.array_equal(op[:, COL["gamma"]], f32(p[:, COL["gamma"]] * 3))
    assert np.array_equal(op[:, COL["sigma"]], gs.params[:, COL["sigma"]])
    size = apply_ops(gs, parse_ops(["scale:size=2,gamma=1.5"])).params
    assert np.allclose(size[:, COL["gamma"]], p[:, COL["gamma"]] * 3, rtol=1e-6)
    assert np.allclose(size[:, COL["sigma"]], p[:, COL["sigma"]] * 2, rtol=1e-6)


def test_spin_turns_each_wavelet_by_the_angle_and_nothing_else():
    """Kills: spin_twice."""
    gs = many()
    out = apply_ops(gs, parse_ops(["spin:deg=30"])).params
    assert np.allclose(out[:, 2], gs.params[:, 2].astype(np.float64) + math.pi / 6, atol=1e-6)
    keep = [i for i in range(12) if i != 2]
    assert np.array_equal(out[:, keep], gs.params[:, keep])


def test_rotate_moves_a_wavelet_clockwise_on_screen():
    """y points down: +90 degrees takes the point right of the centre to below it.
    Kills: rotate_field_sign."""
    gs = one(x=0.5, y=0.0, theta=0.2)
    out = apply_ops(gs, parse_ops(["rotate:deg=90"])).params[0]
    assert np.allclose(out[:2], [0.0, 0.5], atol=1e-6)
    assert math.isclose(out[2], 0.2 + math.pi / 2, abs_tol=1e-6)
    out = edit.rotate_field(one(x=0.3, y=0.4), math.pi / 2, center=(0.1, 0.1)).params[0]
    assert np.allclose(out[:2], [0.1 - 0.3, 0.1 + 0.2], atol=1e-6)


def test_translate_and_drift_rotate():
    """Kills: translate_dy_up, drift_rotate_half."""
    gs = one(x=0.5, y=0.0)
    out = apply_ops(gs, parse_ops(["translate:dx=0.25,dy=0.125"])).params[0]
    assert np.allclose(out[:2], [0.75, 0.125], atol=1e-7)
    quarter = edit.drift(gs, 0.25, rotate=1.0).params[0]  # a quarter turn after 0.25 s at 1/s
    assert np.allclose(quarter[:2], [0.0, 0.5], atol=1e-6)


def test_jitter_spreads_by_the_asked_amounts():
    """Gaussian offsets with the given standard deviation (not just repeatable).
    Kills: jitter_10x."""
    gs = many(4000, seed=3)
    p = gs.params.astype(np.float64)
    out = edit.jitter(gs, seed=5, position=0.01, angle=0.2, scale=0.1, phase=0.3).params
    out = out.astype(np.float64)
    assert 0.0095 < (out[:, 0:2] - p[:, 0:2]).std() < 0.0105
    assert 0.19 < (out[:, 2] - p[:, 2]).std() < 0.21
    ls = np.log(out[:, 3:6] / p[:, 3:6])
    assert 0.095 < ls.std() < 0.105 and np.allclose(ls, ls[:, :1], atol=1e-5)  # one factor
    dp = out[:, 6:9] - p[:, 6:9]
    assert 0.285 < dp.std() < 0.315 and np.allclose(dp, dp[:, :1], atol=1e-5)


def test_flip_x_mirrors_left_right_exactly():
    """Kills: flip_x_is_y."""
    gs = one(x=0.3, y=0.2)
    out = edit.flip(gs, "x").params[0]
    assert np.allclose(out[:2], [-0.3, 0.2], atol=1e-7)
    a, b = imfit.render(gs), imfit.render(edit.flip(gs, "x"))
    assert np.abs(b - a[:, ::-1]).max() < 1e-4


def test_hue_and_grayscale_of_a_pure_red_wavelet():
    """Kills: hue_backwards, luma_709."""
    gs = one(amp=(0.3, 0.0, 0.0), phase=(0.5, 0.5, 0.5), bias=(0.5, 0.5, 0.5))
    z = edit.hue_rotate(gs, 120).params[0]
    assert np.allclose(z[9:12], [0.0, 0.3, 0.0], atol=1e-6)  # red -> green
    g = edit.grayscale(gs).params[0]
    assert np.allclose(g[9:12], [0.299 * 0.3] * 3, atol=1e-6)


def test_scale_ramp_factors_at_the_edges_and_centre():
    """Geometric from `start` to `end`: factors 0.5, 1, 2 at left edge, centre, right edge;
    the radial ramp ends at the corners. Kills: ramp_linear, ramp_radial_norm."""
    a = 64 / 48
    p = np.repeat(wavelet(), 3, 0)
    p[:, 0], p[:, 1] = [-a, 0.0, a], 0.0
    gs = GaborSet(p, 64, 48)
    out = edit.scale_ramp(gs, "size", 0.5, 2.0, "x").params
    assert np.allclose(out[:, COL["sigma"]] / p[:, COL["sigma"]], [0.5, 1.0, 2.0], rtol=1e-6)
    p2 = p.copy()
    p2[:, 0], p2[:, 1] = [0.0, a / 2, a], [0.0, 0.5, 1.0]
    rad = edit.scale_ramp(GaborSet(p2, 64, 48), "gamma", 1.0, 4.0, "radial").params
    assert np.allclose(rad[:, COL["gamma"]] / p2[:, COL["gamma"]], [1.0, 2.0, 4.0], rtol=1e-6)
    assert np.array_equal(rad[:, COL["sigma"]], p2[:, COL["sigma"]].astype(np.float32))


def test_kaleidoscope_copies_land_in_every_wedge():
    """3 mirrored pairs: a wavelet at 10 degrees appears at +-10 + 0, 120, 240 degrees.
    Kills: kaleido_wedges."""
    r = 0.5
    gs = one(x=r * math.cos(math.radians(10)), y=r * math.sin(math.radians(10)))
    out = edit.kaleidoscope(gs, 3).params
    ang = np.sort(np.mod(np.degrees(np.arctan2(out[:, 1], out[:, 0])), 360))
    assert np.allclose(ang, [10, 110, 130, 230, 250, 350], atol=1e-3)
    assert np.allclose(np.hypot(out[:, 0], out[:, 1]), r, atol=1e-6)


def test_tile_places_half_size_copies_at_quarter_points():
    """Kills: tile_offset."""
    gs = one(64, 64, x=0.0, y=0.0)
    out = edit.tile(gs, 2, mirrored=False).params
    assert sorted(map(tuple, np.round(out[:, :2], 6))) == [(-0.5, -0.5), (-0.5, 0.5),
                                                           (0.5, -0.5), (0.5, 0.5)]
    assert np.allclose(out[:, COL["sigma"]], gs.params[0, COL["sigma"]] / 2)


def test_mirror_keeps_an_axis_wavelet_once_and_merge_sum_bias():
    """Kills: mirror_doubles_axis, merge_sum_bias."""
    p = np.repeat(wavelet(), 2, 0)
    p[:, 0] = [0.0, -0.4]
    out = edit.mirror(GaborSet(p, 64, 64), "left").params
    assert len(out) == 3 and sorted(np.round(out[:, 0], 6)) == [-0.4, 0.0, 0.4]
    a, b = one(bias=(0.5, 0.6, 0.7)), one(bias=(0.6, 0.5, 0.4))
    assert np.allclose(edit.merge(a, b, "sum").bias, [0.6, 0.6, 0.6])


def test_top_k_and_sort_by_energy_amp2_sigma_gamma():
    """Energy is amp^2 * sigma * gamma: a wide-across wavelet beats a wide-along one of the
    same sigma*gamma ordering by sigma alone. Kills: energy_ignores_gamma, topk_weakest,
    sort_reverse_ignored."""
    p = np.repeat(wavelet(amp=(0.1, 0.1, 0.1)), 3, 0)
    p[:, COL["sigma"]] = [0.1, 0.2, 0.05]
    p[:, COL["gamma"]] = [0.4, 0.05, 0.05]  # energies 4e-2, 1e-2, 2.5e-3 (x amp^2 pi)
    p[:, 0] = [0.0, 0.1, 0.2]
    gs = GaborSet(p, 64, 64)
    assert np.allclose(gs.energy(), 0.03 * math.pi * np.array([0.04, 0.01, 0.0025]))
    assert np.array_equal(edit.top_k(gs, 1).params, gs.params[:1])
    assert list(edit.sort(gs, "x", reverse=True).params[:, 0]) == pytest.approx([0.2, 0.1, 0.0])


def test_phase_and_gain_ops_per_channel():
    """Kills: phase_op_units, gain_green_is_red."""
    gs = one()
    ph = apply_ops(gs, parse_ops(["phase:deg=10,r=20,b=-40"])).params[0, 6:9]
    expect = gs.params[0, 6:9].astype(np.float64) + np.radians([30, 10, -30])
    assert np.allclose(ph, expect, atol=1e-6)
    amp = apply_ops(gs, parse_ops(["gain:x=2,g=0.5"])).params[0, 9:12]
    assert np.allclose(amp, gs.params[0, 9:12] * np.array([2, 1, 2]), atol=1e-7)


def test_palette_keeps_a_swing_that_points_opposite_a_palette_direction():
    """A wavelet swinging along -(red - mean) of an R/G/B palette already swings along the
    red axis; it must keep its colours (up to sign, i.e. the same stripes). Kills:
    palette_sign_blind."""
    gs = one(amp=(0.2, 0.1, 0.1), phase=(math.pi, 0.0, 0.0))
    out = edit.palette_map(gs, edit.parse_colors("red+lime+blue")).params[0]
    assert np.allclose(out[9:12], [0.2, 0.1, 0.1], atol=1e-6)
    d = np.mod(out[6:9] - [math.pi, 0.0, 0.0] + math.pi, 2 * math.pi) - math.pi
    assert np.allclose(d, d[0], atol=1e-6)  # same relative phases: the same colour swing


def test_palette_swings_along_the_palette_direction_nearest_by_angle_either_sign():
    """Random swing directions: each comes out parallel (either sign) to the palette
    direction closest to its own line, computed here from the palette itself."""
    rng = np.random.default_rng(7)
    pal = edit.parse_colors("red+lime+blue+white")
    dirs = pal - pal.mean(0)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    n = 24
    s = rng.normal(size=(n, 3))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    p = np.repeat(wavelet(), n, 0)
    p[:, 9:12], p[:, 6:9] = np.abs(0.2 * s), np.where(s < 0, math.pi, 0.0)
    out = edit.palette_map(GaborSet(p, 64, 64), pal).params.astype(np.float64)
    swing = out[:, 9:12] * np.cos(out[:, 6:9])  # real coefficients: phases are 0 or pi
    swing /= np.linalg.norm(swing, axis=1, keepdims=True)
    best = np.argmax(np.abs(s @ dirs.T), axis=1)
    assert np.allclose(np.abs(np.einsum("nc,nc->n", swing, dirs[best])), 1.0, atol=1e-5)


def test_keep_rect_and_image_mask(tmp_path):
    """Kills: keep_rect_axes, keep_mask_y_up."""
    p = np.repeat(wavelet(), 3, 0)
    p[:, 0], p[:, 1] = [0.1, 0.1, 0.6], [0.1, 0.6, 0.1]
    gs = GaborSet(p, 64, 64)
    kept = edit.keep_rect(gs, 0.0, 0.0, 0.9, 0.3).params
    assert sorted(map(tuple, np.round(kept[:, :2], 6))) == [(0.1, 0.1), (0.6, 0.1)]
    mask = np.zeros((32, 32), np.uint8)
    mask[:16] = 255  # top half white: y in [-1, 0] (y points down)
    Image.fromarray(mask).save(tmp_path / "m.png")
    p = p.copy()
    p[:, 1] = [-0.5, 0.5, -0.2]
    top = edit.keep_image_mask(GaborSet(p, 64, 64), str(tmp_path / "m.png")).params
    assert sorted(np.round(top[:, 1], 6)) == [-0.5, -0.2]


# -- morph and animate -------------------------------------------------------------------------
def test_morph_sizes_go_geometrically_and_stripes_turn_the_short_way():
    """Kills: morph_sizes_linear, morph_long_way."""
    a = one(theta=0.0, sigma=0.1)
    b = one(theta=math.pi - 0.1, sigma=0.4)
    mid = morph.match(a, b).at(0.5, "linear").params[0]
    assert math.isclose(mid[COL["sigma"]], 0.2, rel_tol=1e-5)
    assert math.isclose(mid[COL["theta"]], -0.05, abs_tol=1e-5)


def test_morph_unmatched_wavelet_fades_in_and_smooth_ease():
    """Kills: morph_fade_swapped, morph_smooth_is_quadratic."""
    a = one(x=0.0)
    p = np.concatenate([wavelet(x=0.0), wavelet(x=0.8, amp=(0.2, 0.2, 0.2))])
    b = GaborSet(p, a.width, a.height, a.bias)
    m = morph.match(a, b)
    q = m.at(0.25, "linear").params
    faded = q[np.isclose(q[:, 0], 0.8)]
    assert len(faded) == 1 and np.allclose(faded[0, 9:12], 0.05, atol=1e-6)
    far = GaborSet(wavelet(x=1.0), a.width, a.height, a.bias)
    s = morph.match(a, far).at(0.25, "smooth").params[0, 0]
    assert math.isclose(s, 0.25 * 0.25 * (3 - 2 * 0.25), abs_tol=1e-6)


def _timeline(ease: str) -> animate.Timeline:
    return animate.parse_timeline({"keys": [{"at": 0, "edits": "translate:dx=0"},
                                            {"at": 1, "edits": "translate:dx=1"}],
                                   "ease": ease})


@pytest.mark.parametrize("ease,t,dx", [("linear", 0.25, 0.25), ("smooth", 0.25, 0.15625),
                                       ("smooth", 0.5, 0.5), ("hold", 0.75, 0.0),
                                       ("hold", 1.0, 1.0)])
def test_timeline_easing_values(ease, t, dx):
    """Kills: animate_smooth_ease, animate_hold_jumps_early."""
    gs = one(x=0.0)
    out = apply_ops(gs, _timeline(ease).ops_at(t)).params[0, 0]
    assert math.isclose(out, dx, abs_tol=1e-6)


def test_looping_timeline_heads_back_to_the_first_key():
    """Kills: timeline_wraps_to_last."""
    gs = one(x=0.0)
    out = apply_ops(gs, _timeline("linear").ops_at(1.5, period=2.0)).params[0, 0]
    assert math.isclose(out, 0.5, abs_tol=1e-6)


def test_loop_rates_snap_to_the_nearest_whole_turn_and_frames_start_at_zero():
    """Kills: loop_rates_truncate, animation_off_by_one."""
    assert animate.loop_rates({"phase": 1.7}, 10, 10.0) == {"phase": 2.0}
    assert animate.loop_rates({"theta": -2.4}, 20, 10.0) == {"theta": -2.5}
    gs = one()
    frames = list(animate.animation_sets(gs, 4, 4.0, {"phase": 1.0}))
    d = [f.params[0, 6].astype(np.float64) - gs.params[0, 6] for f in frames]
    assert np.allclose(d, [0, math.pi / 2, math.pi, 3 * math.pi / 2], atol=1e-5)


# -- fit losses: a numpy twin of each term --------------------------------------------------------
def _sobel_np(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (H, W) -> gx, gy
    p = np.pad(c, 1, mode="edge")
    gx = ((p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2]
                                                        + p[2:, :-2])) / 8
    gy = ((p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1]
                                                        + p[:-2, 2:])) / 8
    return gx, gy


@pytest.mark.parametrize("term", ["l1", "gradient", "sobel"])
def test_each_loss_term_is_its_formula(term):
    """MSE + l1 mean|d| + gradient (mean|d_y| + mean|d_x|) + sobel mean(|grad out|-|grad t|)^2.
    Anisotropic images so that a dropped axis shows. Kills: l1_is_l2, gradient_loss_one_axis,
    sobel_loss_gy_dropped."""
    import torch

    from imfit.fitting.fitter import FitSettings, _loss

    rng = np.random.default_rng(2)
    h, w = 12, 17
    out = rng.uniform(0, 1, (h, w, 3)) * np.linspace(0.2, 1, w)[None, :, None]
    tgt = rng.uniform(0, 1, (h, w, 3)) * np.linspace(1, 0.1, h)[:, None, None]
    d = out - tgt
    expect = (d * d).mean()
    if term == "l1":
        expect += 0.7 * np.abs(d).mean()
    elif term == "gradient":
        expect += 0.7 * (np.abs(d[1:] - d[:-1]).mean() + np.abs(d[:, 1:] - d[:, :-1]).mean())
    else:
        mag = [np.hypot(*_sobel_np(img[..., c])) for img in (out, tgt) for c in range(3)]
        expect += 0.7 * np.mean([(mag[c] - mag[3 + c]) ** 2 for c in range(3)])
    s = FitSettings(**{term: 0.7})
    got = float(_loss(torch.from_numpy(out).float(), torch.from_numpy(tgt).float(), None, s))
    assert math.isclose(got, expect, rel_tol=1e-5)


# -- images, PNG and frames ---------------------------------------------------------------------
def test_png_values_round_to_the_nearest_8_bit_step(tmp_path):
    """Kills: uint8_truncates."""
    from imfit.formats.images import save_png

    img = np.full((2, 3, 3), 0.3, np.float32)  # 76.5 -> 77
    img[0, 0] = [0.998, 0.002, 0.5]  # 254.49 -> 254, 0.51 -> 1, 127.5 -> 128
    save_png(img, tmp_path / "a.png")
    a = np.asarray(Image.open(tmp_path / "a.png"))
    assert a[1, 1].tolist() == [77, 77, 77] and a[0, 0].tolist() == [254, 1, 128]


def test_frames_folder_holds_every_frame_in_order(tmp_path):
    """Kills: frames_folder_drops_last."""
    from imfit.formats.video import write_frames

    frames = [np.full((4, 5, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]
    assert write_frames(iter(frames), tmp_path / "f") == 3
    files = sorted((tmp_path / "f").iterdir())
    assert [f.name for f in files] == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    assert [int(np.asarray(Image.open(f))[0, 0, 0]) for f in files] == [0, 128, 255]


def test_gif_and_mp4_keep_the_frame_rate(tmp_path):
    """Kills: gif_duration_tenth, mp4_fixed_fps."""
    import imageio.v2 as imageio

    from imfit.formats.video import write_frames

    frames = [np.full((16, 16, 3), v, np.float32) for v in (0.1, 0.5, 0.9)]
    write_frames(iter(frames), tmp_path / "a.gif", fps=10)  # GIF stores centiseconds
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 3 and im.info["duration"] == 100
    write_frames(iter(frames), tmp_path / "a.mp4", fps=12)
    r = imageio.get_reader(str(tmp_path / "a.mp4"))
    try:
        assert r.get_meta_data()["fps"] == pytest.approx(12)
    finally:
        r.close()


# -- viewer keys, headless -------------------------------------------------------------------
def test_viewer_keys_change_the_set_by_their_documented_steps():
    """Kills: viewer_frequency_key, viewer_bias_key, viewer_fewer_key."""
    from viewer.gabor_scene import GaborScene

    STEP = 1.1  # the documented f key factor (h, docs/live.md)

    BIAS_STEP = 0.02  # the documented b key step (h, docs/live.md)

    gs = many(40)
    sc = GaborScene(gs)
    sc.key("f", False)
    out = sc.current().params
    assert np.allclose(out[:, COL["wavelength"]], gs.params[:, COL["wavelength"]] / STEP,
                       rtol=1e-6)
    sc.key("0", False)
    sc.key("b", False)
    assert np.allclose(sc.current().bias, np.asarray(gs.bias) + BIAS_STEP)
    sc.key("0", False)
    sc.key("left_bracket", False)
    assert len(sc.current()) == 32  # 40 / 1.25


def test_viewer_scroll_keeps_the_point_under_the_cursor():
    """The plane point under the cursor, from the renderer's View (an independent mapping),
    stays put. Kills: viewer_scroll_y."""
    from imfit.renderers.gabor import View
    from viewer.gabor_scene import GaborScene

    sc = GaborScene(many(5))
    w, h, cx, cy = 200, 100, 150.0, 20.0

    def under():
        v = View.of(w, h, sc.center, sc.zoom)
        return v.x0 + cx * v.scale, v.y0 + cy * v.scale

    before = under()
    sc.scroll(3.0, cx, cy, w, h)
    assert sc.zoom > 1.3
    assert np.allclose(under(), before, atol=1e-9)
