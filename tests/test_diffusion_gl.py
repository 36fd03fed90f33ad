"""GLSL diffusion and Poisson twins vs the torch engine, and the live DiffusionScene, headless."""

import numpy as np
import pytest
from poisson_cases import MASK_CASES, flat_into_black_case, mask_case, single_pixel_case
from tolerances import DIFFUSION_GL_VS_TORCH, POISSON_GL_VS_TORCH

from imfit.diffusion.engine import TorchDiffusion, list_presets, load_preset, randomise_params
from imfit.errors import ImfitError
from imfit.formats.images import load_target
from imfit.poisson.solve import poisson_system, solve_poisson
from viewer.context import float_target, read_rgba32f
from viewer.gl_diffusion import DiffusionScene, GLDiffusion
from viewer.gl_poisson import GLPoisson, GLPoissonSOR

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module")
def photo(assets):
    return load_target(assets / "astronaut.png", 64)[0]


@pytest.mark.parametrize("name", [p.name for p in list_presets()
                                  if p.scheme == "perona-malik"])
def test_perona_malik_presets_gl_matches_torch_after_50_steps(gl_ctx, photo, name):
    pr = load_preset(name)
    a, b = TorchDiffusion(pr, photo), GLDiffusion(gl_ctx, pr, photo)
    a.step(50)
    b.step(50)
    assert np.abs(a.image() - b.image()).max() < DIFFUSION_GL_VS_TORCH
    b.release()


@pytest.fixture(scope="module", params=["astronaut.png", "chelsea.png"])
def photos(request, assets):
    return load_target(assets / request.param, 64)[0]


@pytest.mark.parametrize("name", [p.name for p in list_presets()
                                  if p.scheme == "learned-kernel"])
def test_learned_presets_gl_matches_torch_after_50_steps(gl_ctx, photos, name):
    """Same kernel trajectory and image after 50 steps, on two photos. This holds because the
    presets' learning is not chaotic (saturating flux, momentum 0.5, softness >= 0.05; see
    test_diffusion.py::test_learned_presets_are_not_chaotic); measured <= 5e-5 on the four
    assets at 64 and 96 px."""
    pr = load_preset(name)
    a, b = TorchDiffusion(pr, photos), GLDiffusion(gl_ctx, pr, photos)
    a.step(50)
    b.step(50)
    assert np.abs(a.ctl.k - b.ctl.k).max() < 1e-3
    assert np.abs(a.image() - b.image()).max() < DIFFUSION_GL_VS_TORCH
    b.release()


@pytest.mark.parametrize("name", ["perona-malik-drugs", "cartoon"])
def test_gl_engine_through_the_look_size_wrapper_matches_torch(gl_ctx, photo, name):
    """diffuse_frames wraps whatever engine it is given: above look_size the GLSL engine runs
    at the look's size (32 px here) and its frames come back at 64 px, the same frames as the
    torch engine's through the same wrapper."""
    from imfit.diffusion.engine import diffuse_frames

    pr = load_preset(name).with_params(look_size=32)
    built = []

    def gl(p, img):
        built.append(GLDiffusion(gl_ctx, p, img))
        return built[-1]

    got = list(diffuse_frames(pr, [photo], 20, 10, gl))
    want = list(diffuse_frames(pr, [photo], 20, 10))
    assert [(e.w, e.h) for e in built] == [(32, 32)]
    assert all(f.shape == photo.shape for f in got)
    assert np.abs(np.array(got) - np.array(want)).max() < DIFFUSION_GL_VS_TORCH
    assert np.abs(got[-1] - photo).max() > 0.05  # the look did something
    built[0].release()


def test_the_originals_learning_is_the_chaotic_one(gl_ctx, photo):
    """The knobs do what they say: with the original's unclamped flux (backward = 1), momentum
    0.9 and a sharp |G| (softness 0.01) the two engines part ways within 50 steps; with the
    preset's values they stay together."""
    out = {}
    pr = load_preset("perona-malik-drugs")
    for label, p in (("preset", pr), ("original", pr.with_params(
            backward=1.0, momentum=0.9, softness=0.01, lr=0.8))):
        a, b = TorchDiffusion(p, photo), GLDiffusion(gl_ctx, p, photo)
        a.step(50)
        b.step(50)
        out[label] = float(np.abs(a.image() - b.image()).max())
        b.release()
    assert out["preset"] < DIFFUSION_GL_VS_TORCH < out["original"]


def test_gl_video_warm_start_and_reinject_match_torch(gl_ctx, photo):
    pr = load_preset("watercolor").with_params(period=2.0, reinject=0.5, video_mix=0.3)
    a, b = TorchDiffusion(pr, photo), GLDiffusion(gl_ctx, pr, photo)
    frame = photo[::-1].copy()
    for eng in (a, b):
        eng.step(3)
        eng.new_frame(frame)
        eng.step(2)
    assert np.abs(a.image() - b.image()).max() < DIFFUSION_GL_VS_TORCH
    b.release()


