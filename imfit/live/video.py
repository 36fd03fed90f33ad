"""Live video input for the viewer: a clip file or a camera, read as a stream of frames.

`VideoSource` streams a clip through imageio's ffmpeg reader (never the whole clip in memory)
and answers "which frame is on at time t": frame `floor(t * fps)`, looping at the clip's end,
so a window that draws at any rate shows the clip at its own speed, and the test mode (t =
frame / 30) shows frame k of a 30 fps clip on window frame k. `CameraSource` reads a v4l2
camera (`/dev/videoN`) through ffmpeg and always gives the newest frame. Both resize frames so
the longer side is at most `size` pixels (the preset's or the live fit's working size).

Absent inputs fail at once with one line: a missing or undecodable clip, no /dev/videoN.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.formats.images import fit_size, resize_area

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif", ".m4v")


def _as_float(frame: Any, size: int | None) -> np.ndarray:
    img = np.asarray(frame)[..., :3].astype(np.float32) / 255.0
    if size is not None and max(img.shape[:2]) > size:  # shrink only: no detail to invent
        w, h = fit_size(img.shape[1], img.shape[0], size)
        img = resize_area(img, w, h)
    return img


class VideoSource:
    """A clip file as a looping stream: `frame_at(t)` -> (index, float (H, W, 3) 0..1)."""

    def __init__(self, path: str | Path, size: int | None = None) -> None:
        self.path = Path(path)
        self.size = size
        if not self.path.is_file():
            raise ImfitError(f"{self.path}: no such video file")
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise ImfitError(f"{self.path}: not a video file (one of {', '.join(VIDEO_SUFFIXES)})")
        self._open()
        fps = float(self._reader.get_meta_data().get("fps") or 0.0)
        self.fps = fps if math.isfinite(fps) and fps > 0 else 30.0
        self.count: int | None = None  # frames in the clip, known once its end was reached
        self.index = -1
        first = self._next()
        if first is None:
            raise ImfitError(f"{self.path}: the video holds no frames")
        self.current = first
        self.index = 0

    def _open(self) -> None:
        try:
            import imageio.v2 as imageio

            self._reader = imageio.get_reader(str(self.path), "ffmpeg")
            self._iter = iter(self._reader)
        except Exception as e:  # noqa: BLE001 - any decoder failure is a bad input file
            raise ImfitError(f"{self.path}: cannot read video "
                             f"({(str(e).splitlines() or [type(e).__name__])[0]})") from None

    def _next(self) -> np.ndarray | None:
        try:
            return _as_float(next(self._iter), self.size)
        except StopIteration:
            return None
        except Exception as e:  # noqa: BLE001 - a corrupt frame mid-clip ends the clip here
            print(f"video: {self.path}: frame {self.index + 1} unreadable ({e}); looping",
                  file=sys.stderr)
            return None

    def wanted(self, t: float) -> int:
        """The frame number on at time t (seconds since the start), looping."""
        k = math.floor(t * self.fps + 1e-6)
        return k % self.count if self.count else k

    def frame_at(self, t: float) -> tuple[int, np.ndarray]:
        """(frame number, frame) on at time `t`; reads forward (skipping frames a slow window
        missed) and reopens the clip when it loops."""
        want = self.wanted(t)
        if want < self.index:  # looped: start again
            self._reader.close()
            self._open()
            self.index = -1
        while self.index < want:
            f = self._next()
            if f is None:  # the end: now the length is known
                self.count = self.index + 1
                return self.frame_at(t)
            self.current, self.index = f, self.index + 1
        return self.index, self.current

    def close(self) -> None:
        self._reader.close()


def check_sources(fit: Path | None, video: Path | None, camera: int | None) -> None:
    """One picture source for `imfit view`: a fit (or picture), a clip or a camera, said in
    one line before the display check and the viewer's imports."""
    if fit is not None and (video is not None or camera is not None):
        raise ImfitError("give FIT or --video/--camera, not both")
    if video is not None and camera is not None:
        raise ImfitError("give --video FILE or --camera N, not both")
    if camera is not None:
        check_camera(camera)


def check_camera(device: int) -> Path:
    """The camera's device node, or one ImfitError line at once (cli.py calls this before the
    viewer's imports, which take seconds)."""
    node = Path(f"/dev/video{device}")
    if device < 0:
        raise ImfitError(f"--camera takes a camera number (0 is /dev/video0), got {device}")
    if not sys.platform.startswith("linux"):
        raise ImfitError("--camera reads v4l2 cameras (Linux); use --video FILE here")
    if not node.exists():
        raise ImfitError(f"no camera {device}: {node} does not exist (use --video FILE)")
    return node


class CameraSource:
    """A v4l2 camera through ffmpeg: `frame_at(t)` gives the newest frame (numbered)."""

    def __init__(self, device: int, size: int | None = None) -> None:
        self.size = size
        node = check_camera(device)
        try:
            import imageio.v2 as imageio

            self._reader = imageio.get_reader(f"<video{device}>", "ffmpeg")
            self.current = _as_float(self._reader.get_next_data(), size)
        except Exception as e:  # noqa: BLE001 - busy, no permission, not a capture device
            raise ImfitError(f"camera {device} ({node}) cannot be read "
                             f"({(str(e).splitlines() or [type(e).__name__])[0]})") from None
        self.index = 0
        self.fps = 30.0

    def frame_at(self, t: float) -> tuple[int, np.ndarray]:
        try:
            self.current = _as_float(self._reader.get_next_data(), self.size)
            self.index += 1
        except Exception as e:  # noqa: BLE001 - unplugged mid-show: keep the last frame
            print(f"camera: no new frame ({e})", file=sys.stderr)
        return self.index, self.current

    def close(self) -> None:
        self._reader.close()


def open_source(video: Path | None, camera: int | None, size: int | None) -> Any:
    """The source for `--video FILE` or `--camera N` (one of them), checked now."""
    if video is not None and camera is not None:
        raise ImfitError("give --video FILE or --camera N, not both")
    if camera is not None:
        return CameraSource(camera, size)
    assert video is not None
    return VideoSource(video, size)
