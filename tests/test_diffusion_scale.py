"""A preset's look at a picture-relative scale (imfit/diffusion/scale.py): guided upsampling
against a known colour map and a numpy twin, the look_size switch, the picture-relative HF
metric. Small pictures and small look sizes keep it fast."""

import numpy as np
import pytest
import torch
from tolerances import SCALE_TWIN

from imfit.diffusion.engine import TorchDiffusion, diffuse_frames, load_preset
from imfit.diffusion.scale import (
    BACKPROJECT,
    DOT_SOFTNESS,
    EPS,
    RADIUS,
    GuideStats,
    LookScale,
    guided_upsample,
    low_size,
)
from imfit.formats.images import load_target, resize_area
from imfit.metrics import hf_energy


@pytest.fixture(scope="module")
def photo(assets):
    return load_target(assets / "chelsea.png", 96)[0]  # 96x64


def chw(a):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(a, np.float32).transpose(2, 0, 1)))


def upsample(look_low, low, full, radius=RADIUS, eps=EPS):
    g = GuideStats(chw(full), chw(low), radius, eps)
    return guided_upsample(chw(look_low), g).permute(1, 2, 0).numpy()


# -- a numpy twin of guided_upsample, written from the papers' formulas ---------------------------
def np_box(x, r):
    """(h, w, ...) window mean over the (2r+1)^2 window clipped to the picture."""
    h, w = x.shape[:2]
    s, n = np.zeros_like(x), np.zeros((h, w) + (1,) * (x.ndim - 2))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            ys, xs = slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx))
            yd, xd = slice(max(0, dy), min(h, h + dy)), slice(max(0, dx), min(w, w + dx))
            s[ys, xs] += x[yd, xd]
            n[ys, xs] += 1
    return s / n


