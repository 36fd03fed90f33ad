"""The live Gabor viewer as a Scene: a fit, the view onto it, and keys that edit it live.

Every key goes through the pure functions of `imfit.edit.ops` (`apply_edits` below composes them),
so what you see in the window is exactly what `imfit render` draws for the same settings: the
window test renders `apply_edits(...)` headless and compares.
"""

from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from imfit.edit import ops as edit
from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet
from viewer.gl_render import STRATEGIES, GaborGL

STEP = 1.1  # multiplicative step of the scale keys (sigma, frequency, gain, zoom)
ROTATE_STEP = math.radians(5.0)
DRIFT_STEP = 0.05  # turns per second
BIAS_STEP = 0.02
WATCH_PERIOD = 0.5  # seconds between checks of the watched file


@dataclass(frozen=True)
class Edits:
    """The live knobs; the defaults leave the set untouched."""

    sigma: float = 1.0  # window width multiplier (sigma and gamma together)
    frequency: float = 1.0  # wavelength divided by this
    drift: float = 0.0  # phase drift speed, turns per second
    phase: float = 0.0  # phase travelled so far, turns (drift integrates into it)
    rotation: float = 0.0  # radians, whole field about the origin (clockwise on screen)
    gain: float = 1.0
    bias: float = 0.0  # added to the set's own bias
    count: int | None = None  # strongest wavelets shown; None = all


def apply_edits(gs: GaborSet, e: Edits) -> GaborSet:
    """The set the viewer shows for knobs `e` (pure: the same call the headless test makes)."""
    out = gs
    if e.count is not None and e.count < len(gs):
        out = edit.top_k(out, max(0, e.count))
    if e.sigma != 1.0 or e.frequency != 1.0:
        out = edit.scale(out, sigma=e.sigma, gamma=e.sigma, wavelength=1.0 / e.frequency)
    if e.rotation:
        out = edit.rotate_field(out, e.rotation)
    if e.gain != 1.0:
        out = edit.gain(out, e.gain)
    if e.phase:
        out = edit.shift_phase(out, 2 * math.pi * e.phase)
    if e.bias:
        out = edit.with_bias(out, [b + e.bias for b in gs.bias])
    return out


