"""Fit modes on Dask: frames per minute on 1 and 2 local workers vs the plain loop (issue 14).

    .venv/bin/python bench/cluster.py                  # 16 frames, 48 px, 24 wavelets
    .venv/bin/python bench/cluster.py --frames 32 --size 64

The clip is a window panning across the astronaut photo, then (a scene cut 5/8 of the way)
across the cat photo (camera moves: neighbouring frames alike, as `--mode video` expects),
keyframes at the cut and at least every 4 frames (the cluster runs print the plan). Three runs
in the same process and the same clip: the plain single-process loop (`modes.run_fit_jobs`,
one torch thread like each worker), then `run_cluster_jobs` on a LocalCluster of 1 and of 2
workers. It prints frames per minute (fitting only, and with the cluster's start), the speed-up
of 2 workers over 1, and the scheduling overhead per frame: the time per frame besides the
fits themselves (wall clock minus the fits' own seconds recorded in each .gabor.json) on 1
worker minus the same for the plain loop, i.e. what Dask's submission, the transfer of
parameters and previews, and waiting for results add; measured within each run, so a changing
machine load affects it less than the ratio of whole runs (also printed). The runs' files are
compared: they must be identical.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_clip(folder: Path, frames: int, width: int, height: int) -> None:
    from PIL import Image

    from imfit.formats.images import read_image, resize_area, to_uint8

    folder.mkdir(parents=True)
    first = frames - frames * 3 // 8  # the cut at 10 of 16: off the every-K grid
    shots = [(name, n) for name, n in (("astronaut.png", first), ("chelsea.png", frames - first))
             if n]
    i = 0
    for name, n in shots:
        img, _ = read_image(ROOT / "assets" / name)
        h, w = img.shape[:2]
        ch, cw = h * 2 // 3, w * 2 // 3
        for k in range(n):
            x = round((w - cw) * k / max(1, n - 1) / 4)  # a quarter of the width in the shot
            crop = img[(h - ch) // 2:(h - ch) // 2 + ch, x:x + cw]
            Image.fromarray(to_uint8(resize_area(crop, width, height))).save(
                folder / f"{i:04d}.png")
            i += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--num-gabors", type=int, default=24)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--keyframes", type=int, default=4)
    a = ap.parse_args()

    import imfit
    from imfit.fitting.distributed import run_cluster_jobs
    from imfit.fitting.fitter import FitSettings
    from imfit.fitting.modes import run_fit_jobs
    from imfit.native import single_thread

    s = FitSettings(num_gabors=a.num_gabors, size=a.size, iterations=a.iterations, rescales=1,
                    seed=0)
    tmp = Path(tempfile.mkdtemp(prefix="imfit-bench-cluster-"))
    clip = tmp / "frames"
    make_clip(clip, a.frames, a.size, a.size * 2 // 3)
    with single_thread():  # warm-up: torch's first ops and the C kernel, outside every timing
        run_fit_jobs(clip / "0000.png", "image", tmp / "warm", None, s, echo=lambda _: None)
        t = time.perf_counter()
        run_fit_jobs(clip, "video", tmp / "plain", None, s, a.keyframes, echo=lambda _: None)
        plain = time.perf_counter() - t
    runs = {}
    for n in (1, 2):
        r = run_cluster_jobs(clip, "video", tmp / f"w{n}", None, s, a.keyframes, workers=n,
                             echo=print)
        runs[n] = r
    for n in (1, 2):
        for p in sorted((tmp / "plain").glob("*.gabor.json")):
            same = np.array_equal(imfit.load(p).params, imfit.load(tmp / f"w{n}" / p.name).params)
            assert same, f"{p.name}: {n} workers differ from the plain loop"
    f = a.frames
    print(f"\n{f} frames {a.size}x{a.size * 2 // 3}, {a.num_gabors} wavelets, {a.iterations} "
          f"steps (+1 coarse scale), keyframes at the cut and at least every {a.keyframes}; "
          "files identical in all runs")
    print("| run | seconds fitting | frames/min | seconds incl. start | frames/min incl. start |")
    print("|---|---|---|---|---|")
    print(f"| plain loop (1 thread) | {plain:.1f} | {f / plain * 60:.1f} | - | - |")
    fit_s = {}
    for n, r in runs.items():
        fit_s[n] = r.seconds - r.startup
        print(f"| {n} worker{'s' if n > 1 else ''} | {fit_s[n]:.1f} | {f / fit_s[n] * 60:.1f} | "
              f"{r.seconds:.1f} | {f / r.seconds * 60:.1f} |")
    print(f"\n2 workers / 1 worker: {fit_s[1] / fit_s[2]:.2f}x the frames per minute")
    # each fit's own seconds (its .gabor.json's meta) against the wall clock, in the same run:
    # what is left is loading, previews, writes and, on the cluster, scheduling and transfers
    def fit_total(folder: Path) -> float:
        return sum(imfit.load(p).meta["seconds"] for p in folder.glob("*.gabor.json"))

    plain_rest = (plain - fit_total(tmp / "plain")) / f
    w1_rest = (fit_s[1] - fit_total(tmp / "w1")) / f
    print(f"per frame besides the fit itself: plain loop {plain_rest * 1000:.0f} ms, 1 worker "
          f"{w1_rest * 1000:.0f} ms: scheduling overhead {(w1_rest - plain_rest) * 1000:.0f} ms "
          f"per frame ({(w1_rest - plain_rest) / (plain / f) * 100:.1f}% of a plain frame's "
          f"{plain / f * 1000:.0f} ms)")
    print(f"1 worker / plain loop wall time: {fit_s[1] / plain:.2f}x (includes the load on the "
          "machine changing between runs)")
    print(f"cluster start (connect + check workers): {runs[1].startup:.1f} s with 1 worker, "
          f"{runs[2].startup:.1f} s with 2")


if __name__ == "__main__":
    main()
