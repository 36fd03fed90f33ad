"""Diffusion presets (torch engine) and Poisson blending: against plain twins, by meaning, and
bad input. The GLSL twins are in test_diffusion_gl.py."""

import json
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image
from poisson_cases import MASK_CASES, flat_into_black_case, mask_case, single_pixel_case
from tolerances import LEARNED_VS_AUTOGRAD, PM_VS_NUMPY, POISSON_MG_VS_CG, POISSON_VS_DENSE

from cli import main
from imfit.diffusion.engine import (
    Controller,
    TorchDiffusion,
    initial_kernel,
    list_presets,
    load_preset,
)
from imfit.errors import ImfitError
from imfit.formats.images import load_target
from imfit.poisson.multigrid import VCycle, coarsen, dense, fine_level, hierarchy
from imfit.poisson.solve import blend, poisson_system, solve_poisson


@pytest.fixture(scope="module")
def photo(assets):
    return load_target(assets / "chelsea.png", 64)[0]


def pm_numpy(img, kappa, lam, steps, g):
    """Independent reference: per channel, 4 neighbours, zero-flux borders, float64."""
    u = img.astype(np.float64)
    for _ in range(steps):
        p = np.pad(u, ((1, 1), (1, 1), (0, 0)), mode="edge")
        c = p[1:-1, 1:-1]
        out = c.copy()
        for d in (p[:-2, 1:-1] - c, p[2:, 1:-1] - c, p[1:-1, :-2] - c, p[1:-1, 2:] - c):
            gd = np.exp(-(d / kappa) ** 2) if g == "exp" else 1 / (1 + (d / kappa) ** 2)
            out += lam * gd * d
        u = out
    return u


@pytest.mark.parametrize("fast", [True, False])  # the C step (when it builds) and its twin
@pytest.mark.parametrize("g", ["exp", "rational"])
def test_classic_matches_independent_numpy_reference(photo, g, fast):
    eng = TorchDiffusion(load_preset("perona-malik").with_params(g=g, kappa=0.1, dt=0.25), photo,
                         fast=fast)
    eng.step(10)
    assert np.abs(eng.image() - pm_numpy(photo, 0.1, 0.25, 10, g)).max() < PM_VS_NUMPY


def test_banded_engine_matches_a_single_band(photo):
    """Bands are a speed trick; results must not depend on where they are cut."""
    pr = load_preset("perona-malik")
    a = TorchDiffusion(pr, photo, fast=False)  # the bands are the torch twin's
    band_values = TorchDiffusion.BAND_VALUES
    TorchDiffusion.BAND_VALUES = 3 * photo.shape[1] * 5  # 5-row bands, a ragged last band
    try:
        b = TorchDiffusion(pr, photo, fast=False)
    finally:
        TorchDiffusion.BAND_VALUES = band_values
    a.step(5)
    b.step(5)
    assert b.hb == 5 and np.array_equal(a.image(), b.image())