@pytest.mark.parametrize("mixed", [False, True])
def test_gl_poisson_sor_matches_torch_cg(gl_ctx, assets, mixed):
    """The plain GL twin: red-black SOR over the whole picture."""
    src = load_target(assets / "chelsea.png", 48)[0]
    dst = load_target(assets / "astronaut.png", 64)[0]
    mask = np.zeros(src.shape[:2])
    mask[3:28, 4:44] = 1
    s = poisson_system(src, dst, mask, (10, 40), mixed)  # clipped by the bottom border
    ref, _, _ = solve_poisson(s, 1e-10)
    gp = GLPoissonSOR(gl_ctx, s)
    out, sweeps, res = gp.solve(1e-5)
    assert res <= 1e-5 and sweeps < 2000
    assert np.abs(out - ref).max() < POISSON_GL_VS_TORCH
    assert np.array_equal(out[:30], dst[:30])  # rows above the region are untouched
    gp.release()


@pytest.mark.parametrize("case", MASK_CASES)
def test_gl_multigrid_pcg_matches_torch_in_as_many_iterations(gl_ctx, assets, case):
    """The GLSL twin of solve_poisson: same hierarchy, cycle and CG, float32 textures. It stops on
    the float64 residual, takes about the torch iterations (float32 rounding may add one or
    two), and leaves every pixel outside the region alone."""
    s = poisson_system(*mask_case(assets, case))
    ref, _, _ = solve_poisson(s, 1e-10)
    _, torch_iters, _ = solve_poisson(s, 1e-5)
    gp = GLPoisson(gl_ctx, s)
    out, iters, res = gp.solve(1e-5)
    gp.release()
    assert res <= 1e-5 and iters <= torch_iters + 2, (iters, torch_iters)
    assert np.abs(out - ref).max() < POISSON_GL_VS_TORCH
    y0, x0 = s.box
    h, w = s.inside.shape
    outside = np.ones(s.dst.shape[:2], bool)
    outside[y0:y0 + h, x0:x0 + w] &= ~s.inside
    assert np.array_equal(out[outside], s.dst[outside])


def test_gl_multigrid_edge_cases(gl_ctx):
    """One pixel: the bottom's dense solve is the whole cycle, one iteration; further sweeps
    (the live view keeps calling them) stay put instead of dividing 0 by 0. b = 0 converges."""
    system, (y, x), want = single_pixel_case()
    gp = GLPoisson(gl_ctx, system)
    out, iters, res = gp.solve(1e-5)
    assert iters == 1 and res <= 1e-5
    assert np.abs(out[y, x] - want).max() < POISSON_GL_VS_TORCH
    gp.sweep(5)
    assert gp.iterations == 1 and np.array_equal(gp.image(), out)
    gp.release()
    gp = GLPoisson(gl_ctx, flat_into_black_case())  # b = 0: measured against the start
    out, iters, res = gp.solve(1e-5)
    assert res <= 1e-5 and iters < 5 and np.abs(out).max() < 1e-5
    gp.release()


def _draw(gl_ctx, scene, w=64, h=48, frames=1):
    fbo = float_target(gl_ctx, w, h)
    fbo.use()
    for i in range(frames):
        scene.draw(gl_ctx, w, h, i / 30)
    out = read_rgba32f(fbo, w, h)[..., :3]
    fbo.release()
    return out


def test_scene_draws_the_running_state_letterboxed(gl_ctx, photo):
    scene = DiffusionScene("perona-malik", photo)
    out = _draw(gl_ctx, scene, 96, 64, frames=3)
    # the square 64 px photo at scale 1 in the middle of a 96x64 frame, grey bars either side
    state = scene.engine.image()
    assert np.abs(out[:, 16:80] - np.clip(state, 0, 1)).max() < 1e-6
    assert np.allclose(out[:, :16], 0.08) and np.allclose(out[:, 80:], 0.08)
    assert scene.engine.ctl.step_count == 3
    scene.release()


def test_scene_keys_change_parameters_pause_and_reset(gl_ctx, photo):
    scene = DiffusionScene("perona-malik", photo)
    _draw(gl_ctx, scene)
    k0 = scene.params["kappa"]
    assert scene.key("up", False) and scene.params["kappa"] == pytest.approx(k0 * 1.25)
    assert scene.engine.ctl.p["kappa"] == pytest.approx(k0 * 1.25)
    assert scene.key("space", False)
    n = scene.engine.ctl.step_count
    _draw(gl_ctx, scene)
    assert scene.engine.ctl.step_count == n and "paused" in scene.status()
    assert scene.key("period", False)
    _draw(gl_ctx, scene)
    assert scene.engine.ctl.step_count == n + 1
    assert scene.key("right_bracket", False) and scene.steps_per_frame == 2
    assert scene.key("r", False) and scene.params["kappa"] == k0
    assert scene.engine.ctl.step_count == 0
    assert not scene.key("q", False)
    keys = [k for k, _ in scene.help()]
    assert "r" in keys and "space" in keys and "up/down" in keys
    scene.release()


