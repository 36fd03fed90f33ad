"""Pigment rims (the learned-kernel `rim` knob) and the metric that shows them
(`imfit.metrics.edge_darkening`), against hand-worked values and numpy twins of the formulas.

The rim term, per channel: flow -= rim * s * (I - floor)+, floor = I0 - rim_depth (I0 - I0^2)
(Bousseau's pigment density at d - 1 = rim_depth), s = q^2 / (q^2 + rim_edge^4), q the RGB
|grad I|^2 by central differences over the four neighbours (replicated borders).
"""

import math
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tolerances import DIFFUSION_GL_VS_TORCH, LEARNED_VS_AUTOGRAD

from imfit.diffusion.engine import TorchDiffusion, initial_kernel, load_preset
from imfit.formats.images import load_target
from imfit.metrics import black_fraction, edge_darkening

# K = 0: blur 0 (brightness does not diffuse), coupling 1 (colours do not), no spin, saturate
# or ink, so G = K * I = 0 and phi(G) = 0: the first step is the rim term alone
ZERO_K = dict(coupling=1.0, blur=0.0, spin=0.0, saturate=0.0, ink=0.0, dt=0.25, cfl=1.0,
              period=0.0, look_size=0)


def square(n=8, inside=(0.9, 0.7, 0.8), outside=(0.2, 0.3, 0.1)):
    """A bright square (rows and columns 2..5) on a darker ground: edges along both axes."""
    img = np.empty((n, n, 3), np.float32)
    img[:] = outside
    img[2:6, 2:6] = inside
    return img


def rim_step_numpy(img, i0, dt, rim, edge, depth):
    """One rim-only step in float64, written from the formula, not from the engine."""
    u = img.astype(np.float64)
    p = np.pad(u, ((1, 1), (1, 1), (0, 0)), mode="edge")
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) / 2
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) / 2
    q = (gx ** 2 + gy ** 2).sum(-1, keepdims=True)
    s = q ** 2 / (q ** 2 + edge ** 4)
    floor = i0 - depth * (i0 - i0 ** 2)
    return np.clip(u - dt * rim * s * np.maximum(u - floor, 0), 0, 1)


def test_one_rim_step_is_the_formula_by_hand():
    """The square's edge pixels darken by dt rim s depth (I0 - I0^2); pixels two or more away
    from an edge (q = 0) do not move. By hand for the ground pixel left of the square's edge
    (row 3, column 1): its neighbours are ground (column 0) and square (column 2), so
    grad_x = ((0.9, 0.7, 0.8) - (0.2, 0.3, 0.1)) / 2 = (0.35, 0.2, 0.35), grad_y = 0,
    q = 0.285, s = 0.081225 / (0.081225 + 0.05^4) = 0.999923; red: 0.2 - 0.25 * 1 * s * 1 *
    (0.2 - 0.04) = 0.160003."""
    img = square()
    pr = load_preset("watercolor").with_params(**ZERO_K, rim=1.0, rim_edge=0.05, rim_depth=1.0)
    eng = TorchDiffusion(pr, img)
    assert np.abs(eng.ctl.kernel()).max() == 0
    eng.step(1)
    out = eng.image()
    assert out[3, 1, 0] == pytest.approx(0.160003, abs=1e-6)
    assert out[3, 1, 2] == pytest.approx(0.1 - 0.25 * 0.999923 * (0.1 - 0.01), abs=1e-6)
    assert np.array_equal(out[0, 0], img[0, 0]) and np.array_equal(out[7, 7], img[7, 7])
    want = rim_step_numpy(img, img, 0.25, 1.0, 0.05, 1.0)
    assert np.abs(out - want).max() < 1e-6
    # a weaker rim, a shallower floor and a higher edge threshold: the same formula
    pr = pr.with_params(rim=2.5, rim_edge=0.3, rim_depth=0.4, dt=0.2)
    eng = TorchDiffusion(pr, img)
    eng.step(1)
    assert np.abs(eng.image() - rim_step_numpy(img, img, 0.2, 2.5, 0.3, 0.4)).max() < 1e-6


