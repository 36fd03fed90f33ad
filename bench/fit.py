"""Fit quality and speed benchmark (issue targets live here, never in timed tests).

    .venv/bin/python bench/fit.py                 # all images x all settings (~15 min, 2 cores)
    .venv/bin/python bench/fit.py --quick         # 256 wavelets at 256 px only
    .venv/bin/python bench/fit.py --video         # flicker: warm-started video vs independent
    .venv/bin/python bench/fit.py --device cuda   # the GPU targets (issue 14): 1024 wavelets
                                                  # at 512 px end to end, render fps at 1080p

Per image and setting it prints PSNR, the equal-storage DCT baseline computed here, seconds,
steps, peak RSS of the fitting process (each fit runs in its own subprocess), and the time of one
fast iteration against one dense N x 3 x H x W iteration measured in the same run.
Full-size photos come from ../shared/data when present, else the shipped 256 px copies.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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
    ap.add_argument("--device", default="cpu",
                    help="cpu (the table below), or cuda/mps/auto: the GPU targets")
    a = ap.parse_args()
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
