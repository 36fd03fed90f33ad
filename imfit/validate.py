"""The shared checks on numbers, picture sizes and frame counts, and the limits behind them.

Every command and reader that takes a size, a frame count, a seed or a number from a user calls
these, so a bad value is refused the same way everywhere (one `ImfitError` line) and before any
memory is allocated. The limits are stated in docs/format.md ("Limits"); each says why it is
what it is. `name` is what the caller calls the value (the CLI passes its flag, `--size`; the
library passes a plain word), so library messages carry no flag names of their own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from imfit.errors import ImfitError

# An output picture: a float32 RGB frame of 64 MP is 768 MB, and the renderers hold a few of
# them; 16384 is the largest texture side GL drivers commonly allow.
MAX_SIDE = 16384
MAX_PIXELS = 64_000_000
# The fitter samples wavelet positions with torch.multinomial over the pixels, which takes at
# most 2**24 categories: 4096 x 4096 is exactly that.
MAX_FIT_SIDE = 4096
# About 55 minutes at 30 fps; enough for any animation, and far below "runs for a week".
MAX_FRAMES = 100_000
# Frame rates: a GIF frame lasts at most 655.35 s (a 16-bit count of 1/100 s) and ffmpeg
# refuses time bases much finer than 1/1000 s.
MIN_FPS, MAX_FPS = 0.01, 1000.0
# A wavelet file: a million wavelets take about 150 MB as text.
MAX_WAVELETS = 1_000_000
# Morph pairs wavelets with a dense Na x Nb cost matrix (8 bytes each): 4000 x 4000 is 128 MB
# per matrix, and the assignment solver needs a few of them.
MAX_MORPH_WAVELETS = 4000
# Seeds go to numpy's and torch's generators, which take whole numbers in 0..2**63-1.
MAX_SEED = 2**63 - 1


def number(value: Any, name: str, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False) -> float:
    """A finite real number in [lo, hi] ((lo, hi] with lo_open), else one line naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ImfitError(f"{name} must be a number, got {value!r}") from None
    try:
        v = float(value)
    except OverflowError:
        raise ImfitError(f"{name} is too large, got {str(value)[:20]}...") from None
    if not math.isfinite(v):
        raise ImfitError(f"{name} must be a finite number, got {value!r}")
    low_bad = lo is not None and (v <= lo if lo_open else v < lo)
    if low_bad or (hi is not None and v > hi):
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise ImfitError(f"{name} must be in {'(' if lo_open else '['}{lo_s}, {hi_s}], "
                         f"got {v:g}")
    return v


def whole(value: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """A whole number in [lo, hi]; floats, strings, booleans and NaN are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ImfitError(f"{name} must be a whole number, got {_short(value)}")
    if lo is not None and value < lo:
        raise ImfitError(f"{name} must be at least {lo}, got {_short(value)}")
    if hi is not None and value > hi:
        raise ImfitError(f"{name} must be at most {hi}, got {_short(value)}")
    return int(value)


def seed(value: Any, name: str = "seed") -> int:
    """A random seed: a whole number in 0..2**63-1 (what numpy and torch both accept)."""
    return whole(value, name, 0, MAX_SEED)


def image_size(width: Any, height: Any, name: str = "image size") -> tuple[int, int]:
    """A picture size to allocate: whole sides >= 1, at most MAX_SIDE a side, MAX_PIXELS in all.

    Used for requested sizes (`--size`) and declared ones (a fit file's `image`) alike, so a
    file cannot make imfit allocate what the command line may not.
    """
    w = whole(width, f"{name} width", 1)
    h = whole(height, f"{name} height", 1)
    if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
        raise ImfitError(f"{name} {w}x{h} is too large (at most {MAX_SIDE} a side and "
                         f"{MAX_PIXELS // 1_000_000} megapixels)")
    return w, h


def frame_count(value: Any, name: str = "frame count", lo: int = 1) -> int:
    """How many frames to make: lo..MAX_FRAMES."""
    return whole(value, name, lo, MAX_FRAMES)


def fps(value: Any, name: str = "frame rate") -> float:
    """Frames per second that both GIF and MP4 can store."""
    return number(value, name, MIN_FPS, MAX_FPS)


def frames_output(path: Path, frames: int, width: int, height: int) -> None:
    """Refuse, before any frame is made, an animation no writer should make. Every writer
    streams (ffmpeg's pipe, a GIF frame by frame, PNG files), so memory sets no limit; the
    frame count and the frame size do."""
    frame_count(frames)
    image_size(width, height, "frame size")


def rgb(value: Any, name: str = "colour") -> tuple[float, float, float]:
    """'R,G,B' text or three numbers, each finite and in 0..1."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        parts = list(parts)
    except TypeError:
        raise ImfitError(f"{name} must be R,G,B numbers in 0..1, got {value!r}") from None
    if len(parts) != 3:
        raise ImfitError(f"{name} must be R,G,B numbers in 0..1, got {value!r}")
    out = [number(p.strip() if isinstance(p, str) else p, name, 0.0, 1.0) for p in parts]
    return out[0], out[1], out[2]


def point(value: Any, name: str = "point") -> tuple[float, float]:
    """'X,Y' text or two numbers, both finite."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 2:
        raise ImfitError(f"{name} must be X,Y numbers, got {value!r}")
    x, y = (number(p.strip() if isinstance(p, str) else p, name) for p in parts)
    return x, y


def _short(value: Any) -> str:
    """A value for a message, never 400 digits long."""
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."


__all__ = ["MAX_FIT_SIDE", "MAX_FRAMES", "MAX_MORPH_WAVELETS", "MAX_PIXELS",
           "MAX_SIDE", "MAX_WAVELETS", "fps", "frame_count", "frames_output", "image_size",
           "number", "point", "rgb", "seed", "whole"]
