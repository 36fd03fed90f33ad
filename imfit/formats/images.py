"""Reading and writing pictures: every user file passes through here, so every failure is caught
here and turned into one readable line.

Images become float32 (H, W, 3) arrays in 0..1: grayscale is replicated, 16-bit keeps its
precision (16-bit colour PNGs through pypng, which Pillow reads at 8 bits), palette images are
expanded, EXIF orientation is applied, alpha is either composited on a background or returned
as a weight map.
"""

from __future__ import annotations

import io
import os
import re
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from imfit.errors import ImfitError
from imfit.formats.files import atomic_write, check_output_file, open_input

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".tga", ".ppm")
MAX_PIXELS = 100_000_000  # refuse decompression-bomb sized headers before decoding anything
MIN_SIDE = 4
# what a pipe or device may give as one picture (a regular file is limited by MAX_PIXELS)
MAX_STREAM_BYTES = 512 << 20


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ImfitError(f"{path}: no such file")
    if path.is_dir():
        raise ImfitError(f"{path} is a directory, expected an image file")
    if not os.access(path, os.R_OK):
        raise ImfitError(f"{path}: permission denied")


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode any common picture -> (rgb (H, W, 3) float32 0..1, alpha (H, W) or None)."""
    path = Path(path)
    _check_file(path)
    try:
        with warnings.catch_warnings(), _pillow_limit(MAX_PIXELS):
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            src: Path | io.BytesIO = path
            if not path.is_file():  # a pipe or a device: read once (capped), decode from memory
                with open_input(path) as fp:
                    src = io.BytesIO(fp.read(MAX_STREAM_BYTES + 1))
                if len(src.getbuffer()) > MAX_STREAM_BYTES:
                    raise ImfitError(f"{path}: more than {MAX_STREAM_BYTES >> 20} MB from a "
                                     "pipe or device; not a picture imfit reads")
            with Image.open(src) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImfitError(f"{path}: image is {w}x{h}, larger than the "
                                     f"{MAX_PIXELS // 1_000_000} megapixel limit")
                if _png16_colour(im):
                    if isinstance(src, io.BytesIO):
                        src.seek(0)
                    return _read_png16(src, path, im.getexif().get(_ORIENTATION, 1))
                im = ImageOps.exif_transpose(im)
                im.load()
                return _to_float(im)
    except ImfitError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImfitError(f"{path}: header claims a decompression-bomb size; refused") from None
    except UnidentifiedImageError:
        raise ImfitError(f"{path}: not an image file, or a format Pillow cannot read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImfitError(f"{path}: corrupt or truncated image ({e})") from None


# -- 16-bit colour PNG ---------------------------------------------------------------------------
# Pillow (13) decodes 16-bit RGB, RGBA and grey+alpha PNGs to 8 bits per channel; pypng (pure
# Python, ~5x slower than Pillow) reads them at full precision. 16-bit grey Pillow keeps (I;16).
_PNG16_RAWMODES = ("RGB;16B", "RGBA;16B", "LA;16B")
_ORIENTATION = 0x0112


def _png16_colour(im: Image.Image) -> bool:
    return im.format == "PNG" and bool(im.tile) and im.tile[0].args in _PNG16_RAWMODES


def _read_png16(src: Path | io.BytesIO, path: Path, orientation: int
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """A 16-bit colour PNG -> (rgb, alpha) in 0..1, value / 65535, EXIF orientation applied."""
    import png

    try:
        reader = png.Reader(file=src) if isinstance(src, io.BytesIO) \
            else png.Reader(filename=str(src))
        w, h, rows, info = reader.read()  # raw samples: no sBIT rescaling, unlike asDirect
        planes = int(info["planes"])
        a = np.empty((h, w * planes), np.uint16)
        n = 0
        for y, row in enumerate(rows):
            a[y] = row
            n = y + 1
    except (png.Error, zlib.error, ValueError, IndexError) as e:
        raise ImfitError(f"{path}: corrupt or truncated image ({e})") from None
    if n != h:
        raise ImfitError(f"{path}: corrupt or truncated image ({n} of {h} rows)")
    a = _orient(a.reshape(h, w, planes), orientation)
    f = a.astype(np.float32) / 65535.0
    if planes == 2:  # grey + alpha
        return np.repeat(f[..., :1], 3, -1), f[..., 1]
    if planes == 4:
        return f[..., :3], f[..., 3]
    alpha = None
    key = info.get("transparent")  # tRNS: one colour that is transparent
    if key is not None:
        alpha = np.where((a == np.asarray(key, np.uint16)).all(-1), 0.0, 1.0).astype(np.float32)
    return f, alpha


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:  # (H, W, C)
    """EXIF orientation 1..8 as Pillow's `ImageOps.exif_transpose` applies it."""
    ops = {
        2: lambda x: x[:, ::-1],  # FLIP_LEFT_RIGHT
        3: lambda x: x[::-1, ::-1],  # ROTATE_180
        4: lambda x: x[::-1],  # FLIP_TOP_BOTTOM
        5: lambda x: x.transpose(1, 0, 2),  # TRANSPOSE
        6: lambda x: np.rot90(x, -1),  # ROTATE_270 (Pillow turns counter-clockwise)
        7: lambda x: x[::-1, ::-1].transpose(1, 0, 2),  # TRANSVERSE
        8: lambda x: np.rot90(x, 1),  # ROTATE_90
    }
    op = ops.get(int(orientation) if isinstance(orientation, int) else 1)
    return np.ascontiguousarray(op(a)) if op else a