@pytest.mark.parametrize("backward", [0.0, 1.0])
def test_learned_kernel_matches_autograd_and_torch_sgd(photo, backward):
    """The analytic gradient through one step vs autograd + torch.optim.SGD on the same loss.

    The loss as the engine defines it: mean of w_f (I'-I0)^2 + w_e sqrt(G^2+eps^2) + w_d I'^2,
    gradient passed straight through the clamp, K rescaled into the stable set after each
    update. 20 single-substep steps.
    """
    pr = load_preset("perona-malik-drugs").with_params(dt=0.2, backward=backward)
    p = pr.params
    eng = TorchDiffusion(pr, photo)
    i0 = torch.from_numpy(photo.transpose(2, 0, 1).copy())[None]
    k = torch.nn.Parameter(torch.from_numpy(initial_kernel(
        p["coupling"], p["spin"], p["saturate"], p["blur"])))
    opt = torch.optim.SGD([k], lr=p["lr"], momentum=p["momentum"],
                          weight_decay=p["weight_decay"])
    x = i0.clone()
    for _ in range(20):
        assert eng.ctl.substeps() == 1
        opt.zero_grad()
        g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k)
        gs = g.clamp(-p["kappa"] / 2 ** 0.5, p["kappa"] / 2 ** 0.5)  # the flux's turning point
        phi_s = gs * torch.exp(-(gs / p["kappa"]) ** 2)
        phi = phi_s + backward * (g * torch.exp(-(g / p["kappa"]) ** 2) - phi_s)
        pre = x + p["dt"] * phi
        nxt = pre + (pre.clamp(0, 1) - pre).detach()  # straight-through clamp
        edge = torch.sqrt(g ** 2 + p["softness"] ** 2)
        loss = (p["w_fidelity"] * (nxt - i0) ** 2 + p["w_edge"] * edge
                + p["w_dark"] * nxt ** 2).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():  # the engine keeps K in the stable set: bound(K) * dt <= 2 cfl
            bound = k.abs().reshape(3, -1).sum(1).max()
            cap = 2 * p["cfl"] / p["dt"]
            if bound > cap:
                k.mul_(cap / bound)
        x = nxt.detach()
        eng.step(1)
    assert np.abs(eng.ctl.k - k.detach().numpy()).max() < LEARNED_VS_AUTOGRAD
    assert np.abs(eng.image() - x[0].permute(1, 2, 0).numpy()).max() < LEARNED_VS_AUTOGRAD


def test_original_kernel_is_past_the_stability_limit_and_ours_is_not():
    """The original's K (Laplacian of R+G+B) at dt 0.2: 0.2 * 24 = 4.8 > 2 (grows the
    checkerboard); every initial kernel here has bound 8, so dt 0.25 is the limit."""
    from imfit.diffusion.engine import LAPLACIAN, kernel_bound

    original = np.ones((3, 3, 1, 1)) * LAPLACIAN
    assert 0.2 * kernel_bound(original) > 2
    for c in (0.0, 0.5, 1.0):
        assert kernel_bound(initial_kernel(c)) == pytest.approx(8.0)


def _perturbation_growth(pr, img, steps=50):
    """Largest image difference after `steps` between runs from `img` and from `img` plus
    1e-6 noise: what separates two machines' runs (float rounding) in the same dynamics."""
    noisy = np.clip(img + 1e-6 * np.random.default_rng(1).standard_normal(img.shape), 0, 1)
    a, b = TorchDiffusion(pr, img), TorchDiffusion(pr, noisy.astype(np.float32))
    a.step(steps)
    b.step(steps)
    return float(np.abs(a.image() - b.image()).max())


@pytest.mark.parametrize("name", [p.name for p in list_presets()
                                  if p.scheme == "learned-kernel"
                                  and p.name not in ("stipple", "watercolor")])  # chaotic
def test_learned_presets_are_not_chaotic(photo, name):
    """A 1e-6 nudge of the input stays ~1e-6 after 50 steps (measured <= 1e-3 over 200 steps
    on the four assets at 64-128 px), so a preset looks the same on every machine and the GLSL
    engine can track the torch one. The original's momentum 0.9 with a sharp |G| (softness
    0.01) turns the same nudge into a different picture."""
    pr = load_preset(name)
    assert _perturbation_growth(pr, photo) < 1e-4
    if name == "perona-malik-drugs":
        wild = pr.with_params(momentum=0.9, softness=0.01, lr=0.8)
        assert _perturbation_growth(wild, photo) > 1e-2


def test_watercolor_is_chaotic_by_its_backward_regime(photo):
    """watercolor keeps the original Perona-Malik flux (backward 1): above kappa/sqrt 2 it
    sharpens, which is what gives flat washes with crisp edges and blooms, and it is also what
    turns a 1e-6 nudge into > 1e-4 within 50 steps (so watercolor is in the "same look" list of
    docs/presets.md); the same preset with the saturating flux (backward 0) stays
    reproducible."""
    pr = load_preset("watercolor")
    assert pr.params["backward"] == 1.0
    assert _perturbation_growth(pr, photo) > 1e-4
    assert _perturbation_growth(pr.with_params(backward=0.0), photo) < 1e-4


