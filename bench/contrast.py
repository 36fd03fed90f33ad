"""Tonal contrast of a preset's clip: the standard deviation of CIELAB L* of the peak frame
(the frame of largest mean dE to the source, as in imfit.metrics.look_metrics) over the
source's, and of the last frame. Above 1 the look adds contrast (engrave: ink lines and
paper); below 1 it flattens tones (watercolor's washes). Then the pigment rims at the same two
frames: imfit.metrics.edge_darkening, the mean L* change in a band along the source's edges
minus the mean L* change elsewhere (negative: edges darkened more than the washes, what
watercolor's `rim` is for).

    .venv/bin/python bench/contrast.py [--sizes 256] [--presets engrave watercolor]
        [--set rim=0]   (override a preset parameter, e.g. watercolor without its rims)

Same photos and clips as bench/look.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from look import PHOTOS, photo  # noqa: E402

from imfit.diffusion.engine import diffuse_frames, load_preset  # noqa: E402
from imfit.jobs import parse_overrides  # noqa: E402
from imfit.metrics import edge_darkening, look_metrics, srgb_to_lab  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256])
    ap.add_argument("--presets", nargs="+", default=["engrave", "watercolor"])
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                    help="override a preset parameter (e.g. rim=0: watercolor without rims)")
    args = ap.parse_args()
    overrides = parse_overrides(args.sets)  # the CLI's --set parser (JSON values)
    print("| preset | photo | size | L* std source | peak / source | last / source | "
          "rims peak | rims last |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.presets:
        pr = load_preset(name)
        if overrides:
            pr = pr.with_params(**overrides)
        for ph in PHOTOS:
            for size in args.sizes:
                src = photo(ph, size)
                frames = list(diffuse_frames(pr, [src], pr.steps, pr.every))
                peak = look_metrics(frames, src).peak_frame
                s0 = float(srgb_to_lab(src)[..., 0].std())
                r = [float(srgb_to_lab(frames[i])[..., 0].std()) / s0 for i in (peak, -1)]
                rims = [edge_darkening(frames[i], src) for i in (peak, -1)]
                h, w = src.shape[:2]
                print(f"| {name} | {ph.split('.')[0]} | {w}x{h} | {s0:.1f} | {r[0]:.2f} | "
                      f"{r[1]:.2f} | {rims[0]:+.2f} | {rims[1]:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
