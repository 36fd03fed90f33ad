"""The look of every diffusion preset, measured against the source (imfit.metrics.look_metrics)
on photos the tests do not use, at several sizes; optionally on other aspect ratios, on the GL
engine, and the memory (RSS, which sees torch's allocations) over a long run.

    .venv/bin/python bench/look.py [--sizes 256 512] [--presets NAME ...] [--aspects]
                                   [--aspects-at 256] [--backend torch|gl]
                                   [--memory 10000 [--memory-size 128]]
                                   [--set NAME=VALUE ...]

Photos: ../shared/data/{chelsea.png (a face), hubble_deep_field.jpg (night, many small
features)} when present, else the small copies in assets/, each brought to the largest size
asked and area-reduced from there to the others (every size is the same picture). Each clip
is the preset's default steps and every (what `imfit diffuse` writes), the source first.
Columns: mean CIELAB dE at the
peak frame, dE between the frames at 1/3 and 2/3 (palette drift), high-frequency energy of the
peak frame / the source's, worst frame's edge-map correlation (readable), new black pixels,
the smallest dE after the first third (how far it breathes back), the peak frame's dE at
native pixels (dE px; the other dE figures are taken at 256 px, as HF and readability) and,
for presets that re-inject the photo, the smallest per-period dE swing
(imfit.metrics.breathing).

Size independence (issue #15 point 2: the same look, metrics within 20 %, at 256, 512 and
1024 px and on a 4:3 and a 16:9 photo): with `--aspects` every size (or those of
`--aspects-at`) also runs on the photo's centre crops to 4:3 and 16:9 at the same scale (the
same photo, another frame shape: `photo()` says why); after each preset and
photo a `max dev` row gives, per metric, the largest relative deviation of any row from the
first one (the first size, full photo), so "within 20 %" is read off, not eyeballed. The black
column deviates in percentage points (it is a fraction near 0).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imfit.diffusion.engine import TorchDiffusion, diffuse_frames, list_presets, load_preset  # noqa: E402
from imfit.formats.images import fit_size, read_image, resize_area  # noqa: E402
from imfit.jobs import parse_overrides  # noqa: E402
from imfit.metrics import LOOK_COLUMNS, LookMetrics, breathing, look_metrics  # noqa: E402

PHOTOS = ("chelsea.png", "hubble_deep_field.jpg")


def photo(name: str, size: int, aspect: float | None = None,
          master: int | None = None, unit: int = 1) -> np.ndarray:
    """The photo, longer side `size`, then centre-cropped to `aspect` (w/h) if given; with
    `master` (>= size) resized to that longer side first and area-reduced from there, so that
    every size is the same picture. Why: resized straight from the original, each size gets its
    own aliasing (PIL's box filter at a non-integer factor): the Hubble field's HF energy at 256
    px was 0.031 from the 1000 px original and 0.016 from a 1024 px copy, which made the HF
    ratio of one look differ by 2x between sizes.

    Why crop after resizing: a crop is then the same pixels at the same scale as the full
    photo's row (a 4:3 crop of the 451x300 chelsea at 256 px is 227x170 of the 256x170
    picture), so its row differs from the full row by the frame shape alone. Cropped first and
    resized to a longer side of 256, the 4:3 crop was the face magnified 1.13x, whose lower
    per-pixel HF energy raised the look's HF ratio by 37 % (a magnification, which the 512 and
    1024 px rows measure on their own).

    `unit`: the master is cropped (centred) to whole multiples of it, so that with unit =
    master / smallest size every size is an exact integer reduction of the master (1024x680,
    512x340, 256x170). Why: at a non-integer factor (447 rows from 224) no picture's area
    average can hold a full-contrast one-pixel pattern where the bins straddle pixels, so the
    HF of an enlarged one-pixel hatch read 27 % low at 512 px for a reason that is the
    resampling's, not the look's (docs/presets.md, "Look size")."""
    for d in (ROOT.parent / "shared" / "data", ROOT / "assets"):
        if (d / name).is_file():
            rgb, _ = read_image(d / name)
            break
    else:
        raise SystemExit(f"{name} not found")
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, -1)
    h, w = rgb.shape[:2]
    if master is not None and master >= size:
        rgb = resize_area(rgb, *fit_size(w, h, master))
        h, w = rgb.shape[:2]
        ch, cw = h // unit * unit, w // unit * unit
        rgb = rgb[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]
        h, w = rgb.shape[:2]
    rgb = resize_area(rgb, *fit_size(w, h, size))
    if aspect is not None:
        h, w = rgb.shape[:2]
        if w / h > aspect:
            cw = round(h * aspect)
            rgb = rgb[:, (w - cw) // 2:(w - cw) // 2 + cw]
        else:
            ch = round(w / aspect)
            rgb = rgb[(h - ch) // 2:(h - ch) // 2 + ch]
    return np.ascontiguousarray(rgb)


def breath_swing(pr, frames: list[np.ndarray], src: np.ndarray) -> float | None:  # noqa: ANN001
    """The clip's breathing swing (imfit.metrics.breathing) at the preset's period in frames;
    None where the preset does not re-inject the photo within the clip."""
    per = pr.params.get("period", 0.0) / (pr.params["dt"] * pr.every)
    if pr.params.get("reinject", 0) > 0 and 2 <= per < len(frames) - 1:
        return breathing(frames, src, per)
    return None


def deviations(rows: list[tuple[LookMetrics, float | None]]) -> list[str]:
    """Per look column (and the swing), the largest |x - x0| / |x0| over the rows, x0 the first
    row's; black in percentage points."""
    def values(m: LookMetrics, swing: float | None) -> list[float | None]:
        return [m.peak_de, m.drift, m.hf, m.readability, 100 * m.black, m.return_de,
                m.peak_de_px, swing]

    first = values(*rows[0])
    out = []
    for i, x0 in enumerate(first):
        xs = [values(*r)[i] for r in rows[1:]]
        if x0 is None or any(x is None for x in xs):
            out.append("-")
        elif i == 4:
            out.append(f"{max(abs(x - x0) for x in xs):.2f} pt")  # type: ignore[operator]
        else:
            out.append(f"{100 * max(abs(x - x0) for x in xs) / max(abs(x0), 1e-9):.0f}%")  # type: ignore[operator]
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--presets", nargs="+", default=None)
    ap.add_argument("--photos", nargs="+", default=list(PHOTOS))
    ap.add_argument("--aspects", action="store_true", help="also 4:3 and 16:9 crops")
    ap.add_argument("--aspects-at", type=int, nargs="+", default=None, metavar="SIZE",
                    help="with --aspects: run the crops at these sizes only (default: all)")
    ap.add_argument("--backend", choices=("torch", "gl"), default="torch")
    ap.add_argument("--memory", type=int, default=0, help="steps of the RSS check (0: skip)")
    ap.add_argument("--memory-size", type=int, default=32, help="longer side of the RSS check")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                    help="override a preset parameter (e.g. look_size=0: native resolution)")
    args = ap.parse_args()
    overrides = parse_overrides(args.sets)  # the CLI's --set parser (JSON values)
    names = args.presets or [p.name for p in list_presets() if p.scheme != "poisson"]
    engine = None
    if args.backend == "gl":
        from viewer.context import headless_context
        from viewer.gl_diffusion import GLDiffusion

        ctx = headless_context()

        def engine(pr, img):  # noqa: ANN001, ANN202
            return GLDiffusion(ctx, pr, img)

    aspects: list[float | None] = [None, 4 / 3, 16 / 9] if args.aspects else [None]
    crop_sizes = set(args.aspects_at or args.sizes)
    shapes = [(s, a) for s in args.sizes for a in aspects if a is None or s in crop_sizes]
    print(f"backend {args.backend}")
    print("| preset | photo | size | " + " | ".join(LOOK_COLUMNS) + " | swing | s |")
    print("|---" * (len(LOOK_COLUMNS) + 5) + "|")
    for name in names:
        pr = load_preset(name)
        if overrides:
            pr = pr.with_params(**overrides)
        for ph in args.photos:
            rows: list[tuple[LookMetrics, float | None]] = []
            for size, aspect in shapes:
                src = photo(ph, size, aspect, master=max(args.sizes),
                            unit=max(1, max(args.sizes) // min(args.sizes)))
                t = time.perf_counter()
                frames = list(diffuse_frames(pr, [src], pr.steps, pr.every, engine))
                m = look_metrics(frames, src)
                h, w = src.shape[:2]
                sw = breath_swing(pr, frames, src)
                del frames
                rows.append((m, sw))
                swing = "-" if sw is None else f"{sw:.1f}"
                shape = "" if aspect is None else (" (4:3)" if aspect < 1.5 else " (16:9)")
                print(f"| {name} | {ph.split('.')[0]} | {w}x{h}{shape} | " + " | ".join(m.row())
                      + f" | {swing} | {time.perf_counter() - t:.0f} |", flush=True)
            if len(rows) > 1:
                print(f"| {name} | {ph.split('.')[0]} | max dev | "
                      + " | ".join(deviations(rows)) + " | |", flush=True)
    if args.memory:
        for name in names:
            eng = TorchDiffusion(load_preset(name), photo(PHOTOS[0], args.memory_size))
            eng.step(100)
            before = rss_mb()
            eng.step(args.memory)
            ok = np.isfinite(eng.image()).all()
            print(f"memory {name}: RSS {before:.1f} MB after 100 steps, {rss_mb():.1f} MB after "
                  f"{args.memory} more ({args.memory_size} px); finite {ok}", flush=True)


if __name__ == "__main__":
    main()