def test_learned_kernel_look_is_size_independent(photo):
    """Mean losses: the same picture content at 4x the pixels (mirror-tiled 2x2) moves K the
    same way; the original's summed loss moved it 4x as far."""
    pr = load_preset("perona-malik-drugs")
    big = np.concatenate([np.concatenate([photo, photo[:, ::-1]], 1)] * 2, 0)
    big[photo.shape[0]:] = big[photo.shape[0]:][::-1]
    ks = []
    for img in (photo, big):
        eng = TorchDiffusion(pr, img)
        eng.step(3)
        ks.append(eng.ctl.k - Controller(pr).k)
    assert np.abs(ks[0]).max() > 1e-3
    assert np.abs(ks[0] - ks[1]).max() < 0.05 * np.abs(ks[0]).max()


def test_unstable_dt_is_substepped_and_said(photo):
    pr = load_preset("perona-malik").with_params(dt=1.0)
    ctl = Controller(pr)
    assert ctl.substeps() == 4 and "4 substeps" in ctl.notes[0]
    # four substeps of 0.25 are one step of 1.0
    a, b = TorchDiffusion(pr, photo), TorchDiffusion(pr.with_params(dt=0.25), photo)
    a.step(1)
    b.step(4)
    assert np.abs(a.image() - b.image()).max() < 1e-6
    with pytest.raises(ImfitError, match="cfl"):
        pr.with_params(cfl=1.5)


def test_classic_smooths_texture_but_keeps_edges():
    """Meaning: a noisy step edge loses its noise and keeps its step."""
    rng = np.random.default_rng(0)
    img = np.zeros((32, 32, 3), np.float32)
    img[:, 16:] = 0.8
    noisy = np.clip(img + rng.normal(0, 0.02, img.shape).astype(np.float32), 0, 1)
    eng = TorchDiffusion(load_preset("perona-malik").with_params(kappa=0.1), noisy)
    eng.step(50)
    out = eng.image()
    assert out[:, 2:14].std() < 0.3 * noisy[:, 2:14].std()
    assert out[:, 17:].mean() - out[:, :15].mean() > 0.75


def _live_torch_storage() -> tuple[int, int]:
    """(bytes, count) of every distinct tensor storage alive in this process, found through
    the garbage collector (tensors are gc-tracked): it sees torch's own allocations, which
    tracemalloc does not."""
    import gc

    gc.collect()
    seen: dict[int, int] = {}
    for o in gc.get_objects():
        if issubclass(type(o), torch.Tensor):  # type(): no attribute lookups on o
            st = o.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values()), len(seen)


@pytest.mark.parametrize("name,fast", [("perona-malik-drugs", True),
                                       ("perona-malik-drugs", False), ("cartoon", True)])
def test_memory_is_constant_over_many_steps(photo, name, fast):
    """No tensor (a state copy, a history) may survive a step: the live torch storage after
    150 more steps is exactly what it was, and the count really sees the engine's buffers."""
    eng = TorchDiffusion(load_preset(name), photo, fast=fast)
    eng.step(10)
    before = _live_torch_storage()
    h, w = photo.shape[:2]
    assert before[0] >= 3 * 3 * (h + 2) * (w + 2) * 4  # two ping-pong buffers + the original
    tracemalloc.start()
    eng.step(150)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert _live_torch_storage() == before
    assert peak < 200_000  # and Python-side: no frames, no growing lists


