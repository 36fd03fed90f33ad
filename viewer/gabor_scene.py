"""The live Gabor viewer as a Scene: a fit, the view onto it, and keys that edit it live.

Every key goes through the pure functions of `imfit.edit.ops` (`apply_edits` below composes them),
so what you see in the window is exactly what `imfit render` draws for the same settings: the
window test renders `apply_edits(...)` headless and compares.
"""

from __future__ import annotations

import math
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from imfit.edit.syntax import edit_with_history
from imfit.errors import ImfitError
from imfit.live.knobs import KNOBS, Edits, apply_edits
from imfit.live.params import GABOR_PARAMS, LiveParam
from imfit.live.tempo import snap_rate, step_rate
from imfit.model.gaborset import GaborSet
from viewer.gl_render import STRATEGIES, GaborGL

WATCH_PERIOD = 0.5  # seconds between checks of the watched file
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
        self.bpm: float | None = None  # a tempo (--bpm, tap): drift rates snap to bars
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
            self.set_param("phase", self.edits.phase + self.edits.drift * dt)
        if self._gl is None or self._gl.ctx is not ctx:
            self._gl = GaborGL(ctx)
        self._gl.draw(self.current(), width, height, self.center, self.zoom, self.strategy)

    # -- live parameters (keys, OSC and MIDI all come through here) ---------------------------
    def params(self) -> dict[str, LiveParam]:
        return GABOR_PARAMS

    def value(self, name: str) -> Any:
        """The current value of live parameter `name` (see `imfit.live.params`)."""
        if name in KNOBS:
            return getattr(self.edits, name)
        if name == "zoom":
            return self.zoom
        if name in ("center_x", "center_y"):
            return self.center[name == "center_y"]
        if name == "strategy":
            return self.strategy
        raise ImfitError(f"no live parameter {name!r}")

    def set_param(self, name: str, value: Any) -> Any:
        """Set live parameter `name` (coerced and clamped by the table); returns the value set.
        A wrong type raises ImfitError and changes nothing."""
        v = GABOR_PARAMS[name].coerce(value) if name in GABOR_PARAMS else None
        if name == "drift" and self.bpm is not None:
            v = GABOR_PARAMS[name].coerce(snap_rate(v, self.bpm))
        if name in KNOBS:
            if name == "count" and v >= len(self.base):
                v = 0
            self.edits = replace(self.edits, **{name: v})
        elif name == "zoom":
            self.zoom = v
        elif name == "center_x":
            self.center = (v, self.center[1])
        elif name == "center_y":
            self.center = (self.center[0], v)
        elif name == "strategy":
            self.strategy = v
        else:
            raise ImfitError(f"no live parameter {name!r}")
        return v

    def reset(self) -> None:
        self.edits, self.center, self.zoom = Edits(), (0.0, 0.0), 1.0

    def _step(self, name: str, up: bool) -> None:
        if name == "drift" and self.bpm is not None:
            self.set_param(name, step_rate(self.edits.drift, self.bpm, up))
            return
        self.set_param(name, GABOR_PARAMS[name].stepped(self.value(name), up))

    def key(self, key: str, shift: bool) -> bool:
        by_key = {"s": "sigma", "f": "frequency", "p": "drift", "r": "rotation", "a": "gain",
                  "b": "bias"}
        if key in by_key:
            self._step(by_key[key], not shift)
        elif key in ("left_bracket", "right_bracket"):
            n = len(self.base)
            shown = self.edits.count or n
            shown = math.floor(shown / 1.25) if key == "left_bracket" else math.ceil(shown * 1.25)
            self.set_param("count", min(n, max(1, shown)))
        elif key == "t":
            self.set_param("strategy", STRATEGIES[(STRATEGIES.index(self.strategy) + 1)
                                                  % len(STRATEGIES)])
        elif key == "0":
            self.reset()
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
        self.zoom = self.set_param("zoom", self.zoom * GABOR_PARAMS["zoom"].step ** amount)
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
        shown = min(e.count or len(self.base), len(self.base))
        parts = [f"{shown}/{len(self.base)} wavelets", self.strategy, f"zoom {self.zoom:.2f}"]
        if e.drift:
            parts.append(f"drift {e.drift:+.2f}")
        if self.bpm is not None:
            parts.append(f"{self.bpm:.1f} bpm")
        if self.note:
            parts.append(self.note)
        return " | ".join(parts)

    # -- files ---------------------------------------------------------------------------------
    def save(self) -> Path:
        """Write the edited set to a new `<stem>.edit-NNN.gabor.json` (never overwrites)."""
        import imfit

        stem = self.source.name.removesuffix(".gabor.json") if self.source else "imfit"
        stem = stem.removesuffix(".json").removesuffix(".txt")
        gs = edit_with_history(self.base, self.edits.ops(self.base),
                               edited_from=str(self.source or "live fit"))
        for i in range(1, 1000):
            path = self.save_dir / f"{stem}.edit-{i:03d}.gabor.json"
            if not path.exists():
                imfit.save(gs, path, overwrite=False)
                print(f"saved {path}", file=sys.stderr)
                return path
        raise ImfitError(f"{self.save_dir}: 999 edited sets already; move some away")
