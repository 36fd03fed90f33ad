"""Look metrics (imfit.metrics) against values worked out by hand or published, and the
diffusion presets' look properties that need no GPU (reproducibility, memory)."""

import numpy as np
import pytest

from imfit.metrics import (
    black_fraction,
    delta_e,
    hf_energy,
    hf_ratio,
    look_metrics,
    readability,
    srgb_to_lab,
)


def flat(rgb, h=8, w=8):
    return np.broadcast_to(np.asarray(rgb, np.float32), (h, w, 3)).copy()


def test_lab_of_known_colours():
    """White is L* 100, black 0; sRGB red is (53.24, 80.09, 67.20) (Lindbloom's calculator,
    D65); sRGB grey 0.5 is L* 53.39 (0.5 linearises to 0.2140, and 116 * 0.2140^(1/3) - 16)."""
    lab = srgb_to_lab(np.array([[1, 1, 1], [0, 0, 0], [1, 0, 0], [0.5, 0.5, 0.5]]))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.02)
    lin = ((0.5 + 0.055) / 1.055) ** 2.4
    np.testing.assert_allclose(lab[3], [116 * lin ** (1 / 3) - 16, 0, 0], atol=0.01)
    assert abs(lab[3, 0] - 53.39) < 0.01
    # below 0.04045 sRGB is linear (c / 12.92) and L* is linear in Y (903.3 Y): 0.02 -> 1.398
    dark = srgb_to_lab(np.array([0.02, 0.02, 0.02]))
    assert abs(dark[0] - 903.3 * 0.02 / 12.92) < 0.002


def test_delta_e_of_a_known_pair_and_a_mean():
    """dE(white, red) = sqrt(46.76^2 + 80.09^2 + 67.20^2) = 114.55; half the pixels changed
    white -> black (dE 100) and half kept gives a mean of 50."""
    assert abs(delta_e(flat([1, 1, 1]), flat([1, 0, 0])) - 114.55) < 0.05
    a, b = flat([1, 1, 1]), flat([1, 1, 1])
    b[:, :4] = 0
    assert abs(delta_e(a, b) - 50.0) < 1e-4  # white is L* 100.000004 in float math


def test_hf_energy_of_a_checkerboard():
    """A checkerboard 0.5 +- a, n x n, replicated borders: an interior pixel's Laplacian is 8a,
    an edge pixel's 6a, a corner's 4a: mean energy ((n-2)^2 64 + 4(n-2) 36 + 4 16) a^2 / n^2."""
    n, a = 10, 0.1
    s = np.indices((n, n)).sum(0) % 2 * 2 - 1
    img = np.repeat((0.5 + a * s)[..., None], 3, -1)
    want = ((n - 2) ** 2 * 64 + 4 * (n - 2) * 36 + 4 * 16) * a * a / n ** 2
    assert abs(hf_energy(img) - want) < 1e-9
    half = np.repeat((0.5 + a / 2 * s)[..., None], 3, -1)
    assert abs(hf_ratio(half, img) - 0.25) < 1e-9  # energy is quadratic in amplitude
    assert hf_ratio(flat([0.5, 0.5, 0.5], n, n), img) == 0.0


def test_readability_same_flat_and_unrelated():
    rng = np.random.default_rng(0)
    src = flat([0.2, 0.2, 0.2], 64, 64)
    src[:, 32:] = 0.8
    src[20:40, 10:20] = [0.9, 0.1, 0.1]
    assert abs(readability(src, src) - 1.0) < 1e-9
    assert readability(flat([0.4, 0.5, 0.6], 64, 64), src) == 0.0
    noise = rng.random((64, 64, 3))
    assert abs(readability(noise, src)) < 0.2  # blurred noise edges do not follow the source's
    moved = np.roll(src, 20, axis=1)  # the same picture, edges elsewhere
    assert readability(moved, src) < 0.5


