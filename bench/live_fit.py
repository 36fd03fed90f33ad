"""Live-fit frame rate (`imfit view --video CLIP --live-fit N`): warm start against cold start.

    .venv/bin/python bench/live_fit.py [--wavelets 128] [--size 128] [--frames 30] [--steps 4]

The clip is a slow pan across the astronaut (a crop moving 1 px per frame, `size` px square),
the kind of motion a camera gives. Warm: `imfit.fitting.live.LiveFit` (placement and colour
solve on the first frame only; then `steps` Adam steps per frame from the previous frame's set,
the viewer's default of 4 per drawn frame). Baseline, in the same run: a cold start per frame
(`cold_frame`: fresh placement, colour solve and the same `steps` steps). Prints frames per
second (wall clock, and by this process's CPU time, which a loaded machine inflates less)
and the mean PSNR of each (frames after the first), and the ratios. One thread (torch's
and the C kernel's), as the viewer runs it beside the GL window.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from imfit.fitting.live import LiveFit, cold_frame  # noqa: E402
from imfit.formats.images import read_image, resize_area  # noqa: E402
from imfit.metrics import psnr  # noqa: E402
from imfit.renderers.gabor import render  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pan(size: int, frames: int) -> list[np.ndarray]:
    img = read_image(ROOT / "assets" / "astronaut.png")[0]
    big = resize_area(img, 2 * size, 2 * size)
    return [big[size // 2: size // 2 + size, k: k + size].copy() for k in range(frames)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wavelets", type=int, default=128)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(1)
    clip = pan(a.size, a.frames + 1)
    lf = LiveFit(a.wavelets)
    lf.set_frame(clip[0])  # the one cold start, not timed (the viewer does it before frame 1)
    lf.step(a.steps)
    warm_q, cold_q = [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for f in clip[1:]:
        lf.set_frame(f)
        lf.step(a.steps)
        gs = lf.current()
        warm_q.append((gs, f))
    warm_s, warm_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    for f in clip[1:]:
        cold_q.append((cold_frame(f, a.wavelets, a.steps), f))
    cold_s, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
    w_fps, c_fps = a.frames / warm_s, a.frames / cold_s
    w_db = float(np.mean([psnr(render(g, a.size, a.size), f) for g, f in warm_q]))
    c_db = float(np.mean([psnr(render(g, a.size, a.size), f) for g, f in cold_q]))
    print(f"live fit {a.wavelets} wavelets, {a.size} px, {a.steps} steps/frame, "
          f"{a.frames} frames of a pan")
    print(f"  warm (LiveFit):       {w_fps:6.1f} fps  {1000 / w_fps:6.1f} ms/frame  "
          f"(CPU {a.frames / warm_cpu:6.1f} fps)  mean PSNR {w_db:.2f} dB")
    print(f"  cold start per frame: {c_fps:6.1f} fps  {1000 / c_fps:6.1f} ms/frame  "
          f"(CPU {a.frames / cold_cpu:6.1f} fps)  mean PSNR {c_db:.2f} dB")
    print(f"  ratio: {w_fps / c_fps:.2f}x the frame rate, {w_db - c_db:+.2f} dB "
          f"(target >= 10 fps: {'met' if w_fps >= 10 else 'NOT met'})")


if __name__ == "__main__":
    main()
