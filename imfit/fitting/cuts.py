"""Scene cuts in a sequence of frames, found before any fit: where video keyframes go.

A video frame between keyframes starts from the previous frame's fit (a warm start). Across a
scene cut that start describes another picture, so the first frame of the new scene is better
fitted from scratch, and a segment (the frames from one keyframe to the next, one chain of
tasks on a cluster) should begin there. `keyframe_flags` places keyframes at every cut plus at
least every `keyframes` frames; `imfit.fitting.modes.plan` calls it, so the single-process and
the cluster runs share one plan.

The rule (its numbers are the constants below, all in one place):

- Each frame is read as a THUMB x THUMB colour thumbnail (streamed: one frame decoded at a
  time, JPEGs at a reduced size; only two thumbnails and two numbers per frame are kept), with
  each channel's mean removed and divided by the thumbnail's contrast (its standard deviation,
  at least CONTRAST_FLOOR). A fade, an exposure step or a flicker of the light scales or shifts
  the values; what is left is the picture's structure, which a cut replaces.
- d(a, b) is the mean absolute difference of two thumbnails, at the best of the shifts of up to
  SHIFT thumbnail pixels (a camera move or shake of that much costs nothing; a pan of the
  astronaut photo by 1/100 of its width per frame gives d ~ 0.11, a cut ~ 0.95, a frame
  against an unrelated photo ~ 0.8..1.0, measured on assets/). The clip's typical change
  at frame i is the median of d(j-1, j) over the WINDOW frames on each side (a camera move or
  a busy scene has a high typical change; a median is not pulled up by a few cuts or flashes).
- Frame i is a cut when the picture changed between frame i-1 and frame i and the change holds:
  d(i-1, i), d(i-2, i) and d(i-1, i+1) all exceed max(MIN_JUMP, RATIO x typical). One frame
  of a flash (or a single corrupt-looking frame) fails the check on d(i-1, i+1) at the flash
  (the frame after it looks like the one before) and on d(i-2, i) at the frame after it; a
  pan, however fast, changes each frame about as much as its neighbours do (ratio near 1);
  MIN_JUMP keeps a still shot (typical change 0) from cutting where a small thing moves.
  A cut at the clip's first frames or last frame is judged on the distances that exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from imfit.errors import ImfitError

THUMB = 32  # thumbnail side in pixels: structure survives, noise and small motion average out
MIN_JUMP = 0.3  # a floor on the change at a cut (in units of the frames' contrast)
CONTRAST_FLOOR = 0.02  # a frame darker or flatter than this is not stretched further
RATIO = 3.0  # a cut's change is this many times the clip's typical frame-to-frame change
SHIFT = 2  # thumbnail pixels a frame may move against the last (a pan or a shake)
WINDOW = 6  # frames on each side whose changes set the typical change
CUT_MODES = ("auto", "off")
_PLAIN_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr")


def thumbnail(path: Path) -> np.ndarray:
    """`path` as a (THUMB, THUMB, 3) float32 thumbnail, each channel's mean removed, divided by
    its contrast (the module docstring says why).

    Pillow decodes a JPEG at 1/2..1/8 of its size when asked (`draft`) and other formats in
    full, one frame at a time; pictures Pillow reads in unusual modes (16-bit, float) go
    through imfit's own reader so their values are scaled as a fit would see them."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from imfit.formats.images import MAX_PIXELS, read_image, resize_area

    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImfitError(f"{path}: image is {w}x{h}, larger than the "
                                 f"{MAX_PIXELS // 1_000_000} megapixel limit")
            if im.mode in _PLAIN_MODES:
                im.draft("RGB", (THUMB * 2, THUMB * 2))
                if im.getexif().get(0x0112, 1) != 1:  # copies the frame: only when turned
                    im = ImageOps.exif_transpose(im, in_place=False)
                if im.mode != "RGB":
                    im = im.convert("RGB")
                a = np.asarray(im.resize((THUMB, THUMB), Image.Resampling.BOX),
                               np.float32) / 255.0
            else:
                rgb, _ = read_image(path)
                a = resize_area(rgb, THUMB, THUMB)
    except ImfitError:
        raise
    except UnidentifiedImageError:
        raise ImfitError(f"{path}: not an image file, or a format Pillow cannot read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImfitError(f"{path}: corrupt or truncated image ({e})") from None
    a = a - a.mean(axis=(0, 1), keepdims=True)
    return a / max(float(a.std()), CONTRAST_FLOOR)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """The mean absolute difference of `a` and `b` at the best of the shifts of up to SHIFT
    pixels each way (on their overlap): a camera move of that much is compensated, a new
    picture is not."""
    n = a.shape[0]
    best = np.inf
    for dy in range(-SHIFT, SHIFT + 1):
        for dx in range(-SHIFT, SHIFT + 1):
            pa = a[max(0, dy):n + min(0, dy), max(0, dx):n + min(0, dx)]
            pb = b[max(0, -dy):n + min(0, -dy), max(0, -dx):n + min(0, -dx)]
            best = min(best, float(np.abs(pa - pb).mean()))
    return best


def frame_changes(frames: Sequence[Path], progress: Callable[[int], None] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(d1, d2): d1[i] = d(i-1, i), d2[i] = d(i-2, i), NaN where the earlier frame does not
    exist. Reads each frame once, keeping two thumbnails."""
    n = len(frames)
    d1 = np.full(n, np.nan)
    d2 = np.full(n, np.nan)
    back: list[np.ndarray] = []  # the thumbnails of frames i-2 and i-1
    for i, path in enumerate(frames):
        t = thumbnail(path)
        if back:
            d1[i] = _distance(back[-1], t)
        if len(back) == 2:
            d2[i] = _distance(back[0], t)
        back = [*back[-1:], t]
        if progress is not None:
            progress(i + 1)
    return d1, d2


def cuts_from_changes(d1: np.ndarray, d2: np.ndarray) -> list[int]:
    """The frames where a scene cut starts (see the module docstring), from `frame_changes`."""
    n = len(d1)
    cuts: list[int] = []
    for i in range(1, n):
        near = [d1[j] for j in range(max(1, i - WINDOW), min(n, i + WINDOW + 1))
                if j not in (i - 1, i, i + 1)]
        typical = float(np.median(near)) if near else 0.0
        need = max(MIN_JUMP, RATIO * typical)
        # d2[i + 1] is d(i-1, i+1): the frame after the new one still differs from the old scene
        held = [d1[i], d2[i], d2[i + 1] if i + 1 < n else np.nan]
        if all(np.isnan(v) or v > need for v in held):
            cuts.append(i)
    return cuts


def find_cuts(frames: Sequence[Path], show_progress: bool | None = None) -> list[int]:
    """The indices of `frames` (in order) where a scene cut starts; reads every frame, so an
    unreadable one stops here with one line, before any fit. A bar shows for long clips."""
    from tqdm import tqdm

    if show_progress is None:
        show_progress = len(frames) >= 200
    bar = tqdm(total=len(frames), desc="finding scene cuts", unit="frame", leave=False,
               dynamic_ncols=True, disable=not show_progress)
    try:
        d1, d2 = frame_changes(frames, lambda k: bar.update(1))
    finally:
        bar.close()
    return cuts_from_changes(d1, d2)


def keyframe_flags(frames: Sequence[Path], keyframes: int, cuts: str = "auto"
                   ) -> tuple[list[bool], list[bool]]:
    """(is a keyframe, is a scene cut) for each frame: a keyframe at the first frame, at every
    scene cut (with `cuts` "auto"), and wherever `keyframes` frames have passed since the last
    keyframe, so no segment is longer than `keyframes`. With `cuts` "off": frames 0, K, 2K...
    """
    if cuts not in CUT_MODES:
        raise ImfitError(f"unknown --cuts {cuts!r} (use one of {', '.join(CUT_MODES)})")
    if keyframes < 1:
        raise ImfitError(f"--keyframes must be at least 1, got {keyframes}")
    at_cut = set(find_cuts(frames)) if cuts == "auto" and len(frames) > 1 else set()
    key: list[bool] = []
    cut: list[bool] = []
    last = 0
    for i in range(len(frames)):
        is_cut = i in at_cut
        is_key = i == 0 or is_cut or i - last >= keyframes
        if is_key:
            last = i
        key.append(is_key)
        cut.append(is_cut)
    return key, cut


__all__ = ["CUT_MODES", "MIN_JUMP", "RATIO", "THUMB", "WINDOW", "cuts_from_changes",
           "find_cuts", "frame_changes", "keyframe_flags", "thumbnail"]