def _rss_bytes() -> int:
    """Resident set size from /proc: it sees torch's CPU allocations (which tracemalloc does
    not), including any that the allocator keeps cached."""
    import resource

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def test_resident_memory_stays_flat_over_a_long_learned_run():
    """RSS, not a storage census: after a warm-up, 250 more steps of every learned preset at
    32 px add under 1 MB. A state copy kept per step is 14 KB here (3.5 MB over the run); the
    recorded 10,000-step runs at real sizes are in docs/presets.md (bench/look.py --memory)."""
    img = np.random.default_rng(3).random((32, 32, 3)).astype(np.float32)
    for name in ("perona-malik-drugs", "stipple"):
        eng = TorchDiffusion(load_preset(name), img)
        eng.step(50)
        before = _rss_bytes()
        eng.step(250)
        assert _rss_bytes() - before < 1 << 20, name
        assert np.isfinite(eng.image()).all()


def test_video_warm_start_mixes_the_new_frame_in_by_video_mix(photo):
    """new_frame: state <- state + video_mix * (frame - state); the frame is the new original."""
    pr = load_preset("perona-malik").with_params(video_mix=0.3)
    eng = TorchDiffusion(pr, photo)
    eng.step(3)
    state = eng.image().astype(np.float64)
    frame = photo[::-1].copy()
    eng.new_frame(frame)
    assert np.abs(eng.image() - (state + 0.3 * (frame - state))).max() < 1e-6


def test_progress_counts_every_step_for_pictures_and_videos(photo):
    """The CLI's bar is fed by diffuse_frames: it must add up to the steps run, and move in
    chunks of at most 10 even when frames are 25 steps apart."""
    from imfit.diffusion.engine import diffuse_frames

    pr = load_preset("perona-malik")
    for frames, steps, every, total in (([photo], 55, 25, 55), ([photo] * 3, 12, 1, 36)):
        seen: list[int] = []
        out = list(diffuse_frames(pr, frames, steps, every, progress=seen.append))
        assert sum(seen) == total and max(seen) <= 10
        assert len(out) == (4 if len(frames) == 1 else 3)


def test_every_preset_runs_and_changes_the_photo(photo):
    names = [p.name for p in list_presets()]
    assert {"perona-malik", "perona-malik-drugs", "poisson"} <= set(names) and len(names) >= 6
    for p in list_presets():
        if p.scheme == "poisson":
            continue
        eng = TorchDiffusion(p, photo)
        eng.step(20)
        out = eng.image()
        assert np.isfinite(out).all() and 0.0 < np.abs(out - photo).mean() < 0.3, p.name


def test_video_warm_start_flickers_less_than_cold_starts(photo):
    """A steady (slightly noisy) video: consecutive output frames stay close."""
    from imfit.diffusion.engine import diffuse_frames

    rng = np.random.default_rng(1)
    frames = [np.clip(photo + rng.normal(0, 0.01, photo.shape), 0, 1).astype(np.float32)
              for _ in range(5)]
    pr = load_preset("perona-malik-drugs")
    warm = list(diffuse_frames(pr, frames, 8, 8))
    cold = [list(diffuse_frames(pr, [f], 8, 8))[-1] for f in frames]
    flick = [np.abs(a - b).mean() for a, b in zip(warm[1:], warm[:-1], strict=True)]
    flick_cold = [np.abs(a - b).mean() for a, b in zip(cold[1:], cold[:-1], strict=True)]
    assert np.mean(flick) < np.mean(flick_cold)


# -- Poisson -------------------------------------------------------------------------------------
def _dense(system, src_in_dst, mixed):
    om = system.inside
    idx = -np.ones(om.shape, int)
    idx[om] = np.arange(om.sum())
    h, w = om.shape
    y0, x0 = system.box
    hd, wd = system.dst.shape[:2]
    fs = system.dst[y0:y0 + h, x0:x0 + w].astype(np.float64)
    g = src_in_dst[y0:y0 + h, x0:x0 + w]
    a = np.zeros((om.sum(), om.sum()))
    b = np.zeros((om.sum(), 3))
    for y, x in zip(*np.nonzero(om), strict=True):
        i = idx[y, x]
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            qy, qx = y + dy, x + dx
            if not (0 <= qy + y0 < hd and 0 <= qx + x0 < wd):
                continue
            a[i, i] += 1
            v = g[y, x] - g[qy, qx]
            if mixed:
                vd = fs[y, x] - fs[qy, qx]
                v = np.where(np.abs(vd) > np.abs(v), vd, v)
            b[i] += v
            if om[qy, qx]:
                a[i, idx[qy, qx]] -= 1
            else:
                b[i] += fs[qy, qx]
    return np.linalg.solve(a, b)


