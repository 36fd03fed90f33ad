"""Generated video clips for the video-mode tests: real photos (assets/) seen through a window
that pans across them, so neighbouring frames are alike as in a video, joined by scene cuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def pan(photo: str, n: int, step: int, size: tuple[int, int] = (96, 64),
        start: int = 0) -> list[Image.Image]:
    """`n` frames of `size`: a window of 2/3 the photo's width moving `step` photo pixels to
    the right per frame (a camera pan), scaled down to `size`."""
    img = Image.open(ASSETS / photo).convert("RGB")
    w, h = size
    cw = img.width * 2 // 3
    ch = cw * h // w
    top = (img.height - ch) // 2
    return [img.crop((start + k * step, top, start + k * step + cw, top + ch))
            .resize(size, Image.Resampling.BOX) for k in range(n)]


def scaled(frame: Image.Image, gain: float) -> Image.Image:
    """`frame` with every value times `gain` (a fade or a flash of light)."""
    return Image.fromarray(np.clip(np.asarray(frame, np.float32) * gain + 0.5, 0, 255)
                           .astype(np.uint8))


def save(frames: list[Image.Image], folder: Path, prefix: str = "f") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{prefix}{i:03d}.png" for i in range(len(frames))]
    for f, p in zip(frames, paths):
        f.save(p)
    return paths