def test_rims_settle_on_their_floor_and_never_run_to_black():
    """Rim only (K = 0), the largest rate (dt rim = 1), every pixel an edge (rim_edge tiny), no
    re-injection, 2000 steps: each pixel goes down to its floor I0 - depth (I0 - I0^2) and no
    lower (the explicit step cannot overshoot at dt rim <= 1), so a picture with every
    channel >= 0.3 never turns black. An unanchored rim (toward the current I^2) would reach 0."""
    rng = np.random.default_rng(3)
    img = rng.uniform(0.3, 1.0, (12, 12, 3)).astype(np.float32)
    pr = load_preset("watercolor").with_params(**ZERO_K, rim=4.0, rim_edge=1e-3, rim_depth=1.0,
                                               lr=0.0)
    eng = TorchDiffusion(pr, img)
    eng.step(2000)
    out = eng.image().astype(np.float64)
    floor = img.astype(np.float64) ** 2
    assert np.isfinite(out).all()
    assert out.min() > 0.08
    assert np.abs(out - floor).max() < 1e-4
    assert black_fraction(out, img) == 0.0


def test_watercolor_with_its_strongest_rims_stays_finite_and_not_black(assets):
    """The whole preset (learning, blooms) with rim at its maximum and no re-injection over
    3000 steps (32 px): finite, no new black beyond 2%, and still the photo's brightness
    order of magnitude (the floor holds the rims)."""
    img = load_target(assets / "chelsea.png", 32)[0]
    pr = load_preset("watercolor").with_params(rim=4.0, period=0.0, look_size=0)
    eng = TorchDiffusion(pr, img)
    eng.step(3000)
    out = eng.image()
    assert np.isfinite(out).all()
    assert black_fraction(out, img) <= 0.02
    assert out.mean() > 0.5 * (img ** 2).mean()


@pytest.mark.parametrize("rim", [0.0, 1.5])
def test_rim_step_and_learning_match_autograd(assets, rim):
    """The engine (analytic gradient, banded) vs autograd + torch.optim.SGD through one step
    of the formula with the rim term, 20 steps of watercolor's dynamics (backward 1). The rim's
    s depends on I only, not on K, so its gradient w.r.t. K is zero: autograd must agree with
    the engine on K and on the picture. rim 0 is the old step exactly (the same twin)."""
    img = load_target(assets / "chelsea.png", 32)[0]
    pr = load_preset("watercolor").with_params(dt=0.2, rim=rim, rim_edge=0.08, rim_depth=0.7,
                                               look_size=0)
    p = pr.params
    eng = TorchDiffusion(pr, img)
    i0 = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
    k = torch.nn.Parameter(torch.from_numpy(initial_kernel(
        p["coupling"], p["spin"], p["saturate"], p["blur"])))
    opt = torch.optim.SGD([k], lr=p["lr"], momentum=p["momentum"],
                          weight_decay=p["weight_decay"])
    floor = i0 - p["rim_depth"] * (i0 - i0 ** 2)
    x = i0.clone()
    for _ in range(20):
        assert eng.ctl.substeps() == 1
        opt.zero_grad()
        xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
        g = F.conv2d(xp, k)
        kap = p["kappa"]
        gs = g.clamp(-kap / 2 ** 0.5, kap / 2 ** 0.5)
        phi_s = gs * torch.exp(-(gs / kap) ** 2)
        phi = phi_s + p["backward"] * (g * torch.exp(-(g / kap) ** 2) - phi_s)
        gx = (xp[..., 1:-1, 2:] - xp[..., 1:-1, :-2]) / 2
        gy = (xp[..., 2:, 1:-1] - xp[..., :-2, 1:-1]) / 2
        q = (gx ** 2 + gy ** 2).sum(1, keepdim=True)
        s = q ** 2 / (q ** 2 + p["rim_edge"] ** 4)
        pre = x + p["dt"] * (phi - rim * s * (x - floor).clamp(min=0))
        nxt = pre + (pre.clamp(0, 1) - pre).detach()
        edge = torch.sqrt(g ** 2 + p["softness"] ** 2)
        loss = (p["w_fidelity"] * (nxt - i0) ** 2 + p["w_edge"] * edge
                + p["w_dark"] * nxt ** 2).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            bound = k.abs().reshape(3, -1).sum(1).max()
            cap = 2 * p["cfl"] / p["dt"]
            if bound > cap:
                k.mul_(cap / bound)
        x = nxt.detach()
        eng.step(1)
    assert np.abs(eng.ctl.k - k.detach().numpy()).max() < LEARNED_VS_AUTOGRAD
    assert np.abs(eng.image() - x[0].permute(1, 2, 0).numpy()).max() < LEARNED_VS_AUTOGRAD


