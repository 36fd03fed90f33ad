"""Fit quality and speed benchmark (issue targets live here, never in timed tests).

    .venv/bin/python bench/fit.py                 # all images x all settings (~15 min, 2 cores)
    .venv/bin/python bench/fit.py --quick         # 256 wavelets at 256 px only
    .venv/bin/python bench/fit.py --video         # flicker: warm-started video vs independent
    .venv/bin/python bench/fit.py --device cuda   # the GPU targets (issue 14): 1024 wavelets
                                                  # at 512 px end to end, render fps at 1080p
    .venv/bin/python bench/fit.py --big           # issue 14 point 3: 4096 at 512 (astronaut)
                                                  # and 16,384 at 1024 (Hubble), this tree
                                                  # against --baseline REV (default main) in
                                                  # the same run, interleaved

Per image and setting it prints PSNR, the equal-storage DCT baseline computed here, seconds,
steps, peak RSS of the fitting process (each fit runs in its own subprocess), and the time of one
fast iteration against one dense N x 3 x H x W iteration measured in the same run.
Full-size photos come from ../shared/data when present, else the shipped 256 px copies.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# --code-root: the imfit to import (a baseline's exported tree); the data helpers are this file's
CODE = Path(sys.argv[sys.argv.index("--code-root") + 1]) if "--code-root" in sys.argv else ROOT
sys.path.insert(0, str(CODE))
# ../shared/data beside the checkout (the main clone), or two levels up (a worktree under wt/)
DATA = next((d for d in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data")
             if d.is_dir()), ROOT.parent / "shared" / "data")

IMAGES = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "hubble512": "hubble_deep_field.jpg",  # 512 x 512 centre crop
    "camera": "camera.png",  # grayscale
}
SETTINGS = [(256, 256), (1024, 256), (1024, 512)]


def load(name: str, size: int) -> np.ndarray:
    from imfit.formats.images import read_image, resize_area

    src = DATA / IMAGES[name]
    if not src.exists():
        src = ROOT / "assets" / IMAGES[name]
    img, _ = read_image(src)
    if name == "hubble512":
        h, w = img.shape[:2]
        c = min(512, h, w)
        img = img[(h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c]
    h, w = img.shape[:2]
    from imfit.formats.images import fit_size

    tw, th = fit_size(w, h, size)
    return resize_area(img, tw, th)


def iteration_times(gs, size_hw: tuple[int, int], repeats: int = 3,
                    device: str = "cpu") -> tuple[float, float]:
    """Seconds for one fast (fused/tiled) and one dense forward+backward at this size."""
    import torch

    from imfit.device import resolve, synchronize
    from imfit.renderers.gabor import View, coefficients, render_dense, render_tiled_coef

    dev = resolve(device)
    h, w = size_hw
    view = View.of(w, h)
    p = torch.from_numpy(np.array(gs.params)).to(dev)
    geom = p[:, :6].clone().requires_grad_()
    coef = coefficients(p).detach().clone().requires_grad_()
    fast = []
    for _ in range(repeats):
        t = time.perf_counter()
        render_tiled_coef(geom, coef, view).square().mean().backward()
        synchronize(dev)
        fast.append(time.perf_counter() - t)
    # dense: the whole N x 3 x H x W computation, in wavelet chunks so it fits in memory
    per = max(1, int(2e8 // (3 * h * w * 12)))
    t = time.perf_counter()
    pd = p.clone().requires_grad_()
    for a in range(0, len(p), per):
        render_dense(pd[a:a + per], view, 0.0, clamp=False).square().mean().backward()
    synchronize(dev)
    dense = time.perf_counter() - t
    return min(fast), dense


def one(name: str, n: int, size: int, out_png: str | None, device: str = "cpu") -> dict:
    """Runs inside the child process."""
    from imfit.fitting.fitter import FitSettings, fit_array
    from imfit.metrics import dct_baseline_psnr, psnr

    target = load(name, size)
    t0 = time.perf_counter()
    res = fit_array(target, FitSettings(num_gabors=n, size=size, device=device),
                    meta={"source": name})
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the dense probe
    import imfit

    img = imfit.render(res.gaborset)
    fast, dense = iteration_times(res.gaborset, target.shape[:2], device=device)
    if out_png:
        from imfit.formats.images import save_png

        err = np.abs(img - target).mean(-1, keepdims=True)
        err = np.clip(err * 4, 0, 1) * np.array([1.0, 0.35, 0.1])
        save_png(np.concatenate([target, img, err], 1), out_png)
    return {"image": name, "n": n, "size": size, "psnr": psnr(img, target),
            "dct": dct_baseline_psnr(target, n), "seconds": secs, "steps": res.steps,
            "peak_rss_mb": rss,
            "fast_iter_ms": fast * 1000, "dense_iter_ms": dense * 1000}


BIG = [("astronaut", 4096, 512), ("hubble", 16384, 1024)]


def load_big(name: str, size: int) -> np.ndarray:
    """The big cases' targets: the whole photo at longer side `size` (the Hubble photo is
    1000 x 872, so 1024 enlarges it slightly), clipped to 0..1 as `imfit fit` loads it."""
    from imfit.formats.images import load_target

    files = {"astronaut": "astronaut.png", "hubble": "hubble_deep_field.jpg"}
    src = DATA / files[name]
    if not src.exists():
        sys.exit(f"bench/fit.py --big needs {src}")
    return load_target(src, size)[0]


def one_big(name: str, n: int, size: int) -> dict:
    """Runs inside the child process (this tree's imfit or a baseline's, see --code-root):
    the default fit, timed in wall and CPU seconds, with peak RSS and both floors."""
    from imfit.fitting.fitter import FitSettings, fit_array

    target = load_big(name, size)
    t0, c0 = time.perf_counter(), time.process_time()
    res = fit_array(target, FitSettings(num_gabors=n, size=size), meta={"source": name})
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import imfit

    img = imfit.render(res.gaborset)
    from imfit.metrics import psnr

    return {"psnr": psnr(img, target), "seconds": secs, "cpu": cpu, "steps": res.steps,
            "peak_rss_mb": rss}


def big(baseline: str, repeat: int, cases: list[str]) -> None:
    """Issue 14 point 3: each big case fitted by `baseline` (a git revision, exported to a temp
    folder) and by this tree, alternately in the same run (the machine is shared: interleaving
    spreads the load over both), with the ratio of their times, peak RSS and PSNR against the
    RGB and YCbCr equal-float floors (imfit.metrics)."""
    import tempfile

    from imfit.metrics import dct_baseline_psnr, dct_baseline_ycbcr_psnr

    with tempfile.TemporaryDirectory(prefix="imfit-baseline-") as tmp:
        arc = subprocess.run(["git", "-C", str(ROOT), "archive", baseline], capture_output=True)
        if arc.returncode != 0:
            sys.exit(f"git archive {baseline}: {arc.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=arc.stdout, check=True)
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", baseline],
                             capture_output=True, text=True).stdout.strip()
        print(f"baseline {baseline} ({rev}) vs this tree; load average at start "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("| case | code | s | CPU s | steps | peak RSS MB | PSNR | RGB floor | YCbCr floor |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, n, size in [c for c in BIG if c[0] in cases]:
            target = load_big(name, size)
            floors = dct_baseline_psnr(target, n), dct_baseline_ycbcr_psnr(target, n)
            got: dict[str, list[dict]] = {"baseline": [], "new": []}
            for _ in range(repeat):
                for label, code in (("baseline", tmp), ("new", str(ROOT))):
                    cmd = [sys.executable, __file__, "--one-big", name, str(n), str(size),
                           "--code-root", code]
                    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                    if r.returncode != 0:
                        print(f"| {name} {n} at {size} | {label} | FAILED: "
                              f"{r.stderr.strip()[-300:]} |")
                        return
                    d = json.loads(r.stdout.strip().splitlines()[-1])
                    got[label].append(d)
                    print(f"| {name} {n} at {size} | {label} | {d['seconds']:.1f} | "
                          f"{d['cpu']:.1f} | {d['steps']} | {d['peak_rss_mb']:.0f} | "
                          f"{d['psnr']:.2f} | {floors[0]:.2f} | {floors[1]:.2f} |", flush=True)
            b, c = got["baseline"], got["new"]
            ratio = np.median([x["seconds"] for x in b]) / np.median([x["seconds"] for x in c])
            cpu = np.median([x["cpu"] for x in b]) / np.median([x["cpu"] for x in c])
            dp = np.mean([x["psnr"] for x in c]) - np.mean([x["psnr"] for x in b])
            print(f"\n{name} {n} at {size}: baseline/new {ratio:.2f}x wall, {cpu:.2f}x CPU; "
                  f"PSNR {dp:+.2f} dB; new {np.mean([x['psnr'] for x in c]) - floors[0]:+.2f} dB "
                  f"over the RGB floor, {np.mean([x['psnr'] for x in c]) - floors[1]:+.2f} dB "
                  f"over the YCbCr floor; peak RSS {max(x['peak_rss_mb'] for x in c):.0f} MB\n",
                  flush=True)


def video(frames: int = 8) -> None:
    """Flicker of a slowly panning shot: warm starts (video mode) vs independent fits."""
    import imfit
    from imfit.fitting.fitter import FitSettings, fit_array
    from imfit.metrics import flicker, flicker_ratio

    big = load("astronaut", 512)
    srcs = [big[64 + 2 * i:64 + 2 * i + 256, 128 + 3 * i:128 + 3 * i + 256] for i in range(frames)]
    from imfit.formats.images import resize_area

    srcs = [resize_area(s, 128, 128) for s in srcs]
    s = FitSettings(num_gabors=128, size=128, warm_iterations=100)
    for label, warm in (("independent", False), ("warm start", True)):
        prev, renders = None, []
        t0 = time.perf_counter()
        for f in srcs:
            res = fit_array(f, s, init=prev if warm else None)
            prev = res.gaborset
            renders.append(imfit.render(prev))
        psnrs = [10 * np.log10(1 / np.mean((r - f) ** 2)) for r, f in zip(renders, srcs)]
        print(f"| {label} | {frames} | {np.mean(psnrs):.2f} | {flicker(renders):.4f} | "
              f"{flicker(srcs):.4f} | {flicker_ratio(renders, srcs):.2f} | "
              f"{time.perf_counter() - t0:.1f} |", flush=True)


def render_fps(gs, width: int = 1920, height: int = 1080, device: str = "cuda",
               frames: int = 20) -> tuple[float, float]:
    """Frames per second of the torch tiled renderer at width x height on `device`, and the
    same on the CPU (one frame) as the baseline of the same run."""
    import torch

    from imfit.device import resolve, synchronize
    from imfit.renderers.gabor import View, render_tiled

    view = View.of(width, height)
    out = []
    for dv, k in ((resolve(device), frames), (torch.device("cpu"), 1)):
        p = torch.from_numpy(np.array(gs.params)).to(dv)
        with torch.no_grad():
            render_tiled(p, view, gs.bias)  # warm-up (kernel build, allocator)
            synchronize(dv)
            t = time.perf_counter()
            for _ in range(k):
                render_tiled(p, view, gs.bias)
            synchronize(dv)
        out.append(k / (time.perf_counter() - t))
    return out[0], out[1]


def gpu_targets(device: str) -> None:
    """Issue 14's GPU figures: 1024 wavelets at 512 px (<= 5 s end to end), 1024 wavelets
    rendered at 1080p (>= 500 fps in torch); the CPU fit of the same job is the baseline."""
    res = {}
    for dv in (device, "cpu"):
        cmd = [sys.executable, __file__, "--one", "astronaut", "1024", "512", "--device", dv]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            print(f"{dv}: FAILED: {r.stderr.strip()[-300:]}")
            return
        res[dv] = json.loads(r.stdout.strip().splitlines()[-1])
    g, c = res[device], res["cpu"]
    print(f"fit astronaut 1024 wavelets 512 px: {device} {g['seconds']:.1f} s "
          f"{g['psnr']:.2f} dB, cpu {c['seconds']:.1f} s {c['psnr']:.2f} dB "
          f"(cpu/{device} {c['seconds'] / g['seconds']:.1f}x); fast iteration "
          f"{g['fast_iter_ms']:.1f} ms vs dense {g['dense_iter_ms']:.0f} ms")
    from imfit.fitting.fitter import FitSettings, fit_array

    gs = fit_array(load("astronaut", 256), FitSettings(num_gabors=1024, size=256,
                                                       iterations=50, device=device)).gaborset
    fps, cpu_fps = render_fps(gs, device=device)
    print(f"render 1024 wavelets at 1920x1080: {device} {fps:.0f} fps, cpu {cpu_fps:.2f} fps "
          f"({fps / cpu_fps:.0f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--video", action="store_true")
    ap.add_argument("--images", default=",".join(IMAGES))
    ap.add_argument("--one", nargs=3, metavar=("IMAGE", "N", "SIZE"))
    ap.add_argument("--png")
    ap.add_argument("--big", action="store_true",
                    help="issue 14's big CPU fits, this tree against --baseline")
    ap.add_argument("--baseline", default="main", help="git revision to compare with (--big)")
    ap.add_argument("--repeat", type=int, default=1, help="fits per code and case (--big)")
    ap.add_argument("--cases", default="astronaut,hubble", help="big cases to run (--big)")
    ap.add_argument("--one-big", nargs=3, metavar=("IMAGE", "N", "SIZE"))
    ap.add_argument("--code-root", help="import imfit from this folder (--one-big)")
    ap.add_argument("--device", default="cpu",
                    help="cpu (the table below), or cuda/mps/auto: the GPU targets")
    a = ap.parse_args()
    if a.one_big:
        print(json.dumps(one_big(a.one_big[0], int(a.one_big[1]), int(a.one_big[2]))))
        return
    if a.big:
        big(a.baseline, a.repeat, a.cases.split(","))
        return
    if a.one:
        print(json.dumps(one(a.one[0], int(a.one[1]), int(a.one[2]), a.png, a.device)))
        return
    if a.device != "cpu":
        from imfit.device import resolve
        from imfit.errors import ImfitError

        try:
            resolve(a.device)
        except ImfitError as e:
            sys.exit(f"bench/fit.py: {e}")
        gpu_targets(a.device)
        return
    if a.video:
        print("| fit | frames | mean PSNR | render flicker | source flicker | ratio | s |")
        print("|---|---|---|---|---|---|---|")
        video()
        return
    settings = SETTINGS[:1] if a.quick else SETTINGS
    print("| image | N | size | PSNR | DCT baseline | gain | s | steps | peak RSS MB | "
          "fast iter ms | dense iter ms | dense/fast |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
    for n, size in settings:
        for name in a.images.split(","):
            png = str(ROOT / "docs" / "img" / f"fit_{name}.png") if (n, size) == (256, 256) \
                else None
            cmd = [sys.executable, __file__, "--one", name, str(n), str(size)]
            if png:
                cmd += ["--png", png]
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if r.returncode != 0:
                print(f"| {name} | {n} | {size} | FAILED: {r.stderr.strip()[-200:]} |")
                continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            rows.append(d)
            print(f"| {name} | {n} | {size} | {d['psnr']:.2f} | {d['dct']:.2f} | "
                  f"{d['psnr'] - d['dct']:+.2f} | {d['seconds']:.1f} | {d['steps']} | "
                  f"{d['peak_rss_mb']:.0f} | {d['fast_iter_ms']:.1f} | {d['dense_iter_ms']:.0f} "
                  f"| {d['dense_iter_ms'] / d['fast_iter_ms']:.0f}x |", flush=True)
    for n, size in settings:
        sel = [d for d in rows if (d["n"], d["size"]) == (n, size)]
        if sel:
            gains = [d["psnr"] - d["dct"] for d in sel]
            print(f"\nN={n} size={size}: mean gain {np.mean(gains):+.2f} dB, min gain "
                  f"{min(gains):+.2f} dB, max seconds {max(d['seconds'] for d in sel):.1f}, "
                  f"max peak RSS {max(d['peak_rss_mb'] for d in sel):.0f} MB")


if __name__ == "__main__":
    main()