@pytest.mark.parametrize("precondition", [True, False])
@pytest.mark.parametrize("mixed", [False, True])
def test_poisson_matches_dense_solve_and_leaves_outside_alone(assets, mixed, precondition):
    src = load_target(assets / "chelsea.png", 30)[0]
    dst = load_target(assets / "astronaut.png", 40)[0]
    mask = np.zeros(src.shape[:2])
    mask[4:15, 6:25] = 1
    mask[10:20, 2:9] = 1     # an L shape, reaching the destination's bottom border below
    s = poisson_system(src, dst, mask, (5, 28), mixed)
    out, _, res = solve_poisson(s, 1e-10, precondition=precondition)
    src_in_dst = np.zeros(dst.shape, np.float64)
    src_in_dst[28:40, 5:35] = src[:12]
    ref = _dense(s, src_in_dst, mixed)
    y0, x0 = s.box
    h, w = s.inside.shape
    assert np.abs(out[y0:y0 + h, x0:x0 + w][s.inside] - ref).max() < POISSON_VS_DENSE
    outside = np.ones(dst.shape[:2], bool)
    outside[y0:y0 + h, x0:x0 + w] &= ~s.inside
    assert np.array_equal(out[outside], dst[outside])


@pytest.mark.parametrize("case", MASK_CASES)
def test_multigrid_pcg_matches_plain_cg_in_far_fewer_iterations(assets, case):
    s = poisson_system(*mask_case(assets, case))
    ref, plain_iters, _ = solve_poisson(s, 1e-10, precondition=False)
    out, iters, res = solve_poisson(s, 1e-10)
    assert res <= 1e-10
    assert np.abs(out - ref).max() < POISSON_MG_VS_CG
    assert iters * 4 < plain_iters, (iters, plain_iters)


def test_poisson_single_pixel_is_its_closed_form():
    """One pixel: the coarsest (dense) level is the whole problem, one PCG step."""
    system, (y, x), want = single_pixel_case()
    out, iters, res = solve_poisson(system, 1e-10)
    assert iters == 1 and res <= 1e-10
    assert np.abs(out[y, x] - want).max() < POISSON_VS_DENSE


@pytest.mark.parametrize("precondition", [True, False])
def test_poisson_zero_right_hand_side_converges_against_the_start(precondition):
    """b = 0: the residual is measured against the start's (||b|| would divide by 0; the
    old 1e-30 floor made CG chase denormals for ~100 iterations)."""
    out, iters, res = solve_poisson(flat_into_black_case(), 1e-6, precondition=precondition)
    assert res <= 1e-6 and iters < 30 and np.abs(out).max() < 1e-5