def test_black_fraction_counts_only_new_black():
    src = flat([0.5, 0.5, 0.5], 10, 10)
    src[0] = 0.02  # a black row in the source: staying black is no artefact
    img = src.copy()
    img[0] = 0.0
    img[5, :7] = [0.04, 0.01, 0.0]   # 7 new black pixels
    img[6, :5] = [0.06, 0.0, 0.0]    # not black: red is above the level
    assert black_fraction(img, src) == pytest.approx(0.07)


def test_look_metrics_of_a_hand_made_clip():
    """Frames white, grey 0.5, black, white against a white source: dE 0, 46.61, 100, 0, so the
    peak is frame 2; the frames at 1/3 and 2/3 are 1 and 2 (dE 53.39 apart); the black frame
    is all new black; the clip comes back to dE 0."""
    w, g, k = flat([1, 1, 1]), flat([0.5, 0.5, 0.5]), flat([0, 0, 0])
    m = look_metrics([w, g, k, w], w)
    assert m.peak_frame == 2 and abs(m.peak_de - 100) < 0.01
    assert abs(m.drift - 53.39) < 0.01
    assert m.black == 1.0 and m.return_de == 0.0
    assert m.readability == 0.0  # flat pictures have no edges to keep
    edges = flat([0.2, 0.2, 0.2], 32, 32)
    edges[:, 16:] = 0.8
    gone = flat([0.5, 0.5, 0.5], 32, 32)
    m = look_metrics([edges, edges, gone, edges], edges)
    assert m.readability == 0.0  # the worst frame, not the best
    with pytest.raises(ValueError):
        look_metrics([w, w], w)


# -- the look's knobs in the learned kernel ----------------------------------------------------
from imfit.diffusion.engine import HUE_ROTATION, TorchDiffusion, initial_kernel, load_preset  # noqa: E402


def _chroma_angle(rgb):
    """Angle of a colour's chroma (its component off the grey axis) in the plane spanned by
    u = (1, -1, 0)/sqrt 2 and v = (1, 1, -2)/sqrt 6."""
    c = np.asarray(rgb, np.float64) - np.mean(rgb)
    return np.arctan2(c @ np.array([1, 1, -2]) / np.sqrt(6), c @ np.array([1, -1, 0]) / np.sqrt(2))


def test_spin_turns_a_flat_colour_about_the_grey_axis_at_its_rate():
    """On a flat picture the Laplacian taps give 0, so dI/dt = spin R I: with no learning and a
    kappa far above the response (phi(G) ~ G), a colour turns by spin * time radians about the
    grey axis and keeps its distance from it and its brightness."""
    pr = load_preset("perona-malik-drugs").with_params(
        lr=0.0, kappa=10.0, spin=0.05, saturate=0.0, period=0.0, dt=0.1)
    c0 = np.array([0.6, 0.5, 0.4])
    eng = TorchDiffusion(pr, np.broadcast_to(c0, (8, 8, 3)).astype(np.float32))
    eng.step(100)  # 10 time units: 0.5 rad
    c1 = eng.image()[4, 4].astype(np.float64)
    turn = (_chroma_angle(c1) - _chroma_angle(c0) + np.pi) % (2 * np.pi) - np.pi
    assert abs(abs(turn) - 0.5) < 0.01
    # and the way the docs say (orange -> gold -> green): by hand, R (0.1, 0, -0.1) =
    # (-0.1, 0.2, -0.1)/sqrt 3, so green rises by 0.1414 sin(0.5) (0.2/sqrt 6)/0.1414 = 0.055
    assert abs((c1[1] - c0[1]) - 0.0553) < 0.005 and c1[0] < c0[0]
    assert abs(np.linalg.norm(c1 - c1.mean()) - np.linalg.norm(c0 - c0.mean())) < 1e-3
    assert abs(c1.mean() - c0.mean()) < 1e-5
    np.testing.assert_allclose(HUE_ROTATION @ np.ones(3), 0, atol=1e-12)  # greys stay