def test_scene_crossfade_key_moves_to_the_next_preset_without_a_cut(gl_ctx, photo):
    """n: the next preset by name starts from the picture on screen (no jump at the key) and
    the shown picture is mix(old, new, k / FADE_FRAMES) after k frames; after FADE_FRAMES only
    the new preset runs. Checked against two torch engines run side by side."""
    scene = DiffusionScene("cartoon", photo)
    scene.FADE_FRAMES = 4
    _draw(gl_ctx, scene, 64, 64, frames=2)
    start = scene.engine.image()
    assert scene.key("n", False) and scene.preset.name == "drugs-hold"  # cartoon's next
    assert np.abs(scene.engine.image() - start).max() < 1e-6  # continues from the picture
    old = TorchDiffusion(load_preset("cartoon"), photo)
    old.step(2)
    new = TorchDiffusion(load_preset("drugs-hold"), photo)
    new.buf[new.cur].copy_(old.buf[old.cur])
    out = _draw(gl_ctx, scene, 64, 64, frames=1)
    old.step(1)
    new.step(1)
    want = 0.75 * old.image() + 0.25 * new.image()
    assert np.abs(out - want).max() < 1e-4
    _draw(gl_ctx, scene, 64, 64, frames=3)
    assert scene.fading is None and scene.fade_weight() == 1.0
    new.step(3)
    assert np.abs(scene.engine.image() - new.image()).max() < 1e-4
    assert "n" in [k for k, _ in scene.help()]
    scene.release()


def test_scene_x_draws_seed_after_seed_in_the_presets_ranges_and_j_saves_it(
        gl_ctx, photo, tmp_path, capsys):
    """x: the Nth press is `imfit presets NAME --randomise N` (the same parameters, printed
    and in the status), the GL engine runs them from the photo; j writes them as a preset
    .json that reads back to the same parameters, a second j beside it, never over it."""
    base = load_preset("engrave")
    scene = DiffusionScene("engrave", photo, record_dir=tmp_path)
    _draw(gl_ctx, scene)
    for seed in (1, 2):
        assert scene.key("x", False)
        want = randomise_params(base, seed)
        assert scene.preset.name == f"engrave-r{seed}" and scene.params == want.params
        for k, (lo, hi) in base.ranges.items():
            assert lo <= scene.params[k] <= hi
        assert scene.params["blur"] == base.params["blur"]
        assert scene.engine.ctl.p["ink_hue"] == pytest.approx(want.params["ink_hue"])
        assert scene.engine.ctl.step_count == 0  # restarted from the photo
        assert f"seed {seed}" in scene.message and "ink_hue" in capsys.readouterr().out
    _draw(gl_ctx, scene)
    first, second = scene.save_preset(), scene.save_preset()
    assert first is not None and second is not None and first != second
    assert load_preset(str(first)).params == randomise_params(base, 2).params
    assert load_preset(str(second)).ranges == base.ranges
    scene.release()


def test_gl_engine_is_reproducible_run_to_run(gl_ctx, photo):
    """Same preset, photo, machine and backend: the GLSL engine gives the same frames bit for
    bit, the chaotic stipple included (its dots grow from the photo, not from a random draw)."""
    for name in ("stipple", "perona-malik-drugs"):
        runs = []
        for _ in range(2):
            eng = GLDiffusion(gl_ctx, load_preset(name), photo)
            eng.step(30)
            runs.append(eng.image())
            eng.release()
        assert np.array_equal(runs[0], runs[1]), name


def test_scene_poisson_drag_moves_the_source_and_warm_starts(gl_ctx, assets):
    dst = load_target(assets / "astronaut.png", 64)[0]
    src = load_target(assets / "chelsea.png", 32)[0]
    mask = np.ones(src.shape[:2])
    mask[:2] = 0
    scene = DiffusionScene("poisson", dst, steps_per_frame=50, blend_source=src,
                           blend_mask=mask)
    _draw(gl_ctx, scene, 64, 64, frames=4)
    before = scene.engine.residual()
    off = list(scene.offset)
    scene.drag(5, 0, 64, 64)
    assert scene.offset[0] == off[0] + 5
    warm = scene.engine.residual()
    cold = GLPoisson(gl_ctx, scene._system())
    assert warm < cold.residual() and before < warm
    cold.release()
    assert scene.key("m", False) and scene.params["mixed"] is True
    assert "mixed" in scene.status()
    scene.release()


