"""Writing frame sequences: .mp4 (the ffmpeg imageio-ffmpeg bundles), .gif (streamed, frame by
frame, each encoded by Pillow) or a folder of numbered PNGs. Used by render --frames, animate,
morph, diffuse and the viewer's recorder.

Everything goes through one `imfit.formats.files.Transaction`: frames are encoded into temp
files beside the target and put in place only when complete (the encoder's exit status checked),
so a failed encoder, a full disk or Ctrl-C never leaves a broken video where a good one was. A
frames folder only ever loses frame files imfit wrote there; a folder holding anything else is
refused.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np

from imfit.errors import ImfitError
from imfit.formats.files import (
    TEMP_RE,
    Interrupted,
    Transaction,
    check_output_folder,
    free_stem,
    interrupts_deferred,
    refuse_existing,
)

__all__ = ["Interrupted", "check_output", "output_kind", "read_frames", "write_frames"]

VIDEO_EXTS = (".mp4", ".gif")
FRAME_RE = re.compile(r"frame_\d{5,}\.png")  # the only files imfit writes into a frames folder
# GIF stores each frame's delay in 1/100 s in 16 bits: slower than this cannot be written
GIF_MIN_FPS = 100 / 65535


# Suffixes that name a single picture or a video format we do not write: frames there would be
# a surprise. Any other name (`out`, `out.d`, `run.2024`) is a folder of PNGs.
NOT_A_FOLDER = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".tga", ".ppm",
                ".mov", ".webm", ".mkv", ".avi", ".m4v", ".json", ".txt")


def output_kind(path: Path) -> str:
    """'mp4', 'gif' or 'dir' (a path without one of those suffixes is a folder of PNGs)."""
    suf = path.suffix.lower()
    if suf in VIDEO_EXTS:
        return suf[1:]
    if suf in NOT_A_FOLDER and not path.is_dir():
        raise ImfitError(f"{path}: frames go to .mp4, .gif or a folder (got {suf!r})")
    if path.exists() and not path.is_dir():
        raise ImfitError(f"{path} is a file; frames go to .mp4, .gif or a folder")
    return "dir"


def _frame_files(folder: Path) -> list[Path]:
    """imfit's frame files in `folder`; a one-line refusal if it holds anything else (the input
    photo, a working directory...), since --force may only ever replace what imfit wrote."""
    frames, other = [], []
    for p in folder.iterdir():
        if FRAME_RE.fullmatch(p.name) and p.is_file():
            frames.append(p)
        elif not TEMP_RE.fullmatch(p.name):
            other.append(p.name)
    if other:
        more = f" and {len(other) - 1} more" if len(other) > 1 else ""
        raise ImfitError(f"{folder} holds files imfit did not write ({sorted(other)[0]}{more}); "
                         "frames go to a new or empty folder, or one holding only "
                         "frame_NNNNN.png files")
    return sorted(frames)


def check_output(path: Path, force: bool, fps: float | None = None) -> str:
    """Validate before any work is done, so a long render never fails at the very end."""
    path = Path(path)
    kind = output_kind(path)
    if kind == "dir":
        if path.exists() and not path.is_dir():
            raise ImfitError(f"{path} is a file; frames go to .mp4, .gif or a folder")
        if path.is_dir():
            refuse_existing([path] if _frame_files(path) else [], force)
            check_output_folder(path, create=False)
        else:
            check_output_folder(path, create=True)
    else:
        if path.is_dir():
            raise ImfitError(f"{path} is a directory, expected a .{kind} file path")
        refuse_existing([path], force)
        check_output_folder(path.parent if str(path.parent) else Path("."), create=False)
    if fps is not None:
        if not (fps > 0) or fps == float("inf"):
            raise ImfitError(f"--fps must be positive, got {fps:g}")
        if kind == "gif" and fps < GIF_MIN_FPS:
            raise ImfitError(f"--fps {fps:g}: a GIF cannot show a frame longer than 655 s")
    return kind


class _Mp4:
    """Frames piped to ffmpeg (libx264, yuv420p) writing a temp file; its exit status and its
    stderr decide whether the file is kept. ffmpeg runs in its own session so the terminal's
    Ctrl-C reaches only us: we then close its input and it finishes the frames it has."""

    def __init__(self, tx: Transaction, path: Path, fps: float) -> None:
        self.tx, self.path, self.fps = tx, path, fps
        self.tmp = tx.new_temp(path)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()
        self.size: tuple[int, int] | None = None

    def _start(self, w: int, h: int) -> None:
        from fractions import Fraction

        import imageio_ffmpeg

        rate = Fraction(self.fps).limit_denominator()
        try:
            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except RuntimeError as e:  # no bundled binary and none on PATH
            raise ImfitError(f"no ffmpeg to write {self.path} ({e}); write .gif or a folder "
                             "of PNGs instead") from None
        cmd = [exe, "-y", "-nostdin", "-v", "error",
               "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{w}x{h}", "-pix_fmt", "rgb24",
               "-r", str(rate), "-i", "-", "-an", "-vcodec", "libx264", "-pix_fmt", "yuv420p",
               "-crf", "10", "-f", "mp4", str(self.tmp)]
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=self.log, start_new_session=True)
        except OSError as e:  # IMAGEIO_FFMPEG_EXE names a missing or non-executable file
            raise ImfitError(f"cannot run ffmpeg {cmd[0]} ({e.strerror or e}); "
                             f"{_unchanged(self.path)}") from None
        self.size = (w, h)

    def add(self, img: np.ndarray) -> None:
        h, w = img.shape[:2]
        # yuv420p needs even sides; pad by one pixel if needed
        img = np.ascontiguousarray(np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge"))
        if self.proc is None:
            self._start(img.shape[1], img.shape[0])
        elif (img.shape[1], img.shape[0]) != self.size:
            raise ImfitError(f"frames change size ({self.size} then {img.shape[1::-1]})")
        assert self.proc is not None and self.proc.stdin is not None
        try:
            # a frame cut short by Ctrl-C is dropped by ffmpeg's raw reader (frames are whole)
            self.proc.stdin.write(img.tobytes())
        except OSError:  # a broken pipe: ffmpeg died (full disk, bad rate); its status says why
            self.finish()
            raise ImfitError(f"ffmpeg stopped early while writing {self.path}; "
                             f"{_unchanged(self.path)}") from None

    def finish(self) -> bool:
        """Let ffmpeg end the file; a failure (non-zero status) is one line with its reason.
        Returns whether a Ctrl-C came (and was held back) meanwhile."""
        if self.proc is None:
            return False
        proc, self.proc = self.proc, None
        with interrupts_deferred(reraise=False) as got:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
            except OSError:
                pass
            while True:
                try:
                    rc = proc.wait()
                    break
                except KeyboardInterrupt:  # ffmpeg is finishing the frames so far: let it
                    continue
        if rc != 0:
            raise ImfitError(f"ffmpeg could not write {self.path} ({self._reason(rc)}); "
                             f"{_unchanged(self.path)}")
        return bool(got)

    def _reason(self, rc: int) -> str:
        self.log.seek(0)
        lines = [re.sub(r"^(\[[^]]*\] *)+", "", ln).strip()
                 for ln in self.log.read().decode("utf-8", "replace").splitlines()]
        lines = [ln for ln in lines if ln]
        errs = [ln for ln in lines if "rror" in ln]
        why = (errs or lines or [f"exit status {rc}"])[0]
        return why[:200]

    def close(self) -> None:
        if self.proc is not None:  # an exception cut the run short: stop ffmpeg, drop the file
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class _Gif:
    """Frames appended one at a time to a GIF temp file, so memory does not grow with the frame
    count (Pillow's own multi-frame save holds every frame until it writes). Each frame is
    encoded by Pillow as a one-frame GIF in memory (its adaptive palette, its LZW data), and
    that image block goes into the file with its palette as the frame's local colour table,
    after a graphic control block with the frame's delay. A frame is in the file whole or not
    at all: a Ctrl-C or a failure during its write cuts the file back to the frame before."""

    def __init__(self, tx: Transaction, path: Path, fps: float) -> None:
        self.path = path
        self.delay = max(2, round(100 / fps))  # in 1/100 s, as GIF stores it (browsers: >= 2)
        self.tmp = tx.new_temp(path)
        self.file: IO[bytes] | None = open(self.tmp, "r+b", buffering=0)  # noqa: SIM115
        self.size: tuple[int, int] | None = None

    def add(self, img: np.ndarray) -> None:  # (H, W, 3) uint8
        h, w = img.shape[:2]
        block = _gif_frame(img, self.delay)  # may be interrupted: nothing written yet
        head = b""
        if self.size is None:
            head, self.size = _gif_header(w, h), (w, h)
        elif (w, h) != self.size:
            raise ImfitError(f"frames change size ({self.size} then {(w, h)})")
        self._append(head + block)

    def _append(self, data: bytes) -> None:
        f = self.file
        assert f is not None
        start = f.tell()
        try:
            view = memoryview(data)
            while view:
                k = f.write(view)
                view = view[k or 0:]
        except BaseException as e:
            os.ftruncate(f.fileno(), start)
            f.seek(start)
            if isinstance(e, OSError):
                raise ImfitError(f"cannot write {self.path} ({e.strerror or e}); "
                                 f"{_unchanged(self.path)}") from None
            raise

    def finish(self) -> None:
        """The trailer; the file is then complete (staged and fsynced by the transaction)."""
        if self.size is not None:
            self._append(b";")
        self.close()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _gif_header(w: int, h: int) -> bytes:
    """GIF89a, a logical screen of w x h without a global colour table (every frame brings
    its own), and the NETSCAPE2.0 block that makes viewers loop forever."""
    import struct

    screen = struct.pack("<HHBBB", w, h, 0x70, 0, 0)  # no global table, 8-bit colour
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00"
    return b"GIF89a" + screen + loop


def _gif_frame(img: np.ndarray, delay: int) -> bytes:
    """One frame's blocks: graphic control (delay), image descriptor with a local colour
    table, LZW data; cut out of the one-frame GIF Pillow writes for `img`."""
    import io
    import struct

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="GIF")
    data = buf.getvalue()
    packed, pos = data[10], 13
    table, bits = b"", 0
    if packed & 0x80:
        bits = packed & 7
        table = data[pos:pos + (3 << (bits + 1))]
        pos += len(table)

    def skip_sub_blocks(i: int) -> int:
        while data[i]:
            i += data[i] + 1
        return i + 1

    while data[pos] == 0x21:  # extensions Pillow may add (comment, transparency): dropped
        pos = skip_sub_blocks(pos + 2)
    if data[pos] != 0x2C:  # pragma: no cover - Pillow always writes an image block
        raise ImfitError("internal error: Pillow wrote a GIF without an image")
    desc = bytearray(data[pos:pos + 10])
    pos += 10
    if desc[9] & 0x80:  # Pillow gave the frame its own table already
        bits = desc[9] & 7
        table = data[pos:pos + (3 << (bits + 1))]
        pos += len(table)
    desc[9] = (desc[9] & 0x40) | 0x80 | bits  # keep interlacing; the palette goes local
    lzw = data[pos:skip_sub_blocks(pos + 1)]
    control = b"\x21\xf9\x04\x04" + struct.pack("<H", delay) + b"\x00\x00"
    return control + bytes(desc) + table + lzw


def _unchanged(path: Path) -> str:
    return f"{path} was left as it was" if os.path.lexists(path) else "nothing was written"


def write_frames(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float = 30.0,
                 force: bool = False) -> int:
    """Write float (H, W, 3) 0..1 frames; returns the number written.

    Ctrl-C is not a loss: wherever it lands (in the producer, a long diffusion say, or inside
    the encoder or a PNG save), the frames made so far are written and then `Interrupted` (a
    KeyboardInterrupt carrying the count and a one-line account) is raised. With `force`, an
    existing output is never replaced by such a partial one: the partial goes beside it as
    `NAME.partial.EXT` (or `NAME.partial/`), and the message says so. A Ctrl-C while the file
    is being finished (ffmpeg closing, the files put in place) is held back
    until the complete output is written.
    """
    from imfit.formats.images import to_uint8

    path = Path(path)
    kind = check_output(path, force, fps)
    n, stopped, final, late = 0, False, path, False
    with Transaction(overwrite=force) as tx:
        if kind == "dir":
            tx.make_folder(path)
        mp4 = _Mp4(tx, path, fps) if kind == "mp4" else None
        gif = _Gif(tx, path, fps) if kind == "gif" else None
        pngs: list[Path] = []
        try:
            it = iter(frames)
            while True:
                try:
                    img = to_uint8(next(it))
                except StopIteration:
                    break
                except KeyboardInterrupt:
                    stopped = True
                    break
                try:
                    if mp4 is not None:
                        mp4.add(img)
                    elif gif is not None:
                        gif.add(img)
                    else:
                        pngs.append(_png_temp(tx, path / f"frame_{n:05d}.png", img))
                except KeyboardInterrupt:  # inside the encoder or a PNG save: this frame is lost
                    stopped = True
                    break
                n += 1
            # the finishing steps (encoder closing, GIF encoding, files put in place) run
            # with Ctrl-C held back: all frames made are written, then it is reported
            with interrupts_deferred(reraise=False) as got:
                final, late = _finish(tx, path, kind, mp4, gif, pngs, n, stopped, force, fps)
            late = late or bool(got)
        finally:
            if mp4 is not None:
                mp4.close()
            if gif is not None:
                gif.close()
    if stopped or late:
        what = "1 frame" if n == 1 else f"{n} frames"
        if not stopped:
            raise Interrupted(n, f"all {what} were written to {path} before stopping")
        verb = "was" if n == 1 else "were"
        where = f"written to {final}" if final == path else \
            f"written to {final}; {path} was kept as it was"
        raise Interrupted(n, f"the {what} made so far {verb} {where}")
    return n


def _finish(tx: Transaction, path: Path, kind: str, mp4: _Mp4 | None, gif: _Gif | None,
            pngs: list[Path], n: int, stopped: bool, force: bool, fps: float
            ) -> tuple[Path, bool]:
    """End the encoder, stage the result under its final name and commit. Returns that name
    and whether a Ctrl-C was raised meanwhile (inside the encoder or Pillow)."""
    late = False
    if mp4 is not None:
        late = mp4.finish()
    if n == 0:
        if stopped:
            raise Interrupted(0, "interrupted before the first frame; nothing was written")
        raise ImfitError("no frames to write")
    final = _partial_path(path, kind) if stopped and force and _has_output(path, kind) \
        else path
    if mp4 is not None:
        tx.stage(final, mp4.tmp)
    elif gif is not None:
        gif.finish()
        tx.stage(final, gif.tmp)
    else:
        if final != path:
            tx.make_folder(final)
        for i, tmp in enumerate(pngs):
            tx.stage(final / f"frame_{i:05d}.png", tmp)
        if final == path:  # frames of an earlier, longer run would join this one
            for old in _frame_files(path):
                if int(old.stem[6:]) >= n:
                    tx.remove(old)
    try:
        tx.commit()
    except KeyboardInterrupt:  # raised once every file was in place
        late = True
    return final, late


def _partial_path(path: Path, kind: str) -> Path:
    """Where a partial result goes when a complete earlier output must be kept."""
    ext = "" if kind == "dir" else path.suffix
    stem = path.name[: len(path.name) - len(ext)]
    return path.with_name(free_stem(_parent(path), stem, (ext,)) + ext)


def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _has_output(path: Path, kind: str) -> bool:
    if kind == "dir":
        return path.is_dir() and bool(_frame_files(path))
    return os.path.lexists(path)


def _png_temp(tx: Transaction, target: Path, img: np.ndarray) -> Path:
    """One frame as a PNG temp file in the frames folder (staged under its name at the end)."""
    from PIL import Image

    tmp = tx.new_temp(target)
    try:
        Image.fromarray(img).save(tmp, format="PNG")
    except OSError as e:
        tx.discard(tmp)
        raise ImfitError(f"cannot write {target} ({e.strerror or e}); "
                         f"{_unchanged(target)}") from None
    except BaseException:
        tx.discard(tmp)
        raise
    return tmp


def read_frames(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """Frames of an .mp4/.gif or a folder of images, as float (H, W, 3) 0..1."""
    from imfit.formats.images import read_image

    path = Path(path)
    if path.is_dir():
        from imfit.formats.images import list_images

        return [read_image(p)[0] for p in list_images(path)]
    if not path.exists():
        raise ImfitError(f"{path}: no such file or folder")
    try:
        import imageio.v2 as imageio

        return [np.asarray(f)[..., :3].astype(np.float32) / 255.0
                for f in imageio.mimread(str(path), memtest=False)]
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad input file
        raise ImfitError(f"{path}: cannot read video ({str(e).splitlines()[0]})") from None