def test_saturate_and_blur_in_the_starting_kernel():
    """Centre-tap colour matrix, by hand: Laplacian centre -4 * mix, mix = blur J/3 +
    (1 - coupling)(I - J/3), plus saturate (I - J/3); the taps of each channel pair sum to the
    DC part, saturate (I - J/3) + spin R."""
    k = initial_kernel(0.5, spin=0.0, saturate=0.2, blur=0.4).astype(np.float64)
    eye, j3 = np.eye(3), np.full((3, 3), 1 / 3)
    mix = 0.4 * j3 + 0.5 * (eye - j3)
    np.testing.assert_allclose(k[:, :, 1, 1], -4 * mix + 0.2 * (eye - j3), atol=1e-6)
    np.testing.assert_allclose(k[:, :, 0, 1], mix, atol=1e-6)
    np.testing.assert_allclose(k.sum((2, 3)), 0.2 * (eye - j3), atol=1e-6)


def test_torch_engine_is_reproducible_run_to_run():
    """Same preset, photo, machine and backend: the same frames, bit for bit (the chaotic
    stipple too: its noise is the photo's, not a random draw)."""
    rng = np.random.default_rng(1)
    img = rng.random((24, 32, 3)).astype(np.float32)
    for name in ("perona-malik-drugs", "stipple"):
        runs = []
        for _ in range(2):
            eng = TorchDiffusion(load_preset(name), img)
            eng.step(40)
            runs.append(eng.image())
        assert np.array_equal(runs[0], runs[1])


def test_breathing_is_the_smallest_swing_of_de_over_the_periods():
    """Black source, white frames: dE is exactly 100 where a frame is white (L* 100 vs 0, no
    chroma), 0 where black; a period that never leaves the photo has swing 0."""
    from imfit.metrics import breathing

    black, white = np.zeros((4, 4, 3)), np.ones((4, 4, 3))
    pulse = [black, white, white, black]
    frames = pulse * 3 + [black]
    assert abs(breathing(frames, black, 4) - 100.0) < 1e-4
    flat = pulse * 2 + [black] * 4 + [black]
    assert breathing(flat, black, 4) == 0.0
    with pytest.raises(ValueError):
        breathing(frames[:3], black, 4)


def test_a_zero_kernel_without_learning_gives_back_the_photo_frame_for_frame():
    """coupling 1 and blur 0 zero the Laplacian part, spin and saturate 0 the centre tap, lr 0
    stops the learning: K = 0, so dI/dt = 0 and every frame of the clip is the photo, bit for
    bit. Any colour grade or filter applied after the steps (rather than by them) shows here."""
    from imfit.diffusion.engine import diffuse_frames

    img = np.random.default_rng(5).random((12, 16, 3)).astype(np.float32)
    pr = load_preset("perona-malik-drugs").with_params(
        coupling=1.0, blur=0.0, spin=0.0, saturate=0.0, lr=0.0)
    frames = list(diffuse_frames(pr, [img], 30, 10))
    assert len(frames) == 4
    for f in frames:
        assert np.array_equal(f, img)


