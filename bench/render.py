"""Frame time of the GL renderer (billboards vs full-screen loop) and the torch CPU renderer.

    .venv/bin/python bench/render.py --fit out/demo/astronaut.gabor.json

One run, one process: every strategy renders the same sets at 512x512 and 1920x1080 for
N = 256, 1024, 4096, and the ratios are printed at the end (the loop is the baseline of the
billboards, torch CPU the baseline of both). Sets larger than the fit are made by `densify`:
each wavelet is split into k smaller ones (widths and wavelength / sqrt(k), centres spread over
the parent's window), the way a fit with k times more wavelets covers the same picture with
smaller ones; the loop's cost does not depend on sizes, the billboards' and torch's do.
GL time is draw + finish (the frame on the GPU, no readback); torch time is `imfit.render`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import imfit  # noqa: E402
from imfit.model.gaborset import GaborSet  # noqa: E402

SIZES = ((512, 512), (1920, 1080))
COUNTS = (256, 1024, 4096)


def densify(gs: GaborSet, n: int, seed: int = 0) -> GaborSet:
    """`n` wavelets from `gs`: each parent split into ceil(n / len) children, then cut to n."""
    k = math.ceil(n / len(gs))
    if k == 1:
        return gs[gs.order_by_energy()[:n]]
    rng = np.random.default_rng(seed)
    p = np.repeat(gs.params.astype(np.float64), k, axis=0)
    spread = 0.7 * np.repeat(gs.sigma.astype(np.float64), k)[:, None]
    p[:, 0:2] += rng.normal(size=(len(p), 2)) * spread
    p[:, 3:6] /= math.sqrt(k)
    p[:, 9:12] /= math.sqrt(k) ** 0.5  # k overlapping children: keep the contrast similar
    out = gs.replace(params=p.astype(np.float32))
    return out[rng.permutation(len(out))[:n]]


def timed(fn, min_total: float = 1.0, max_runs: int = 5) -> float:
    """Median seconds per call after one warm-up (more runs only while they are cheap)."""
    fn()
    times: list[float] = []
    while len(times) < max_runs and (not times or sum(times) < min_total):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def gl_frame(gl, fbo, gs: GaborSet, w: int, h: int, strategy: str) -> None:  # noqa: ANN001
    fbo.use()
    gl.draw(gs, w, h, strategy=strategy)
    gl.ctx.finish()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", type=Path, required=True, help="a .gabor.json (a real fit)")
    ap.add_argument("--skip-torch", action="store_true")
    args = ap.parse_args()
    base = imfit.load(args.fit)

    from viewer.gl_render import _current, shared_renderer

    gl = shared_renderer()
    print(f"GL: {gl.ctx.info['GL_RENDERER']}; fit {args.fit} ({len(base)} wavelets)")
    results: dict[tuple[str, int, int, int], float] = {}
    with _current(gl.ctx):
        for w, h in SIZES:
            fbo = gl.ctx.framebuffer(color_attachments=[gl.ctx.texture((w, h), 4, dtype="f4")])
            for n in COUNTS:
                gs = densify(base, n)
                for strategy in ("billboard", "loop"):
                    results[(strategy, w, h, n)] = timed(partial(gl_frame, gl, fbo, gs, w, h,
                                                                 strategy))
                    print(f"{w}x{h} N={n:5d} {strategy:9s} {results[(strategy, w, h, n)]:9.4f} s",
                          flush=True)
                if not args.skip_torch:
                    results[("torch", w, h, n)] = timed(partial(imfit.render, gs, w, h))
                    print(f"{w}x{h} N={n:5d} torch cpu {results[('torch', w, h, n)]:9.4f} s",
                          flush=True)
            fbo.release()

    print("\n| size | N | billboard (ms) | loop (ms) | torch CPU (ms) | loop / billboard "
          "| torch / billboard |")
    print("|---|---|---|---|---|---|---|")
    for w, h in SIZES:
        for n in COUNTS:
            b, lp = results[("billboard", w, h, n)], results[("loop", w, h, n)]
            tc = results.get(("torch", w, h, n))
            tcs = f"{tc * 1e3:.0f}" if tc else "-"
            tr = f"{tc / b:.1f}x" if tc else "-"
            print(f"| {w}x{h} | {n} | {b * 1e3:.1f} | {lp * 1e3:.0f} | {tcs} | {lp / b:.1f}x "
                  f"| {tr} |")


if __name__ == "__main__":
    main()