@contextmanager
def _pillow_limit(pixels: int) -> Iterator[None]:
    """Pillow warns of a bomb above its own 89.5 MP: hold it to our limit while we open, so a
    90 MP photo under our 100 MP limit is read and a larger header still refused."""
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _to_float(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(im, dtype=np.uint16).astype(np.float32) / 65535.0
        return np.repeat(a[..., None], 3, -1), None
    if mode == "I":
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if a.max() > 255 else 255.0
        a = np.clip(a / hi, 0, 1).astype(np.float32)
        return np.repeat(a[..., None], 3, -1), None
    if mode == "F":
        a = np.clip(np.asarray(im, dtype=np.float32), 0, 1)
        return np.repeat(a[..., None], 3, -1), None
    if mode in ("1", "L"):
        a = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        return np.repeat(a[..., None], 3, -1), None
    if mode == "LA":
        a = np.asarray(im, dtype=np.float32) / 255.0
        return np.repeat(a[..., :1], 3, -1), a[..., 1]
    if mode in ("RGBA", "RGBa", "PA"):
        a = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        return a[..., :3], a[..., 3]
    a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return a, None


def resize_area(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Box (area) averaging when shrinking, bicubic when enlarging; float precision kept."""
    h, w = img.shape[:2]
    if (w, h) == (width, height):
        return img.astype(np.float32)
    method = Image.Resampling.BOX if width <= w and height <= h else Image.Resampling.BICUBIC
    chans = img[..., None] if img.ndim == 2 else img
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(chans[..., c]), mode="F")
                               .resize((width, height), method)) for c in range(chans.shape[-1])],
                   -1)
    out = out.astype(np.float32)
    return out[..., 0] if img.ndim == 2 else out


def fit_size(w: int, h: int, size: int) -> tuple[int, int]:
    """(width, height) with the longer side `size`, aspect kept."""
    if w >= h:  # int(x + 0.5), not round(): banker's rounding would make 42.5 -> 42
        return size, max(1, int(h * size / w + 0.5))
    return max(1, int(w * size / h + 0.5)), size


def load_target(path: str | os.PathLike[str], size: int | None = None, alpha: str = "composite",
                background: tuple[float, float, float] = (0.0, 0.0, 0.0),
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """The training target: (rgb (H, W, 3), weight (H, W) or None) at longer side `size`.

    alpha 'composite' blends over `background`; 'weight' keeps the colours and returns alpha as
    a per-pixel weight (transparent pixels then cost nothing to get wrong).
    """
    rgb, a = read_image(path)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImfitError(f"{path}: image is {w}x{h}; it needs at least {MIN_SIDE} pixels a side")
    weight = None
    if a is not None:
        if alpha == "weight":
            weight = a
        else:
            rgb = rgb * a[..., None] + np.asarray(background, np.float32) * (1 - a[..., None])
    if size is not None:
        tw, th = fit_size(w, h, size)
        if min(tw, th) < MIN_SIDE:
            raise ImfitError(f"{path}: {w}x{h} becomes {tw}x{th} at size {size}; too thin")
        rgb = resize_area(rgb, tw, th)
        if weight is not None:
            weight = resize_area(weight, tw, th)
    return np.clip(rgb, 0, 1).astype(np.float32), weight


def load_weight(path: str | os.PathLike[str], width: int, height: int) -> np.ndarray:
    """A weight map (any picture; its luminance), resized to the target; must be the same aspect."""
    rgb, _ = read_image(path)
    h, w = rgb.shape[:2]
    if abs(w / h - width / height) > 0.02:
        raise ImfitError(f"{path}: weight map is {w}x{h}, which does not match the image's "
                         f"aspect ({width}x{height} after resizing)")
    wmap = resize_area(rgb.mean(-1), width, height)
    if not (wmap > 0).any():
        raise ImfitError(f"{path}: weight map is all black (nothing would be fitted)")
    return wmap


def to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _image_format(path: Path) -> str:
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImfitError(f"{path}: unknown image extension {path.suffix!r} (use .png or .jpg)")
    return fmt


def number_key(p: Path) -> tuple[int, str]:
    """Sort by the first number in the name (frame0002 < frame0010), then by name."""
    m = re.search(r"\d+", p.stem)
    return (int(m.group()) if m else -1, p.name)


def list_images(folder: Path) -> list[Path]:
    """The images of a folder in frame order (weight maps `*-wt.*` left out)."""
    if not folder.is_dir():
        raise ImfitError(f"{folder}: not a folder")
    files = [p for p in folder.iterdir()
             if p.is_file() and p.suffix.lower() in IMAGE_EXTS and not p.stem.endswith("-wt")]
    if not files:
        raise ImfitError(f"{folder}: no images in folder")
    return sorted(files, key=number_key)
def check_image_output(path: str | os.PathLike[str], force: bool) -> Path:
    """Before the work: the output picture's extension is one we can write, and the file can
    be written (not there unless `force`, folder writable)."""
    path = Path(path)
    _image_format(path)
    return check_output_file(path, force)


def image_writer(img: np.ndarray, path: str | os.PathLike[str]) -> Callable[[IO[bytes]], None]:
    """A writer for `imfit.formats.files.Transaction.add`: `img` (H, W, 3) 0..1
    encoded by `path`'s suffix (PNG, JPEG...)."""
    fmt = _image_format(Path(path))
    pil = Image.fromarray(to_uint8(img))
    return lambda f: pil.save(f, format=fmt)


def save_png(img: np.ndarray, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """Write a float (H, W, 3) 0..1 image as PNG (or any Pillow format by suffix), atomically."""
    return atomic_write(path, image_writer(img, path), overwrite=overwrite)