def np_bilinear(x, h, w):
    """Bilinear, pixel centres aligned (x_src = (x + 0.5) * in/out - 0.5, clamped at 0)."""
    def axis(n_in, n_out):
        c = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = np.minimum(np.floor(c).astype(int), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), c - i0
    y0, y1, fy = axis(x.shape[0], h)
    x0, x1, fx = axis(x.shape[1], w)
    fy = fy.reshape((-1, 1) + (1,) * (x.ndim - 2))
    fx = fx.reshape((1, -1) + (1,) * (x.ndim - 2))
    top = x[y0][:, x0] * (1 - fx) + x[y0][:, x1] * fx
    bot = x[y1][:, x0] * (1 - fx) + x[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def np_gauss(x, sigma):
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(x, ((r, r), (0, 0), (0, 0)), mode="edge")
    x = sum(k[i] * p[i:i + x.shape[0]] for i in range(2 * r + 1))
    p = np.pad(x, ((0, 0), (r, r), (0, 0)), mode="edge")
    return sum(k[i] * p[:, i:i + x.shape[1]] for i in range(2 * r + 1))


def np_area(n, m):
    """(m, n) area averaging from n samples to m, pixel by pixel: target i covers the source
    interval [i n/m, (i+1) n/m], each source pixel j = [j, j+1] weighted by its overlap."""
    a = np.zeros((m, n))
    for i in range(m):
        lo, hi = i * n / m, (i + 1) * n / m
        for j in range(n):
            a[i, j] = max(0.0, min(hi, j + 1) - max(lo, j)) / (n / m)
    return a


def area(img, w, h):
    """The exact area average (np_area) of (H, W, C) to (h, w, C), float32."""
    hh, ww = img.shape[:2]
    return np.einsum("iy,yxc,jx->ijc", np_area(hh, h), np.asarray(img, np.float64),
                     np_area(ww, w)).astype(np.float32)


def np_guided_upsample(p, guide_low, guide_full, r, eps, softness, backproject=BACKPROJECT):
    """He & Sun's fast guided filter with a colour guide (3x3 covariance per window), plus the
    residual p - (A I + b) enlarged as blocks softened by a Gaussian, then `backproject` passes
    of out += U (p - D out) clamped, D the area average, U its transpose scaled by the
    enlargement (Irani & Peleg's back-projection)."""
    p, i_low, i_full = (np.asarray(a, np.float64) for a in (p, guide_low, guide_full))
    mi, mp = np_box(i_low, r), np_box(p, r)
    sig = np_box(i_low[..., :, None] * i_low[..., None, :], r) - mi[..., :, None] * mi[..., None, :]
    cov = np_box(p[..., :, None] * i_low[..., None, :], r) - mp[..., :, None] * mi[..., None, :]
    a = cov @ np.linalg.inv(sig + eps * np.eye(3))           # (h, w, 3 out, 3 in)
    b = mp - (a @ mi[..., None])[..., 0]
    a, b = np_box(a, r), np_box(b, r)
    resid = p - (a @ i_low[..., None])[..., 0] - b
    hh, ww = i_full.shape[:2]
    big_a, big_b = np_bilinear(a, hh, ww), np_bilinear(b, hh, ww)
    ys = np.minimum(((np.arange(hh) + 0.5) * p.shape[0] / hh).astype(int), p.shape[0] - 1)
    xs = np.minimum(((np.arange(ww) + 0.5) * p.shape[1] / ww).astype(int), p.shape[1] - 1)
    blocks = np_gauss(resid[ys][:, xs], softness * 0.5 * (hh / p.shape[0] + ww / p.shape[1]))
    out = np.clip((big_a @ i_full[..., None])[..., 0] + big_b + blocks, 0, 1)
    dr, dc = np_area(hh, p.shape[0]), np_area(ww, p.shape[1])
    for _ in range(backproject):
        err = p - np.einsum("iy,yxc,jx->ijc", dr, out, dc)
        out = np.clip(out + np.einsum("iy,ijc,jx->yxc", dr * hh / p.shape[0], err,
                                      dc * ww / p.shape[1]), 0, 1)
    return out


def test_guided_upsampling_matches_its_numpy_twin(photo):
    """A look that is no colour map of the photo (a nonlinear tone curve plus a stipple):
    the torch code and the formulas written out in numpy agree everywhere, borders included."""
    low = resize_area(photo, 32, 21)
    rng = np.random.default_rng(1)
    look = np.clip(np.sqrt(low[..., ::-1]) * 0.8 + 0.2 * rng.random(low.shape), 0, 1)
    got = upsample(look, low, photo)
    want = np_guided_upsample(look, low, photo, RADIUS, EPS, DOT_SOFTNESS)
    assert np.abs(got - want).max() < SCALE_TWIN


def test_a_pointwise_colour_map_comes_back_at_full_resolution(photo):
    """The look M I + c (a hue turn that mixes the channels, a gain, an offset) computed at low
    resolution, upsampled against the full-size photo: the full-size M I + c, fine detail and
    all, which a plain enlargement of the look cannot give (away from the borders; eps small so
    that the fit is the map itself)."""
    m = np.array([[0.2, 0.5, 0.1], [0.1, 0.2, 0.6], [0.6, 0.1, 0.2]])
    c = np.array([0.1, 0.05, 0.15])
    low = area(photo, 32, 21)
    got = upsample(low @ m.T + c, low, photo, eps=1e-7)
    want = photo @ m.T + c
    inner = (slice(6, -6), slice(6, -6))
    err = np.abs(got - want)[inner]
    plain = resize_area((low @ m.T + c).astype(np.float32), 96, 64)
    assert err.mean() < 1e-3 and np.percentile(err, 99) < 1e-2
    assert np.abs(plain - want)[inner].mean() > 10 * err.mean()


def test_a_flat_picture_stays_flat(photo):
    """A flat colour through the wrapper at 3x its look size: every output pixel is the colour
    the engine gives a small flat patch of it (spin and saturate turn it, uniformly)."""
    pr = load_preset("perona-malik-drugs").with_params(look_size=32)
    img = np.broadcast_to(np.float32([0.7, 0.4, 0.2]), (64, 96, 3)).copy()
    out = list(diffuse_frames(pr, [img], 20, 20))[-1]
    small = TorchDiffusion(pr, img[:8, :8])
    small.step(20)
    want = small.image()[0, 0]
    assert np.abs(want - [0.7, 0.4, 0.2]).max() > 0.01  # the look did change the colour
    assert np.abs(out - want).max() < 1e-5


def test_at_or_below_look_size_the_frames_are_the_engines_own(photo):
    """look_size = the picture's longer side, or 0 (native): bit for bit the unwrapped engine."""
    for look_size in (96, 0):
        pr = load_preset("perona-malik-drugs").with_params(look_size=look_size)
        got = list(diffuse_frames(pr, [photo], 12, 6))
        eng = TorchDiffusion(pr, photo)
        want = [photo]
        for _ in range(2):
            eng.step(6)
            want.append(eng.image())
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    # and no wrapper is built at all (at 1x back-projection would restore the engine's frames
    # bit for bit anyway, after a pointless upsample per frame); one pixel less and there is one
    from imfit.diffusion.scale import at_look_size

    def make(p, i):
        return TorchDiffusion(p, i)

    for look_size, wrapped in ((96, False), (0, False), (95, True)):
        pr = load_preset("perona-malik").with_params(look_size=look_size)
        assert isinstance(at_look_size(make, pr, photo), LookScale) == wrapped, look_size


def test_above_look_size_the_look_is_the_low_resolution_run(photo):
    """At 3x the look size the frames are full size, and area-averaged back to the look size
    they are the engine's run on the downsampled photo (to 0.2 %), also for a stipple look
    whose texture no colour map of the photo explains and for engrave, which holds channels at
    the clamp; the photo's own detail is in them."""
    for name in ("perona-malik-drugs", "stipple", "engrave"):
        pr = load_preset(name).with_params(look_size=32)
        got = list(diffuse_frames(pr, [photo], 30, 30))[-1]
        lw, lh = low_size(96, 64, 32)
        eng = TorchDiffusion(pr, area(photo, lw, lh))
        eng.step(30)
        assert got.shape == photo.shape
        # 2e-4 / 8e-4 / 1.2e-3 with back-projection; 3e-3 / 9e-3 / 7e-3 without (engrave's
        # plate tone clamps channels at 0, which the first guided pass loses)
        assert np.abs(area(got, lw, lh) - eng.image()).mean() < 0.002, name
    # the photo's detail: more of the photo's own high frequencies than an enlarged look has
    plain = resize_area(eng.image(), 96, 64)
    hp = photo - resize_area(resize_area(photo, lw, lh), 96, 64)
    assert np.corrcoef(hp.ravel(), (got - plain).ravel())[0, 1] > 0.3


def test_video_frames_are_guided_by_their_own_frame(photo):
    """A video through the wrapper: each output is the low-resolution warm-started run on that
    frame's downsample, upsampled against that frame (not the first)."""
    pr = load_preset("perona-malik").with_params(look_size=32)
    frames = [photo, photo[::-1].copy()]
    got = list(diffuse_frames(pr, frames, 4, 4))
    lw, lh = low_size(96, 64, 32)
    eng = TorchDiffusion(pr, area(frames[0], lw, lh))
    eng.step(4)
    eng.new_frame(area(frames[1], lw, lh))
    eng.step(4)
    assert np.abs(area(got[1], lw, lh) - eng.image()).mean() < 0.005
    # and the fine detail in it is the second frame's, not the first's
    hp = frames[1] - resize_area(resize_area(frames[1], lw, lh), 96, 64)
    detail = got[1] - resize_area(eng.image(), 96, 64)
    assert np.corrcoef(hp.ravel(), detail.ravel())[0, 1] > 0.5
    with pytest.raises(Exception, match="first was 96x64"):
        LookScale(lambda p, i: TorchDiffusion(p, i), pr, photo, 32).new_frame(photo[:32])


def test_old_preset_json_without_look_size_loads_with_256(tmp_path):
    from imfit.diffusion.engine import preset_json

    p = tmp_path / "old.json"
    p.write_text('{"name": "old", "scheme": "learned-kernel", "parameters": {"spin": 0.1}}')
    pr = load_preset(str(p))
    assert pr.params["look_size"] == 256 and isinstance(pr.params["look_size"], int)
    assert load_preset("perona-malik").params["look_size"] == 256
    p.write_text(preset_json(pr.with_params(look_size=0)))
    assert load_preset(str(p)).params["look_size"] == 0


# -- the picture-relative HF metric ----------------------------------------------------------------
def test_hf_is_picture_relative_above_256_px(assets):
    """A 2x nearest enlargement of a 256 px picture (area-averages back to it exactly) has the
    picture's HF; so does a 4x one; a blur of the enlargement lowers it; and at or below 256 px
    it is the plain mean squared Laplacian."""
    pic = load_target(assets / "astronaut.png", 256)[0].astype(np.float64)
    p = np.pad(pic, ((1, 1), (1, 1), (0, 0)), mode="edge")
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * pic
    assert abs(hf_energy(pic) - (lap ** 2).mean()) < 1e-12
    for k in (2, 4):
        big = pic.repeat(k, 0).repeat(k, 1)
        assert abs(hf_energy(big) / hf_energy(pic) - 1) < 1e-9
    big = pic.repeat(2, 0).repeat(2, 1)
    assert hf_energy(np_gauss(big, 2.0)) < 0.5 * hf_energy(pic)
    assert hf_energy(big, reference=0) < 0.75 * hf_energy(pic)  # native pixels: not the same


def test_readability_is_picture_relative_above_256_px(assets):
    """A look with a one-pixel checkerboard at 256 px, enlarged 2x and 4x as blocks with its
    source (the same pictures, larger): the same readability, to rounding. At native pixels the
    enlarged checkerboard's block edges count as edges and the figure moves."""
    from imfit.metrics import look_metrics, readability

    pic = load_target(assets / "astronaut.png", 256)[0].astype(np.float64)
    yy, xx = np.indices(pic.shape[:2])
    look = np.clip(pic + 0.15 * np.where((yy + xx) % 2, 1.0, -1.0)[..., None], 0, 1)
    r0 = readability(look, pic)
    assert 0.2 < r0 < 0.99
    for k in (2, 4):
        big, big_look = (a.repeat(k, 0).repeat(k, 1) for a in (pic, look))
        assert abs(readability(big_look, big) - r0) < 1e-9, k
        assert abs(readability(big_look, big, reference=0) - r0) > 0.05, k
        # and the clip metric takes the worst frame's, the same way
        m = look_metrics([big, big_look, big], big)
        assert abs(m.readability - r0) < 1e-9, k


def test_de_is_picture_relative_above_256_px_and_de_px_keeps_the_native_figure(assets):
    """A 1024 px source with one-pixel grain (stars, fur) and a 'look' that is exactly its
    256 px area average enlarged 4x as blocks: the same picture at the look's scale, so dE
    peak, drift, dE min and breathing read 0; at native pixels the grain it lost is a plain
    difference, kept in dE px. And a clip whose 256 px frames differ by a known colour scores
    that colour's dE at any size."""
    from imfit.metrics import area_reduce, breathing, delta_e, look_metrics

    pic = load_target(assets / "astronaut.png", 256)[0].astype(np.float64)
    big = pic.repeat(4, 0).repeat(4, 1)
    grain = np.random.default_rng(1).normal(0, 0.08, big.shape[:2])[..., None]
    src = np.clip(big + grain, 0, 1)
    flat = area_reduce(src).repeat(4, 0).repeat(4, 1)  # the grain averaged away
    m = look_metrics([flat, flat, src, flat], src)  # frames 1 and 2 differ only in grain
    assert m.peak_de < 1e-6 and m.drift < 1e-6 and m.return_de < 1e-6
    assert breathing([src, flat, src, flat, src], src, 2) < 1e-6
    assert abs(m.peak_de_px - delta_e(flat, src)) < 1e-9 and m.peak_de_px > 3
    # a red shift of the whole picture, at 256 and enlarged: the same figure
    shift = np.array([0.1, 0.0, 0.0])
    small = load_target(assets / "astronaut.png", 256)[0].astype(np.float64)
    want = delta_e(np.clip(small + shift, 0, 1), small)
    bigger = small.repeat(4, 0).repeat(4, 1)
    m = look_metrics([bigger, np.clip(bigger + shift, 0, 1), bigger], bigger)
    assert abs(m.peak_de - want) < 1e-6 and want > 3
