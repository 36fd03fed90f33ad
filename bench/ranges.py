"""Are a preset's randomise ranges safe? Each preset's default clip (the baseline, in the same
run) and the clips of SEEDS draws from its ranges (`imfit.diffusion.engine.randomise_params`,
what the viewer's x key and `imfit presets NAME --randomise SEED` do), measured with
`imfit.metrics.look_metrics` on photos the tests do not use.

    .venv/bin/python bench/ranges.py [--seeds 1 2 3 4 5 6] [--size 256] [--presets NAME ...]
                                     [--photos chelsea.png hubble_deep_field.jpg]

A draw is safe when its clip is finite and in 0..1, stays readable (>= 0.5, or where the
preset's own values read lower, as classic perona-malik on the cat's fur, at least 3/4 of
theirs), turns at most 2 % of the pixels black, and, where the preset's own values deliver
the look on that photo (every look floor of the issue: dE peak >= 20, drift >= 10, HF >=
0.8), still holds those floors: a draw may vary the look, not lose it. (The classic presets,
perona-malik, cartoon and watercolor, do not aim at those floors: a cartoon with a little
less texture is still one.)
Where the preset breathes (a per-period dE swing of 10 or more, `imfit.metrics.breathing`:
breathe, stipple, engrave), a draw must still breathe.
Each row prints the draw's metrics and what it lost; the last line per preset counts the safe
draws (the ranges are safe when every draw is).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.look import breath_swing, photo  # noqa: E402
from imfit.diffusion.engine import (  # noqa: E402
    diffuse_frames,
    draw_ranges,
    list_presets,
    load_preset,
    randomise_params,
)
from imfit.metrics import LOOK_COLUMNS, LookMetrics, look_metrics  # noqa: E402

# the floors that a look may hold (a draw must keep those its preset holds)
FLOORS = {"dE peak": lambda m: m.peak_de >= 20, "drift": lambda m: m.drift >= 10,
          "HF": lambda m: m.hf >= 0.8}


def held(m: LookMetrics) -> set[str]:
    return {k for k, ok in FLOORS.items() if ok(m)}


def lost(m: LookMetrics, finite: bool, baseline: set[str], swing: float | None,
         breathes: bool, own_read: float) -> list[str]:
    """What a draw lost: stability, readability, black pixels, a floor its preset holds, or
    the breathing its preset has."""
    out = [] if finite else ["not finite / outside 0..1"]
    if breathes and (swing is None or swing < 10):
        out.append("swing < 10")
    if m.readability < min(0.5, 0.75 * own_read):
        out.append(f"readable < {min(0.5, 0.75 * own_read):.2f}")
    if m.black > 0.02:
        out.append("black > 2%")
    out += sorted(baseline - held(m))
    return out


def clip(pr, src):  # noqa: ANN001, ANN201
    """The clip's look metrics, whether every frame is finite and in 0..1, and its breathing
    swing (None where the preset does not re-inject the photo within the clip)."""
    frames = list(diffuse_frames(pr, [src], pr.steps, pr.every))
    finite = all(np.isfinite(f).all() and f.min() >= 0 and f.max() <= 1 for f in frames)
    return look_metrics(frames, src), finite, breath_swing(pr, frames, src)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--presets", nargs="+", default=None)
    ap.add_argument("--photos", nargs="+", default=["chelsea.png", "hubble_deep_field.jpg"])
    args = ap.parse_args()
    names = args.presets or [p.name for p in list_presets() if draw_ranges(p)]
    print("| preset | photo | draw | " + " | ".join(LOOK_COLUMNS) + " | swing | lost | s |")
    print("|---" * (len(LOOK_COLUMNS) + 6) + "|")
    for name in names:
        base = load_preset(name)
        safe = total = 0
        for ph in args.photos:
            src = photo(ph, args.size)
            t = time.perf_counter()
            m0, ok0, sw0 = clip(base, src)
            breathes = sw0 is not None and sw0 >= 10
            keep = held(m0)
            keep = keep if keep == set(FLOORS) else set()
            print(f"| {name} | {ph.split('.')[0]} | default | " + " | ".join(m0.row())
                  + f" | {sw0 or 0:.1f} | holds {', '.join(sorted(keep)) or 'no floor'}"
                  + (", breathes" if breathes else "")
                  + ("" if ok0 else "; NOT FINITE") + f" | {time.perf_counter() - t:.0f} |",
                  flush=True)
            for seed in args.seeds:
                pr = randomise_params(base, seed)
                t = time.perf_counter()
                m, ok, sw = clip(pr, src)
                why = lost(m, ok, keep, sw, breathes, m0.readability)
                safe += not why
                total += 1
                drawn = ", ".join(f"{k} {pr.params[k]:.3g}" for k in sorted(draw_ranges(base)))
                print(f"| {name} | {ph.split('.')[0]} | {seed}: {drawn} | " + " | ".join(m.row())
                      + f" | {sw or 0:.1f} | {'; '.join(why) or '-'} | "
                      f"{time.perf_counter() - t:.0f} |",
                      flush=True)
        print(f"| {name} | | **{safe}/{total} draws safe** | " + " | " * (len(LOOK_COLUMNS) + 1)
              + " |", flush=True)


if __name__ == "__main__":
    main()
