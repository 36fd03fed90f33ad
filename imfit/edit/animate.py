"""Animations of one fit: steady drift (optionally a seamless loop) and keyframe timelines.

A loop of F frames at `fps` lasts T = F / fps seconds and shows times 0, 1/fps, ..., (F-1)/fps;
the frame after the last would be time T. If every drift rate turns a whole number of times in
T, the set at T equals the set at 0, so the last frame steps into the first exactly like any
other pair of neighbours. `--loop` snaps each rate to the nearest whole number of turns (never to
zero: a drift the user asked for stays visible).

Timeline file (JSON, documented in docs/timeline.md):

    {"keys": [{"at": 0, "edits": "scale:size=1 hue:deg=0"},
              {"at": 2, "edits": "scale:size=1.5 hue:deg=180"}],
     "ease": "smooth"}

Between keys the numbers of the same ops interpolate; with `loop` the last key wraps to the first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imfit import validate
from imfit.edit import ops as edit
from imfit.edit.easing import EASES
from imfit.edit.easing import ease as ease_at
from imfit.edit.syntax import Op, apply_ops, lerp_ops, parse_ops
from imfit.errors import ImfitError
from imfit.formats.gabor_json import load_json
from imfit.model.gaborset import GaborSet


def check_frames(frames: int, fps: float) -> None:
    """The shared frame-count and frame-rate limits (imfit.validate), before any frame."""
    validate.frame_count(frames, "--frames")
    validate.fps(fps, "--fps")


def loop_rates(rates: Mapping[str, float], frames: int, fps: float) -> dict[str, float]:
    """Each rate (turns per second) moved to the nearest whole number of turns per loop."""
    check_frames(frames, fps)
    period = frames / fps
    out = {}
    for k, r in rates.items():
        turns = round(r * period)
        if turns == 0 and r != 0:
            turns = 1 if r > 0 else -1
        out[k] = turns / period
    return out


@dataclass(frozen=True)
class Key:
    at: float  # seconds
    ops: list[Op]
    ease: str  # how the segment starting at this key moves to the next


@dataclass(frozen=True)
class Timeline:
    """Keyframes of edit chains; `ops_at(t)` gives the chain in effect at time t."""

    keys: list[Key]

    def ops_at(self, t: float, period: float | None = None) -> list[Op]:
        """The ops at time t. Before the first key and after the last, the nearest key holds;
        with `period` (a loop), time wraps and the last key moves on into the first."""
        keys = self.keys
        if len(keys) == 1:
            return keys[0].ops
        if period is not None:
            t = t % period
            if t < keys[0].at:
                t += period
            ext = [*keys, Key(keys[0].at + period, keys[0].ops, keys[0].ease)]
        else:
            if t <= keys[0].at:
                return keys[0].ops
            if t >= keys[-1].at:
                return keys[-1].ops
            ext = keys
        for k0, k1 in zip(ext, ext[1:], strict=False):
            if k0.at <= t < k1.at or (t == k1.at and k1 is ext[-1]):
                span = k1.at - k0.at
                s = 0.0 if span <= 0 else (t - k0.at) / span
                return lerp_ops(k0.ops, k1.ops, ease_at(s, k0.ease))
        return ext[-1].ops

    def end(self) -> float:
        return self.keys[-1].at


def parse_timeline(obj: Any, source: str = "timeline") -> Timeline:
    """Validate a decoded timeline object; every problem is one line naming the key."""
    if not isinstance(obj, dict) or not isinstance(obj.get("keys"), list) or not obj["keys"]:
        raise ImfitError(f"{source}: expected an object with a non-empty \"keys\" list")
    unknown = set(obj) - {"keys", "ease", "comment"}
    if unknown:
        raise ImfitError(f"{source}: unknown field(s) {', '.join(sorted(unknown))}")
    default_ease = obj.get("ease", "smooth")
    if default_ease not in EASES:
        raise ImfitError(f"{source}: ease must be one of {', '.join(EASES)}")
    keys: list[Key] = []
    for i, k in enumerate(obj["keys"]):
        where = f"{source}: key {i}"
        if not isinstance(k, dict) or "at" not in k:
            raise ImfitError(f"{where}: expected {{\"at\": SECONDS, \"edits\": ...}}")
        at = k["at"]
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at) \
                or at < 0:
            raise ImfitError(f"{where}: \"at\" must be seconds >= 0, got {at!r}")
        if keys and at <= keys[-1].at:
            raise ImfitError(f"{where}: keys must be in increasing time order")
        edits = k.get("edits", [])
        if isinstance(edits, str):
            edits = [edits]
        if not isinstance(edits, list) or not all(isinstance(e, str) for e in edits):
            raise ImfitError(f"{where}: \"edits\" must be a string or a list of strings")
        ease = k.get("ease", default_ease)
        if ease not in EASES:
            raise ImfitError(f"{where}: ease must be one of {', '.join(EASES)}")
        try:
            ops = parse_ops(edits)
        except ImfitError as e:
            raise ImfitError(f"{where}: {e}") from None
        keys.append(Key(float(at), ops, ease))
    for i, (a, b) in enumerate(zip(keys, keys[1:], strict=False)):
        try:
            lerp_ops(a.ops, b.ops, 0.0)
        except ImfitError as e:
            raise ImfitError(f"{source}: keys {i} and {i + 1}: {e}") from None
    return Timeline(keys)


def load_timeline(path: str | Path) -> Timeline:
    path = Path(path)
    return parse_timeline(load_json(path, "timeline .json"), str(path))


def animation_sets(gs: GaborSet, frames: int, fps: float = 30.0,
                   rates: Mapping[str, float] | None = None, loop: bool = False,
                   timeline: Timeline | None = None) -> Iterator[GaborSet]:
    """The set of every frame: timeline edits at time t, then t seconds of drift.

    With `loop`, pass rates already snapped by `loop_rates`; the timeline then wraps too.
    """
    check_frames(frames, fps)
    rates = dict(rates or {})
    period = frames / fps if loop else None
    if timeline is not None and loop and timeline.keys[0].at >= frames / fps:
        raise ImfitError(f"the timeline starts at {timeline.keys[0].at:g} s, after the "
                         f"{frames / fps:g} s loop ends")
    for i in range(frames):
        t = i / fps
        out = gs if timeline is None else apply_ops(gs, timeline.ops_at(t, period))
        yield edit.drift(out, t, **rates)


def render_frames(sets: Iterator[GaborSet], render: Callable[..., Any], width: int, height: int,
                  center: tuple[float, float] = (0.0, 0.0), zoom: float = 1.0,
                  progress: Callable[[int], None] | None = None) -> Iterator[Any]:
    """Render each set with `render(gs, w, h, center=, zoom=)` (the CLI's chosen engine)."""
    for i, s in enumerate(sets):
        yield render(s, width, height, center=center, zoom=zoom)
        if progress is not None:
            progress(i + 1)


def describe_rates(rates: Mapping[str, float], frames: int, fps: float) -> str:
    """'phase 0.5 turn/s (2 turns per loop)' for the command's report."""
    period = frames / fps
    return ", ".join(f"{k} {v:g} turn/s ({v * period:g} turns per loop)"
                     for k, v in rates.items()) or "no drift"


def timeline_duration(tl: Timeline, fps: float) -> int:
    """Frames that show the whole timeline once (its last key included); at most the shared
    frame limit, so a key at 1e9 s is refused here instead of rendering for a year."""
    n = max(1, math.floor(tl.end() * validate.fps(fps, "--fps") + 1e-9) + 1)
    if n > validate.MAX_FRAMES:
        raise ImfitError(f"the timeline lasts {tl.end():g} s = {n} frames at {fps:g} fps; at most "
                         f"{validate.MAX_FRAMES} frames")
    return n


__all__ = ["Timeline", "animation_sets", "load_timeline", "loop_rates", "parse_timeline",
           "render_frames"]