def test_watercolor_rims_darken_its_edges(assets):
    """What the knob is for, on the preset as shipped: with its rims watercolor darkens the
    photo's edges more than its washes (edge_darkening < 0, the mid-clip frame); with rim 0
    the same preset does not (its flux lightens edges a little: > 0)."""
    img = load_target(assets / "chelsea.png", 64)[0]
    pr = load_preset("watercolor")
    assert pr.params["rim"] > 0
    got = {}
    for rim in (0.0, pr.params["rim"]):
        eng = TorchDiffusion(pr.with_params(rim=rim), img)
        eng.step(pr.steps // 2)
        got[rim] = edge_darkening(eng.image(), img)
    assert got[0.0] > 0
    assert got[pr.params["rim"]] < -1.0



def _old_learned_substep(self, src, dst, dt, fraction):
    """TorchDiffusion._learned_substep as it was before the rim knobs (main at the
    rims branch point), verbatim: today's frames, for the bit-for-bit test."""
    torch, w = self.torch, self.w
    p = self.ctl.p
    k = self.ctl.kernel()
    # kmat[o, (a*3+b)*3 + i] = K[o, i, a, b], matching the im2col row order below
    self.kmat.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(0, 2, 3, 1)
                                                          .reshape(3, 27))))
    inv_k2 = 1.0 / (p["kappa"] ** 2)
    turn = p["kappa"] / math.sqrt(2.0)
    back = float(p.get("backward", 0.0))
    soft2 = p["softness"] ** 2
    m = 3.0 * self.h * self.w
    wf, we, wd = 2 * p["w_fidelity"] / m, p["w_edge"] / m, 2 * p["w_dark"] / m
    self.grad.zero_()
    for r0, h in self._bands():
        n = h * w
        col = self.col[:, :n]
        for a in range(3):
            for b in range(3):
                j = (a * 3 + b) * 3
                col[j:j + 3].view(3, h, w).copy_(src[:, r0 + a:r0 + a + h, b:b + w])
        g, t1, t2, t3 = self.gb[:, :n], self.t1[:, :n], self.t2[:, :n], self.t3[:, :n]
        torch.mm(self.kmat, col, out=g)                      # G = K * I
        # phi = Gs exp(-(Gs/k)^2) with Gs = G clamped at the flux's turning point k/sqrt(2)
        # (monotone, so the step cannot sharpen and rounding cannot grow), blended with the
        # unclamped flux by `backward`; see flux_blend()
        torch.clamp(g, -turn, turn, out=t2)                   # Gs
        torch.mul(t2, t2, out=t1).mul_(-inv_k2).exp_()       # e(Gs)
        t2.mul_(t1)                                          # phi_s = Gs e(Gs)
        if back > 0:
            torch.mul(g, g, out=t3).mul_(-inv_k2).exp_()     # e(G)
            t1.copy_(t3)                                     # keep e(G) for phi'
            t3.mul_(g).sub_(t2).mul_(back)                   # back (phi(G) - phi_s)
            t2.add_(t3)
        else:
            torch.mul(g, g, out=t1).mul_(-inv_k2).exp_()     # e(G) for phi' below
        c = col[12:15]                                       # the centre tap: I itself
        torch.add(c, t2, alpha=dt, out=t3)                   # pre-clamp update
        out = dst[:, r0 + 1:r0 + 1 + h, 1:w + 1]
        out.copy_(t3.view(3, h, w)).clamp_(0.0, 1.0)
        # dL/dG through one step; the clamp passes the gradient straight through. The
        # hard clamp's zero gradient jumps whenever a saturated pixel's update rounds to
        # either side of 0 or 1, which let two engines' kernels drift apart.
        i0 = self.orig[:, r0 + 1:r0 + 1 + h, 1:w + 1]
        e = t2                                               # phi is no longer needed
        torch.sub(out, i0, out=e.view(3, h, w)).mul_(wf)     # dL/dI' = wf (I'-I0) + wd I'
        e.view(3, h, w).add_(out, alpha=wd)
        e.mul_(dt)
        t3.copy_(g).mul_(g).mul_(-2 * inv_k2).add_(1.0).mul_(t1)  # phi'(G), unclamped
        if back < 1:  # phi' < 0 exactly where |G| > turn: the saturated flux has slope 0
            t1.copy_(t3).clamp_(max=0.0).mul_(back - 1.0)
            t3.add_(t1)
        e.mul_(t3)
        # d|G|_eps/dG = G / sqrt(G^2 + eps^2): a smooth |G|, so that engines whose G differ
        # by rounding near 0 do not take opposite signs (sign() made torch and GL drift)
        torch.mul(g, g, out=t1).add_(soft2).rsqrt_().mul_(g)
        e.add_(t1, alpha=we)
        self.grad.addmm_(e, col.t())
    gk = self.grad.cpu().numpy().reshape(3, 3, 3, 3).transpose(0, 3, 1, 2)
    self.ctl.learn(gk, fraction)