class GaborScene:
    """A GaborSet on screen: pan/zoom, live edits, file watching, snapshots from a running fit.

    `source` is the .gabor.json it came from (watched and reloaded when it changes; edited
    sets are saved next to it), or None for a set fed by `set_gaborset` (a fit in progress).
    """

    def __init__(self, gs: GaborSet, source: Path | None = None, strategy: str = "billboard",
                 save_dir: Path | None = None) -> None:
        self.base = gs
        self.source = source
        self.save_dir = save_dir or (source.parent if source else Path("."))
        self.strategy = strategy
        self.edits = Edits()
        self.center = (0.0, 0.0)
        self.zoom = 1.0
        self.note = ""
        self._gl: GaborGL | None = None
        self._last_t: float | None = None
        self._pending: GaborSet | None = None
        self._lock = threading.Lock()
        self._mtime = self._stat()
        self._next_watch = WATCH_PERIOD

    # -- state ---------------------------------------------------------------------------------
    def current(self) -> GaborSet:
        """The edited set as shown now."""
        return apply_edits(self.base, self.edits)

    def set_gaborset(self, gs: GaborSet) -> None:
        """Show a new set from the next frame on (thread-safe: the fit worker calls this)."""
        with self._lock:
            self._pending = gs

    def _stat(self) -> float | None:
        try:
            return self.source.stat().st_mtime if self.source else None
        except OSError:
            return None

    def _poll(self, t: float) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self.base = pending
        if self.source is None or t < self._next_watch:
            return
        self._next_watch = t + WATCH_PERIOD
        mtime = self._stat()
        if mtime is None or mtime == self._mtime:
            return
        self._mtime = mtime
        import imfit

        try:
            self.base = imfit.load(self.source)
            print(f"reloaded {self.source} ({len(self.base)} wavelets)", file=sys.stderr)
        except ImfitError as e:  # a half-edited file: keep showing the last good one
            print(f"not reloaded: {e}", file=sys.stderr)

    # -- Scene ---------------------------------------------------------------------------------
    def draw(self, ctx: Any, width: int, height: int, t: float) -> None:
        self._poll(t)
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        if self.edits.drift:
            self.edits = replace(self.edits, phase=(self.edits.phase + self.edits.drift * dt) % 1)
        if self._gl is None or self._gl.ctx is not ctx:
            self._gl = GaborGL(ctx)
        self._gl.draw(self.current(), width, height, self.center, self.zoom, self.strategy)

    def key(self, key: str, shift: bool) -> bool:
        e = self.edits
        down = 1.0 / STEP if shift else STEP
        sign = -1.0 if shift else 1.0
        n = len(self.base)
        if key == "s":
            self.edits = replace(e, sigma=e.sigma * down)
        elif key == "f":
            self.edits = replace(e, frequency=e.frequency * down)
        elif key == "p":
            self.edits = replace(e, drift=round(e.drift + sign * DRIFT_STEP, 6))
        elif key == "r":
            self.edits = replace(e, rotation=e.rotation + sign * ROTATE_STEP)
        elif key == "a":
            self.edits = replace(e, gain=e.gain * down)
        elif key == "b":
            self.edits = replace(e, bias=round(e.bias + sign * BIAS_STEP, 6))
        elif key in ("left_bracket", "right_bracket"):
            shown = n if e.count is None else e.count
            shown = math.floor(shown / 1.25) if key == "left_bracket" else math.ceil(shown * 1.25)
            self.edits = replace(e, count=None if shown >= n else max(1, shown))
        elif key == "t":
            self.strategy = STRATEGIES[(STRATEGIES.index(self.strategy) + 1) % len(STRATEGIES)]
        elif key == "0":
            self.edits, self.center, self.zoom = Edits(), (0.0, 0.0), 1.0
        elif key == "w":
            self.save()
        else:
            return False
        return True

    def drag(self, dx: float, dy: float, width: int, height: int) -> None:
        scale = 2.0 / (self.zoom * height)
        self.center = (self.center[0] - dx * scale, self.center[1] - dy * scale)

    def scroll(self, amount: float, x: float, y: float, width: int, height: int) -> None:
        """Zoom about the cursor: the plane point under it stays put."""
        scale = 2.0 / (self.zoom * height)
        px = self.center[0] + (x - width / 2) * scale
        py = self.center[1] + (y - height / 2) * scale
        self.zoom = min(1e4, max(1e-3, self.zoom * STEP ** amount))
        scale = 2.0 / (self.zoom * height)
        self.center = (px - (x - width / 2) * scale, py - (y - height / 2) * scale)

    def help(self) -> list[tuple[str, str]]:
        return [
            ("drag / wheel", "pan / zoom (beyond the fitted area too)"),
            ("s / S", "wider / narrower windows (sigma x1.1)"),
            ("f / F", "higher / lower frequency (wavelength /1.1)"),
            ("p / P", "phase drift faster / slower (0.05 turns/s; animates)"),
            ("r / R", "rotate the picture 5 degrees clockwise / counter-clockwise"),
            ("a / A", "amplitude gain x1.1 / /1.1"),
            ("b / B", "bias +0.02 / -0.02"),
            ("[ / ]", "fewer / more wavelets (strongest first)"),
            ("t", "strategy: billboard quads <-> full-screen loop"),
            ("0", "reset edits and view"),
            ("w", "save the edited set as a new .gabor.json"),
        ]

    def status(self) -> str:
        e = self.edits
        shown = len(self.base) if e.count is None else min(e.count, len(self.base))
        parts = [f"{shown}/{len(self.base)} wavelets", self.strategy, f"zoom {self.zoom:.2f}"]
        if e.drift:
            parts.append(f"drift {e.drift:+.2f}")
        if self.note:
            parts.append(self.note)
        return " | ".join(parts)

    # -- files ---------------------------------------------------------------------------------
    def save(self) -> Path:
        """Write the edited set to a new `<stem>.edit-NNN.gabor.json` (never overwrites)."""
        import imfit

        stem = self.source.name.removesuffix(".gabor.json") if self.source else "imfit"
        stem = stem.removesuffix(".json").removesuffix(".txt")
        gs = self.current()
        gs = gs.replace(meta={**gs.meta, "edited_from": str(self.source or "live fit"),
                              "edits": {k: v for k, v in vars(self.edits).items()}})
        for i in range(1, 1000):
            path = self.save_dir / f"{stem}.edit-{i:03d}.gabor.json"
            if not path.exists():
                imfit.save(gs, path, overwrite=False)
                print(f"saved {path}", file=sys.stderr)
                return path
        raise ImfitError(f"{self.save_dir}: 999 edited sets already; move some away")
