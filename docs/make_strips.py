"""Contact strips over time for every diffusion preset on three photos, made with the project's
own command: `imfit diffuse PHOTO --preset NAME --size S -o DIR` (the preset's default clip),
then 8 frames evenly spaced from the source to the last frame, side by side, one PNG per
preset and photo in docs/img/strips/.

    .venv/bin/python docs/make_strips.py [--size 96] [--presets NAME ...] [--jobs 2]
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


def strip(name: str, photo: str, size: int) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(ROOT / ".venv" / "bin" / "imfit"), "diffuse",
                        str(ROOT / "assets" / photo), "--preset", name, "--size", str(size),
                        "-o", tmp], check=True, capture_output=True)
        files = sorted(Path(tmp).glob("*.png"))
        pick = np.linspace(0, len(files) - 1, 8).round().astype(int)
        frames = [read_image(files[i])[0] for i in pick]
    out = OUT / f"{name}-{photo.split('.')[0]}.png"
    return save_png(np.concatenate(frames, 1), out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--presets", nargs="+", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    names = args.presets or [p.name for p in list_presets() if p.scheme != "poisson"]
    OUT.mkdir(parents=True, exist_ok=True)
    jobs = [(n, ph) for n in names for ph in PHOTOS]
    with ThreadPoolExecutor(args.jobs) as pool:
        for path in pool.map(lambda j: strip(j[0], j[1], args.size), jobs):
            print(path.relative_to(ROOT), flush=True)


if __name__ == "__main__":
    main()
