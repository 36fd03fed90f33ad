"""Contact strips over time for every diffusion preset on three photos, made with the project's
own command: `imfit diffuse PHOTO --preset NAME --size S -o DIR` (the preset's default clip),
then 8 frames evenly spaced from the source to the last frame, side by side, one PNG per
preset and photo in docs/img/strips/. With `--randomise SEED ...`: for each preset and seed,
`imfit presets NAME --randomise SEED -o NAME-rSEED.json` (the viewer's x key, pressed SEED
times) and the strip of that preset file on chelsea, in docs/img/randomise/.

    .venv/bin/python docs/make_strips.py [--size 96] [--presets NAME ...] [--jobs 2]
                                         [--randomise 1 2 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imfit.diffusion.engine import list_presets  # noqa: E402
from imfit.formats.images import read_image, save_png  # noqa: E402

PHOTOS = ("astronaut.png", "chelsea.png", "hubble_deep_field.jpg")
OUT = ROOT / "docs" / "img" / "strips"
RANDOM_OUT = ROOT / "docs" / "img" / "randomise"
IMFIT = str(ROOT / ".venv" / "bin" / "imfit")


def strip(name: str, photo: str, size: int, seed: int | None = None) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        preset, out = name, OUT / f"{name}-{photo.split('.')[0]}.png"
        if seed is not None:
            preset = str(Path(tmp) / f"{name}-r{seed}.json")
            subprocess.run([IMFIT, "presets", name, "--randomise", str(seed), "-o", preset],
                           check=True, capture_output=True)
            out = RANDOM_OUT / f"{name}-r{seed}-{photo.split('.')[0]}.png"
        frames_dir = Path(tmp) / "frames"
        subprocess.run([IMFIT, "diffuse", str(ROOT / "assets" / photo), "--preset", preset,
                        "--size", str(size), "-o", str(frames_dir)], check=True,
                       capture_output=True)
        files = sorted(frames_dir.glob("*.png"))
        pick = np.linspace(0, len(files) - 1, 8).round().astype(int)
        frames = [read_image(files[i])[0] for i in pick]
    return save_png(np.concatenate(frames, 1), out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--presets", nargs="+", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--randomise", type=int, nargs="+", default=None, metavar="SEED")
    args = ap.parse_args()
    names = args.presets or [p.name for p in list_presets() if p.scheme != "poisson"]
    OUT.mkdir(parents=True, exist_ok=True)
    RANDOM_OUT.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, str, int | None]] = (
        [(n, "chelsea.png", s) for n in names for s in args.randomise] if args.randomise
        else [(n, ph, None) for n in names for ph in PHOTOS])
    with ThreadPoolExecutor(args.jobs) as pool:
        for path in pool.map(lambda j: strip(j[0], j[1], args.size, j[2]), jobs):
            print(path.relative_to(ROOT), flush=True)


if __name__ == "__main__":
    main()
