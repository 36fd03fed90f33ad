"""Writing frame sequences: .mp4 (imageio-ffmpeg, its bundled ffmpeg), .gif (Pillow) or a folder
of numbered PNGs. Used by render --frames, animate, morph and diffuse alike.

Output is written to a temporary name next to the target and renamed at the end, so an
interrupted run never leaves a broken video where a good one was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from imfit.errors import ImfitError

VIDEO_EXTS = (".mp4", ".gif")


# Suffixes that name a single picture or a video format we do not write: frames there would be
# a surprise. Any other name (`out`, `out.d`, `run.2024`) is a folder of PNGs.
NOT_A_FOLDER = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".tga", ".ppm",
                ".mov", ".webm", ".mkv", ".avi", ".m4v", ".json", ".txt")


def output_kind(path: Path) -> str:
    """'mp4', 'gif' or 'dir' (a path without one of those suffixes is a folder of PNGs)."""
    suf = path.suffix.lower()
    if suf in VIDEO_EXTS:
        return suf[1:]
    if suf in NOT_A_FOLDER:
        raise ImfitError(f"{path}: frames go to .mp4, .gif or a folder (got {suf!r})")
    if path.exists() and not path.is_dir():
        raise ImfitError(f"{path} is a file; frames go to .mp4, .gif or a folder")
    return "dir"


def check_output(path: Path, force: bool) -> str:
    """Validate before any work is done, so a long render never fails at the very end."""
    kind = output_kind(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ImfitError(f"folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ImfitError(f"folder {parent} is not writable")
    if path.exists() and not force:
        if kind != "dir" or any(path.iterdir()):
            raise ImfitError(f"{path} exists; pass --force to overwrite it")
    return kind


def write_frames(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float = 30.0,
                 force: bool = False) -> int:
    """Write float (H, W, 3) 0..1 frames; returns the number written.

    Ctrl-C while `frames` is still producing (a long diffusion, say) is not a loss: the frames
    made so far are written, atomically as always, and then `Interrupted` (a KeyboardInterrupt
    carrying that count) is raised for the caller to report.
    """
    from imfit.image import to_uint8

    path = Path(path)
    kind = check_output(path, force)
    if not (fps > 0):
        raise ImfitError(f"--fps must be positive, got {fps}")
    stopped = False

    def guarded(it: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal stopped
        try:
            yield from it
        except KeyboardInterrupt:
            stopped = True

    frames = guarded(frames)
    parent = path.parent if str(path.parent) else Path(".")
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=parent))
    n = 0
    try:
        if kind == "mp4":
            import imageio.v2 as imageio

            tmp = tmpdir / "out.mp4"
            writer = None
            try:
                for f in frames:
                    img = to_uint8(f)
                    if writer is None:
                        # yuv420p needs even sides; pad by one pixel if needed
                        writer = imageio.get_writer(str(tmp), fps=fps, codec="libx264",
                                                    quality=8, macro_block_size=2,
                                                    pixelformat="yuv420p")
                    h, w = img.shape[:2]
                    img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
                    writer.append_data(img)
                    n += 1
            finally:
                if writer is not None:
                    writer.close()
            if n:
                os.replace(tmp, path)
        elif kind == "gif":
            from PIL import Image

            imgs = [Image.fromarray(to_uint8(f)) for f in frames]
            n = len(imgs)
            if n:
                tmp = tmpdir / "out.gif"
                imgs[0].save(tmp, save_all=True, append_images=imgs[1:],
                             duration=max(20, round(1000 / fps)), loop=0, optimize=False)
                os.replace(tmp, path)
        else:
            from PIL import Image

            for f in frames:
                Image.fromarray(to_uint8(f)).save(tmpdir / f"frame_{n:05d}.png")
                n += 1
            if n:
                if path.exists():
                    shutil.rmtree(path)
                umask = os.umask(0)  # mkdtemp makes 0700 folders; outputs get the usual mode
                os.umask(umask)
                os.chmod(tmpdir, 0o777 & ~umask)
                os.replace(tmpdir, path)
                tmpdir = None  # type: ignore[assignment]
    finally:
        if tmpdir is not None and tmpdir.exists():
            shutil.rmtree(tmpdir, ignore_errors=True)
    if stopped:
        raise Interrupted(n)
    if n == 0:
        raise ImfitError("no frames to write")
    return n


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a frame writer after `written` frames were saved."""

    def __init__(self, written: int) -> None:
        super().__init__(written)
        self.written = written


def read_frames(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """Frames of an .mp4/.gif or a folder of images, as float (H, W, 3) 0..1."""
    from imfit.image import read_image

    path = Path(path)
    if path.is_dir():
        from imfit.batch import list_images

        return [read_image(p)[0] for p in list_images(path)]
    if not path.exists():
        raise ImfitError(f"{path}: no such file or folder")
    try:
        import imageio.v2 as imageio

        return [np.asarray(f)[..., :3].astype(np.float32) / 255.0
                for f in imageio.mimread(str(path), memtest=False)]
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad input file
        raise ImfitError(f"{path}: cannot read video ({str(e).splitlines()[0]})") from None
