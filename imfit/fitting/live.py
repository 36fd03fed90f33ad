"""Live fitting: a small wavelet set that follows a video, frame after frame.

A VJ's camera or clip changes 30 times a second; a fresh fit per frame (placement, colour solve,
a schedule of hundreds of steps) takes seconds. `LiveFit` places and solves once, on the first
frame, then keeps the SAME parameters and the same Adam state: each new frame only swaps the
target, and every `step(k)` moves the set k steps towards the frame shown now. Between frames the
picture is the set as it converges, which is the look of a live fit. The first frame is the only
cold start; `cold_frame` is the per-frame cold start, kept as the baseline bench/live_fit.py
measures against.
"""

from __future__ import annotations

import numpy as np
import torch

from imfit.errors import ImfitError
from imfit.fitting.fitter import FitSettings, Fitter, _loss, check_target
from imfit.model.gaborset import GaborSet
from imfit.renderers.gabor import render_tiled_coef, use_fused

LR = 0.01  # Adam's base rate, the fitter's global_lr: its fine stage runs at half of it


class LiveFit:
    """`LiveFit(n)`; `set_frame(image)` whenever the frame changes, `step(k)` per drawn frame,
    `current()` for the set to show. Frames keep the first frame's size (a video's do)."""

    def __init__(self, n: int = 128, seed: int = 0, lr: float = LR) -> None:
        if not 1 <= n <= 100_000:
            raise ImfitError(f"--live-fit takes a wavelet count from 1 to 100000, got {n}")
        self.n, self.seed, self.lr = n, seed, lr
        self.fitter: Fitter | None = None
        self.opt: torch.optim.Optimizer | None = None
        self.steps = 0  # steps since the current frame came

    def _settings(self, height: int) -> FitSettings:
        return FitSettings(num_gabors=self.n, size=max(8, height), iterations=1, rescales=0,
                           seed=self.seed, replace_every=0, early_stop=False)

    def set_frame(self, image: np.ndarray) -> None:
        """The frame to follow from now on (float (H, W, 3) 0..1)."""
        target = check_target(image)
        f = self.fitter
        if f is None:  # the one cold start: placement from this frame and its colours
            f = self.fitter = Fitter(target, self._settings(target.shape[0]))
            t, wt, view = f._scaled(f.height)
            f.solve_colours(t, wt, view, iters=20)
            self.opt = torch.optim.Adam(f.params.groups(self.lr * 0.5), betas=(0.9, 0.99),
                                        foreach=True)
            self.view = view
        elif target.shape != f.target_np.shape:
            raise ImfitError(f"frame is {target.shape[1]}x{target.shape[0]}, the first was "
                             f"{f.width}x{f.height}")
        self.target = torch.from_numpy(target).to(f.device)
        self.steps = 0

    def step(self, k: int = 1) -> float:
        """k Adam steps towards the current frame; returns the last step's loss (MSE)."""
        f, opt = self.fitter, self.opt
        if f is None or opt is None:
            raise ImfitError("LiveFit.step before the first frame")
        loss = torch.zeros(())
        px = self.view.scale
        for _ in range(k):
            geom = f.params.geom()
            pairs = None if use_fused(f.params.pos) else f._bin(geom.detach(), self.view)
            out = render_tiled_coef(geom, f.params.coef, self.view, pairs=pairs) + f.params.bias
            loss = _loss(out, self.target, None, f.s)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            f.params.project(px)
            self.steps += 1
        return float(loss.detach())

    def current(self) -> GaborSet:
        if self.fitter is None:
            raise ImfitError("LiveFit.current before the first frame")
        return self.fitter.current()


def cold_frame(image: np.ndarray, n: int, steps: int, seed: int = 0) -> GaborSet:
    """The baseline: a fresh fit of one frame (placement, colour solve, `steps` steps)."""
    target = check_target(image)
    s = FitSettings(num_gabors=n, size=max(8, target.shape[0]), iterations=steps, rescales=0,
                    seed=seed, replace_every=0, early_stop=False, solve_every=0)
    f = Fitter(target, s)
    t, wt, view = f._scaled(f.height)
    f.solve_colours(t, wt, view, iters=20)
    return f.run().gaborset