def test_every_default_clip_plays_several_seconds_at_30_fps():
    """`imfit diffuse PHOTO --preset NAME -o clip.mp4` writes the photo then a frame every
    `every` steps up to `steps`, at --fps 30 by default: each preset's clip lasts at least 5 s
    (the issue found 0.7 s)."""
    from imfit.diffusion.engine import list_presets

    for pr in list_presets():
        if pr.scheme != "poisson":
            assert (pr.steps // pr.every + 1) / 30.0 >= 5.0, pr.name


def test_ink_tones_a_flat_grey_toward_its_hue_at_its_rate():
    """On a flat picture the Laplacian taps give 0, so with spin and saturate 0 (and kappa far
    above the response, phi(G) ~ G) dI/dt = ink * mean(I) * u: a grey, which spin and saturate
    leave alone, moves along u at a constant rate while its mean stays. By hand, u at 60
    degrees is cos 60 (1, -1, 0)/sqrt 2 + sin 60 (1, 1, -2)/sqrt 6 = (1, 0, -1)/sqrt 2 (sepia):
    grey 0.5, ink 0.02, 10 time units -> 0.5 + 0.02 * 0.5 * 10 (1, 0, -1)/sqrt 2 =
    (0.5707, 0.5, 0.4293)."""
    pr = load_preset("engrave").with_params(
        lr=0.0, kappa=10.0, spin=0.0, saturate=0.0, blur=0.0, ink=0.02, ink_hue=60.0,
        period=0.0, dt=0.1)
    eng = TorchDiffusion(pr, np.full((8, 8, 3), 0.5, np.float32))
    eng.step(100)
    np.testing.assert_allclose(eng.image()[4, 4], [0.57071, 0.5, 0.42929], atol=2e-4)


def test_ink_with_spin_turns_the_toned_hue_by_half_the_spin_angle():
    """dc/dt = i S c + b m for the chroma c (complex, in the (1,-1,0)/sqrt 2, (1,1,-2)/sqrt 6
    plane; HUE_ROTATION maps the first to the second, so spin is +i): from a grey, c(t) =
    b m (e^{iSt} - 1)/(iS), whose hue is the ink's plus S t / 2 and whose length is
    b m 2 sin(S t / 2) / S. S 0.1, t 10, b 0.02, m 0.5, hue 60: length 0.01 * 2 sin(0.5) / 0.1
    = 0.09589, hue 60 + 28.65 = 88.65 degrees (sepia toward yellow)."""
    pr = load_preset("engrave").with_params(
        lr=0.0, kappa=10.0, spin=0.1, saturate=0.0, blur=0.0, ink=0.02, ink_hue=60.0,
        period=0.0, dt=0.1)
    eng = TorchDiffusion(pr, np.full((8, 8, 3), 0.5, np.float32))
    eng.step(100)
    c1 = eng.image()[4, 4].astype(np.float64)
    assert abs(np.degrees(_chroma_angle(c1)) - 88.65) < 0.3
    assert abs(np.linalg.norm(c1 - c1.mean()) - 0.09589) < 3e-4
    assert abs(c1.mean() - 0.5) < 1e-5


def test_ink_in_the_starting_kernel():
    """Centre tap gains ink u (1, 1, 1)/3 with u the unit chroma vector at ink_hue (red at 30
    degrees: (2, -1, -1)/sqrt 6; blue at 270: (-1, -1, 2)/sqrt 6); every other tap is the
    ink-free kernel's, and each output row's DC sum is ink u_o."""
    from imfit.diffusion.engine import ink_direction

    np.testing.assert_allclose(ink_direction(30.0), np.array([2, -1, -1]) / np.sqrt(6),
                               atol=1e-12)
    np.testing.assert_allclose(ink_direction(270.0), np.array([-1, -1, 2]) / np.sqrt(6),
                               atol=1e-12)
    base = initial_kernel(1.0, spin=0.05, saturate=-0.02, blur=-0.015).astype(np.float64)
    k = initial_kernel(1.0, spin=0.05, saturate=-0.02, blur=-0.015, ink=0.3,
                       ink_hue=30.0).astype(np.float64)
    red = np.array([2, -1, -1]) / np.sqrt(6)
    diff = k - base
    np.testing.assert_allclose(diff[:, :, 1, 1], 0.3 * np.outer(red, [1 / 3] * 3), atol=1e-6)
    diff[:, :, 1, 1] = 0
    assert np.abs(diff).max() == 0.0
    np.testing.assert_allclose(k.sum((2, 3)).sum(1) - base.sum((2, 3)).sum(1), 0.3 * red,
                               atol=1e-6)
