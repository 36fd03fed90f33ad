"""Tempo: tap tempo, and rates snapped to bars so that loops land on the beat.

A drift rate r (turns per second) at `bpm` makes r * bar turns per bar (bar = 4 beats). Snapped,
that is a whole number of turns per bar, or 1/2, 1/4, 1/8 or 1/16 of a turn: the picture comes
back to where it started on a bar line, after 1, 2, 4, 8 or 16 bars.
"""

from __future__ import annotations

import math

from imfit.errors import ImfitError

BEATS_PER_BAR = 4
FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2)
MIN_BPM, MAX_BPM = 20.0, 400.0


def check_bpm(bpm: float) -> float:
    if not (math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
        raise ImfitError(f"bpm must be {MIN_BPM:g}..{MAX_BPM:g}, got {bpm:g}")
    return float(bpm)


def bar_seconds(bpm: float) -> float:
    return BEATS_PER_BAR * 60.0 / bpm


def _grid(limit: float) -> list[float]:
    """Turns per bar a snapped rate may take, 0 and up to `limit`."""
    return [0.0, *FRACTIONS, *range(1, max(2, math.ceil(limit)) + 1)]


def snap_rate(rate: float, bpm: float) -> float:
    """The musical rate (turns/s) nearest `rate` at `bpm` (see the module docstring)."""
    per_bar = abs(rate) * bar_seconds(bpm)
    best = min(_grid(per_bar), key=lambda g: abs(g - per_bar))
    return math.copysign(best / bar_seconds(bpm), rate) if best else 0.0


def step_rate(rate: float, bpm: float, up: bool) -> float:
    """The next musical rate above (or below) `rate`: what a key press does under a tempo."""
    bar = bar_seconds(bpm)
    per_bar = rate * bar
    grid = sorted({-g for g in _grid(abs(per_bar) + 1)} | set(_grid(abs(per_bar) + 1)))
    eps = 1e-9
    if up:
        nxt = next(g for g in grid if g > per_bar + eps)
    else:
        nxt = next(g for g in reversed(grid) if g < per_bar - eps)
    return nxt / bar


def snap_frames(frames: int, fps: float, bpm: float) -> int:
    """A loop length in frames rounded to a whole number of bars (at least one)."""
    bars = max(1, round(frames / fps / bar_seconds(bpm)))
    return max(1, round(bars * bar_seconds(bpm) * fps))


class TapTempo:
    """Taps (times in seconds) -> bpm: the median interval of the last taps; a pause of more
    than two seconds starts a new count."""

    def __init__(self, bpm: float | None = None) -> None:
        self.bpm = None if bpm is None else check_bpm(bpm)
        self.taps: list[float] = []

    def tap(self, t: float) -> float | None:
        if self.taps and t - self.taps[-1] > 2.0:
            self.taps = []
        self.taps = [*self.taps[-7:], t]
        if len(self.taps) >= 2:
            gaps = sorted(b - a for a, b in zip(self.taps, self.taps[1:]))
            mid = gaps[len(gaps) // 2] if len(gaps) % 2 else (
                gaps[len(gaps) // 2 - 1] + gaps[len(gaps) // 2]) / 2
            if mid > 0:
                self.bpm = min(MAX_BPM, max(MIN_BPM, 60.0 / mid))
        return self.bpm
