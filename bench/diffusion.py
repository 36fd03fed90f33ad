"""Diffusion speed and memory: torch CPU (Perona-Malik with the fused C step and with its
pure-torch twin) and GLSL per step at 512^2 and 2048^2, against OpenCV
ximgproc.anisotropicDiffusion when it is importable, in the same run; RSS over many steps; the
Poisson blend on 256x256 and 1024x1024 regions.

    .venv/bin/python bench/diffusion.py [--steps-long 10000] [--threads 1]

OpenCV is not a project dependency; to include it:
    .venv/bin/pip install opencv-contrib-python-headless
(or put it on PYTHONPATH). Compare like with like: OpenCV runs 8-bit, 8 neighbours, one
shared weight; torch/GL run float32, 4 neighbours per channel.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imfit.diffusion.engine import TorchDiffusion, load_preset  # noqa: E402


def per_step(fn, reps: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t) / reps)
    return best


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps-long", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import cv2

        cv2.setNumThreads(args.threads)
        has_cv = hasattr(cv2, "ximgproc")
    except ImportError:
        has_cv = False
    ctx = None
    try:
        from viewer.context import headless_context
        from viewer.gl_diffusion import GLDiffusion

        ctx = headless_context()
        renderer = ctx.info.get("GL_RENDERER", "?")
    except Exception as e:  # noqa: BLE001 - GL is optional for the bench
        renderer = f"none ({e})"
    print(f"torch {torch.__version__}, {args.threads} thread(s); GL: {renderer}; "
          f"OpenCV ximgproc: {'yes' if has_cv else 'not installed'}")
    rng = np.random.default_rng(0)
    pm = load_preset("perona-malik")
    drugs = load_preset("perona-malik-drugs").with_params(dt=0.2)  # one substep a step
    for n in (512, 2048):
        img = rng.random((n, n, 3), dtype=np.float32)
        reps = 10 if n == 512 else 2
        row = {}
        for name, fast in (("torch PM (C step)", True), ("torch PM (torch twin)", False)):
            eng = TorchDiffusion(pm, img, fast=fast, threads=args.threads)
            if fast and not eng.fast:
                name = "torch PM (C step unavailable: torch)"
            row[name] = per_step(lambda e=eng: e.step(1), reps)
        eng = TorchDiffusion(drugs, img)
        row["torch drugs"] = per_step(lambda e=eng: e.step(1), max(1, reps // 2))
        if ctx is not None:
            for name, pr in (("GL PM", pm), ("GL drugs", drugs)):
                g = GLDiffusion(ctx, pr, img)

                def gl_step(g=g) -> None:
                    g.step(1)
                    g.image()[:1, :1]  # noqa: B018 - a readback forces the GPU to finish

                row[name] = per_step(gl_step, reps)
                g.release()
        if has_cv:
            u8 = (img * 255).astype(np.uint8)
            row["OpenCV"] = per_step(
                lambda u8=u8: cv2.ximgproc.anisotropicDiffusion(u8, 0.125, 25.5, 1), reps)
        base = row.get("OpenCV")
        print(f"{n}x{n}: " + ", ".join(
            f"{k} {v * 1e3:.1f} ms" + (f" ({v / base:.2f}x OpenCV)" if base else "")
            for k, v in row.items()))
    # memory over many steps
    img = rng.random((512, 512, 3), dtype=np.float32)
    for name, pr in (("perona-malik", pm), ("perona-malik-drugs", drugs)):
        eng = TorchDiffusion(pr, img, threads=args.threads)
        eng.step(10)
        r0 = rss_mb()
        steps = args.steps_long if name == "perona-malik" else args.steps_long // 10
        t = time.perf_counter()
        eng.step(steps)
        how = " (C step)" if eng.fast else ""
        print(f"{name}{how} 512x512: {steps} steps in {time.perf_counter() - t:.1f} s, RSS "
              f"{r0:.1f} -> {rss_mb():.1f} MB")
    # Poisson: square regions pasted into a destination twice their size, best of 3 after a
    # warm-up (per_step). poisson_system() (building the system) is timed apart; torch times are the
    # solve to 1e-6, GL times upload + solve to 1e-5 (float32) + readback. The plain twins (CG,
    # SOR) run at 256 only: minutes at 1024.
    from imfit.poisson.solve import PoissonSystem, poisson_system, solve_poisson

    def gl_solve(cls: type, s: PoissonSystem) -> tuple:
        gp = cls(ctx, s)
        try:
            return gp.solve(1e-5)
        finally:
            gp.release()

    solvers = {
        "torch multigrid PCG": lambda s: solve_poisson(s, 1e-6),
        "torch plain CG": lambda s: solve_poisson(s, 1e-6, precondition=False),
    }
    if ctx is not None:
        from viewer.gl_poisson import GLPoisson, GLPoissonSOR

        solvers["GL multigrid PCG"] = lambda s: gl_solve(GLPoisson, s)
        solvers["GL red-black SOR"] = lambda s: gl_solve(GLPoissonSOR, s)
    for n in (256, 1024):
        src = rng.random((n, n, 3), dtype=np.float32)
        dst = rng.random((2 * n, 2 * n, 3), dtype=np.float32)
        args = (src, dst, np.ones((n, n)), (n // 2, n // 2))
        s = poisson_system(*args)
        parts = [f"guidance {per_step(lambda args=args: poisson_system(*args), 1) * 1e3:.0f} ms"]
        for name, solve in solvers.items():
            if n > 256 and ("plain" in name or "SOR" in name):
                continue
            out: list = []
            t = per_step(lambda s=s, solve=solve, out=out: out.append(solve(s)), 1)
            _, it, res = out[-1]
            parts.append(f"{name} {t * 1e3:.0f} ms ({it} iterations, residual {res:.1e})")
        print(f"poisson {n}x{n} region: " + "; ".join(parts))


if __name__ == "__main__":
    main()
