"""How much edits and morph matching cost next to rendering the frame they feed.

Baselines run in the same process: each figure is a ratio to rendering one frame of the same
set with the torch renderer at 256x256, so the numbers travel between machines.

    .venv/bin/python bench/edit.py [--n 256] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import random_params  # noqa: E402

import imfit  # noqa: E402
from imfit import GaborSet  # noqa: E402
from imfit.edit.morph import match  # noqa: E402
from imfit.edit.syntax import apply_ops, parse_ops  # noqa: E402


def best(fn, repeat: int) -> float:
    """Best of `repeat` wall-clock runs (the machine may be shared; the minimum is the cost)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256, help="wavelets per set")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    a = GaborSet(random_params(args.n, seed=1), 256, 256)
    b = GaborSet(random_params(args.n, seed=2), 256, 256)
    render = best(lambda: imfit.render(a), args.repeat)
    print(f"baseline: torch render of {args.n} wavelets at 256x256: {render * 1e3:.1f} ms")
    chains = {
        "typical timeline frame (scale hue spin)": "scale:size=1.3 hue:deg=40 spin:deg=10",
        "kaleido:n=6 (12x the wavelets)": "kaleido:n=6",
        "palette:colors=navy+orange+white": "palette:colors=navy+orange+white",
        "jitter + sort + topk": "jitter:pos=0.02,deg=5 sort:by=x topk:k=100",
    }
    for name, text in chains.items():
        ops = parse_ops([text])
        t = best(lambda ops=ops: apply_ops(a, ops), args.repeat)
        print(f"{name:<42} {t * 1e3:8.2f} ms  = {t / render:8.1e} x render")
    t = best(lambda: match(a, b), args.repeat)
    print(f"{'morph matching (optimal assignment)':<42} {t * 1e3:8.2f} ms  = "
          f"{t / render:8.1e} x render (once per morph)")
    m = match(a, b)
    t = best(lambda: m.at(0.37), args.repeat)
    print(f"{'morph interpolation, per frame':<42} {t * 1e3:8.2f} ms  = {t / render:8.1e} x render")
    print(f"(numpy {np.__version__}; best of {args.repeat})")


if __name__ == "__main__":
    main()