def test_multigrid_coarse_levels_are_galerkin_products():
    """coarsen() is P^T A P with P the 2x2 piecewise-constant prolongation, borders included."""
    rng = np.random.default_rng(4)
    inside = rng.random((12, 10)) > 0.3
    count = np.full(inside.shape, 4.0)
    count[[0, -1]] -= 1
    count[:, [0, -1]] -= 1
    fine = fine_level(inside, count)
    p = np.zeros((120, 30))
    for y in range(12):
        for x in range(10):
            p[y * 10 + x, (y // 2) * 5 + x // 2] = 1
    a = dense(fine)
    a[~inside.ravel()] = 0  # dense() puts identity rows outside the region; P^T A P has none
    coarse = coarsen(fine)
    galerkin = p.T @ a @ p
    keep = coarse.d.ravel() > 0
    assert np.array_equal(dense(coarse)[np.ix_(keep, keep)], galerkin[np.ix_(keep, keep)])
    assert not galerkin[~keep].any()


def test_multigrid_cycle_is_symmetric_positive_definite(assets):
    """PCG needs B symmetric positive definite: the cycle applied to every unit vector of a
    small irregular region (as a batch) gives a symmetric matrix with positive eigenvalues, and
    B A has a small condition number (that is what makes PCG fast)."""
    _, _, mask, _ = mask_case(assets, "disc")
    inside = np.zeros((34, 50), bool)
    inside[1:33, 1:49] = mask[::2, ::2]
    inside[0, 10:20] = True                                   # and touching a border
    count = np.full(inside.shape, 4.0)
    count[0] -= 1
    levels = hierarchy(fine_level(inside, count), coarsest_cells=16)
    assert len(levels) >= 4
    idx = np.flatnonzero(levels[0].d > 0)
    r = torch.zeros(len(idx), *levels[0].shape, dtype=torch.float64)
    r.view(len(idx), -1)[torch.arange(len(idx)), torch.from_numpy(idx)] = 1.0
    z = VCycle(levels, channels=len(idx))(r, torch.empty_like(r))
    b = z.view(len(idx), -1)[:, idx].numpy()
    assert np.abs(b - b.T).max() < 1e-6 * np.abs(b).max()      # float32 cycle
    assert np.linalg.eigvalsh((b + b.T) / 2).min() > 0
    ev = np.linalg.eigvals(b @ dense(levels[0])[np.ix_(idx, idx)]).real
    assert ev.min() > 0 and ev.max() / ev.min() < 10


def test_poisson_blend_is_seamless(assets):
    """Meaning: pasting a bright patch into a dark area leaves no step at the seam."""
    dst = np.full((40, 40, 3), 0.2, np.float32)
    src = np.full((20, 20, 3), 0.9, np.float32)
    src[8:12, 8:12] = 0.5  # a detail that must survive as a relative dip
    mask = np.zeros((20, 20))
    mask[2:18, 2:18] = 1
    out = blend(src, dst, mask, (10, 10))
    assert abs(out[12, 20, 0] - 0.2) < 0.01         # just inside the seam ~ the surroundings
    # the detail is still a dip: 0.4 deep in the source, clipped at 0 here (0.2 - 0.4 < 0)
    assert out[20, 20, 0] == 0.0 and out[14, 20, 0] > 0.15


def test_poisson_bad_input():
    dst = np.zeros((20, 20, 3), np.float32)
    src = np.zeros((10, 10, 3), np.float32)
    with pytest.raises(ImfitError, match="same size"):
        poisson_system(src, dst, np.ones((9, 10)))
    with pytest.raises(ImfitError, match="empty"):
        poisson_system(src, dst, np.zeros((10, 10)))
    with pytest.raises(ImfitError, match="outside"):
        poisson_system(src, dst, np.ones((10, 10)), (50, 50))
    with pytest.raises(ImfitError, match="whole destination"):
        poisson_system(dst, dst, np.ones((20, 20)), (0, 0))


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_presets_lists_every_preset():
    r = CliRunner().invoke(main, ["presets"])
    assert r.exit_code == 0
    for p in list_presets():
        assert p.name in r.output and p.description[:20] in r.output


def test_cli_diffuse_image_fit_and_video(tmp_path, assets, fit_file):
    run = CliRunner().invoke
    r = run(main, ["diffuse", str(assets / "chelsea.png"), "--preset", "cartoon", "--steps", "6",
                   "--every", "3", "--size", "48", "-o", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "c").glob("*.png"))) == 3
    r = run(main, ["diffuse", str(fit_file), "--steps", "2", "-o", str(tmp_path / "f.gif")])
    assert r.exit_code == 0 and "rendered the fit" in r.output, r.output
    r = run(main, ["diffuse", str(tmp_path / "c"), "--preset", "perona-malik-drugs",
                   "--steps", "2", "-o", str(tmp_path / "v.mp4")])
    assert r.exit_code == 0 and "3 frames" in r.output, r.output
    r = run(main, ["diffuse", str(assets / "chelsea.png"), "--steps", "2",
                   "-o", str(tmp_path / "f.gif")])
    assert r.exit_code == 2 and "--force" in r.output


@pytest.mark.parametrize("args,msg", [
    (["--preset", "nope"], "unknown preset"),
    (["--set", "cfl=3"], "cfl"),
    (["--set", "kappa=-1"], "kappa"),
    (["--set", "colour=1"], "no parameter"),
    (["--steps", "0"], "at least 1"),
    (["--preset", "poisson"], "imfit blend"),
])
def test_cli_diffuse_bad_input(tmp_path, assets, args, msg):
    r = CliRunner().invoke(main, ["diffuse", str(assets / "chelsea.png"), *args,
                                  "-o", str(tmp_path / "o.gif")])
    assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output, r.output


def test_set_overrides_are_json_values_else_text_and_reach_the_preset():
    """--set NAME=VALUE: VALUE is JSON where it parses (a number stays a number), else the text;
    the overrides land in the preset's parameters."""
    from imfit.jobs import parse_overrides, preset_with_overrides

    got = parse_overrides(["kappa=0.05", "k=[1, 2]", "label= a b ", "on=true"])
    assert got == {"kappa": 0.05, "k": [1, 2], "label": "a b", "on": True}
    assert type(got["kappa"]) is float
    p = preset_with_overrides("perona-malik", ["kappa=0.07"])
    assert p.params["kappa"] == 0.07
    with pytest.raises(ImfitError, match="NAME=VALUE"):
        parse_overrides(["kappa"])


def test_cli_diffuse_grey_rgba_and_substeps(tmp_path, assets):
    run = CliRunner().invoke
    r = run(main, ["diffuse", str(assets / "camera.png"), "--steps", "1", "--size", "32",
                   "--set", "dt=0.6", "-o", str(tmp_path / "a.gif")])
    assert r.exit_code == 0 and "grey" in r.output and "3 substeps" in r.output, r.output
    r = run(main, ["diffuse", str(assets / "logo.png"), "--steps", "1", "--size", "32",
                   "-o", str(tmp_path / "b.gif")])
    assert r.exit_code == 0 and "alpha" in r.output, r.output


def test_cli_blend(tmp_path, assets):
    src = tmp_path / "src.png"
    Image.open(assets / "chelsea.png").resize((60, 40)).save(src)
    m = np.zeros((40, 60), np.uint8)
    m[5:35, 10:50] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    Image.fromarray(m[:39]).save(tmp_path / "bad.png")
    Image.fromarray(np.zeros_like(m)).save(tmp_path / "empty.png")
    run = CliRunner().invoke
    for mixed in ([], ["--mixed"]):
        out = tmp_path / f"o{len(mixed)}.png"
        r = run(main, ["blend", str(src), str(assets / "astronaut.png"), "--mask",
                       str(tmp_path / "m.png"), "--offset", "100,120", *mixed, "-o", str(out)])
        assert r.exit_code == 0 and "pixels solved" in r.output, r.output
        a = np.asarray(Image.open(out))
        b = np.asarray(Image.open(assets / "astronaut.png").convert("RGB"))
        keep = np.ones(a.shape[:2], bool)
        keep[125:155, 110:150] = False
        assert np.array_equal(a[keep], b[keep]) and not np.array_equal(a, b)
    for mask, msg in (("bad.png", "same size"), ("empty.png", "empty")):
        r = run(main, ["blend", str(src), str(assets / "astronaut.png"), "--mask",
                       str(tmp_path / mask), "-o", str(tmp_path / "x.png")])
        assert r.exit_code == 2 and msg in r.output, r.output


def test_preset_files_are_valid_json_with_the_documented_fields():
    for p in list_presets():
        data = json.loads(p.path.read_text())
        assert {"name", "description", "scheme", "parameters"} <= set(data)
        assert data["name"] == p.path.stem and len(data["description"]) < 120