@pytest.mark.parametrize("name", ["watercolor", "perona-malik-drugs", "engrave"])
def test_rim_zero_is_the_old_step_bit_for_bit(assets, name):
    """With rim 0 (watercolor with --set rim=0, and the presets that never set it) the frames
    and the kernel are bit for bit those of the step before the rim knobs existed (its code
    frozen above), 40 steps at 32 px."""
    img = load_target(assets / "chelsea.png", 32)[0]
    pr = load_preset(name).with_params(rim=0.0, look_size=0)
    if name != "watercolor":
        pr = load_preset(name).with_params(look_size=0)
        assert pr.params["rim"] == 0.0
    new, old = TorchDiffusion(pr, img), TorchDiffusion(pr, img)
    old._learned_substep = types.MethodType(_old_learned_substep, old)
    new.step(40)
    old.step(40)
    assert np.array_equal(new.image(), old.image())
    assert np.array_equal(new.ctl.k, old.ctl.k)


# -- the metric ----------------------------------------------------------------------------
def test_edge_darkening_by_hand():
    """A 20x20 source, black left half and white right half: L* 0 | 100, a 50 L*/px gradient
    (central differences) on columns 9 and 10, so the band (dilated by one) is columns 8..11.
    - A frame whose columns 10 and 11 turn grey 0.5 (L* 53.39: lin 0.21404, cbrt 0.59814,
      116 * 0.59814 - 16): the band changes by (0 + 0 - 46.61 - 46.61) / 4 = -23.31 on
      average, elsewhere 0 -> -23.31 (a dark rim on the white side).
    - The whole white side grey 0.5: band -23.31, elsewhere (8 columns 0, 8 columns -46.61)
      -23.31 -> 0 (a darker wash is not a rim).
    - The frame itself -> 0."""
    src = np.zeros((20, 20, 3))
    src[:, 10:] = 1.0
    rim = src.copy()
    rim[:, 10:12] = 0.5
    assert edge_darkening(rim, src) == pytest.approx(-23.307, abs=0.01)
    wash = src.copy()
    wash[:, 10:] = 0.5
    assert edge_darkening(wash, src) == pytest.approx(0.0, abs=1e-9)
    assert edge_darkening(src, src) == 0.0
    # a flat source has no edge: 0, whatever the frame
    assert edge_darkening(rim, np.full((20, 20, 3), 0.5)) == 0.0


@pytest.mark.gl
@pytest.mark.parametrize("over", [{}, {"rim": 2.0, "rim_edge": 0.1, "rim_depth": 0.6}])
def test_gl_rims_match_torch_for_the_first_steps(gl_ctx, assets, over):
    """The GLSL step does exactly what the torch step does with rims on: watercolor as shipped
    and a stronger, shallower rim, 30 steps at 64 px, kernel and picture."""
    from viewer.gl_diffusion import GLDiffusion

    img = load_target(assets / "astronaut.png", 64)[0]
    pr = load_preset("watercolor").with_params(**over)
    assert pr.params["rim"] > 0
    a, b = TorchDiffusion(pr, img), GLDiffusion(gl_ctx, pr, img)
    a.step(30)
    b.step(30)
    assert np.abs(a.ctl.k - b.ctl.k).max() < 1e-3
    assert np.abs(a.image() - b.image()).max() < DIFFUSION_GL_VS_TORCH
    b.release()