def test_scene_bad_input():
    img = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ImfitError, match="unknown preset"):
        DiffusionScene("nope", img)
    with pytest.raises(ImfitError, match="source and a mask"):
        DiffusionScene("poisson", img)


def test_cli_diffuse_and_blend_with_backend_gl_run_the_glsl_engines(gl_ctx, assets, tmp_path,
                                                                    monkeypatch):
    """`--backend gl` from the command line: the GLSL engine runs (counted, not replaced) and
    its frames/picture match the torch backend's within the GL tolerance plus 8-bit rounding."""
    from click.testing import CliRunner
    from PIL import Image

    import viewer.gl_diffusion as dgl
    import viewer.gl_poisson as glp
    from cli import main

    made = []
    real_engine, real_solve = dgl.GLDiffusion, glp.solve_gl

    def engine(*a, **k):
        made.append("diffuse")
        return real_engine(*a, **k)

    def solve(*a, **k):
        made.append("blend")
        return real_solve(*a, **k)

    monkeypatch.setattr(dgl, "GLDiffusion", engine)
    monkeypatch.setattr(glp, "solve_gl", solve)
    run = CliRunner().invoke
    tol = DIFFUSION_GL_VS_TORCH + 1 / 255
    for backend in ("torch", "gl"):
        r = run(main, ["diffuse", str(assets / "chelsea.png"), "--preset", "perona-malik",
                       "--steps", "8", "--every", "4", "--size", "40", "--backend", backend,
                       "-o", str(tmp_path / f"d-{backend}")])
        assert r.exit_code == 0, r.output
    frames = {b: [np.asarray(Image.open(f), np.float64) / 255
                  for f in sorted((tmp_path / f"d-{b}").glob("*.png"))] for b in ("torch", "gl")}
    assert len(frames["gl"]) == len(frames["torch"]) == 3
    for a, b in zip(frames["torch"], frames["gl"]):
        assert np.abs(a - b).max() <= tol
    assert np.abs(frames["gl"][-1] - frames["gl"][0]).max() > 0.05  # it diffused
    src = tmp_path / "src.png"
    Image.open(assets / "chelsea.png").resize((30, 20)).save(src)
    m = np.zeros((20, 30), np.uint8)
    m[3:17, 4:26] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    for backend in ("torch", "gl"):
        r = run(main, ["blend", str(src), str(assets / "astronaut.png"), "--mask",
                       str(tmp_path / "m.png"), "--backend", backend,
                       "-o", str(tmp_path / f"b-{backend}.png")])
        assert r.exit_code == 0, r.output
    a, b = (np.asarray(Image.open(tmp_path / f"b-{k}.png"), np.float64) / 255
            for k in ("torch", "gl"))
    assert np.abs(a - b).max() <= POISSON_GL_VS_TORCH + 1 / 255
    assert made == ["diffuse", "blend"]


def test_gl_engines_follow_the_renderers_one_gl_or_torch_policy(gl_ctx, photo, monkeypatch):
    """`gl_engine` (imfit.renderers.backends) picks the diffusion and Poisson engines the way
    get_renderer picks a renderer: torch -> None (the library's torch engine), gl -> the GLSL
    one, auto -> GL where a context can be made, else torch after one note; gl without GL is
    an error. The GL engines it returns are the real ones (their output matches torch)."""
    from imfit.renderers.backends import gl_engine

    preset = load_preset("perona-malik")
    assert gl_engine("gl-diffusion", "torch") is None and gl_engine("gl-poisson", "torch") is None
    eng = gl_engine("gl-diffusion", "auto")(preset, photo)
    ref = TorchDiffusion(preset, photo)
    eng.step(5)
    ref.step(5)
    assert isinstance(eng, GLDiffusion)
    assert np.abs(eng.image() - ref.image()).max() <= DIFFUSION_GL_VS_TORCH
    src, dst = photo[:24, :24], photo[20:60, 20:60]
    mask = np.zeros((24, 24), np.float32)
    mask[4:20, 4:20] = 1
    system = poisson_system(src, dst, mask)
    got, _, _ = gl_engine("gl-poisson", "gl")(system)
    want, _, _ = solve_poisson(system)
    assert np.abs(got - want).max() <= POISSON_GL_VS_TORCH

    def no_gl():
        raise ImfitError("no OpenGL 3.3 context through EGL (test)")

    monkeypatch.setattr("viewer.context.headless_context", no_gl)
    notes: list[str] = []
    assert gl_engine("gl-diffusion", "auto", notes.append) is None
    assert len(notes) == 1 and "diffusion with torch" in notes[0]
    with pytest.raises(ImfitError, match="no OpenGL"):
        gl_engine("gl-poisson", "gl")
    with pytest.raises(ImfitError, match="unknown backend"):
        gl_engine("gl-diffusion", "cuda")
