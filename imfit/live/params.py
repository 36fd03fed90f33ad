"""The live parameters: ONE table of what a key, an OSC address, a MIDI control or an audio band
may change in the viewer, with its range, unit and type.

The keys, `/imfit/<name>` OSC messages, MIDI mappings, `imfit view --list-params` and
docs/live.md all read `GABOR_PARAMS` (the wavelet view) and `preset_params` (a diffusion preset's
parameters marked live), so they can never disagree. Values are coerced here once: a wrong type
is an ImfitError (the caller logs it and carries on), a number out of range is clamped, an angle
or a phase wraps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from imfit.errors import ImfitError


@dataclass(frozen=True)
class LiveParam:
    """One live parameter. `step` is the key's step: a factor when `log`, else an increment."""

    name: str
    kind: str  # "float" | "int" | "str"
    lo: float | None
    hi: float | None
    unit: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    keys: str = ""
    step: float = 0.0
    log: bool = False
    wrap: bool = False  # periodic (phase, angle): wraps into [lo, hi) instead of clamping
    rand: tuple[float, float] | None = None  # what randomize draws from (None: left alone)

    def coerce(self, value: Any) -> Any:
        """`value` as this parameter's type, clamped (or wrapped) into its range.

        Raises ImfitError for a value of the wrong type (a string for a number, NaN, a bool).
        """
        if self.kind == "str":
            if not isinstance(value, str) or value not in self.choices:
                raise ImfitError(f"{self.name} takes one of {', '.join(self.choices)}, "
                                 f"got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ImfitError(f"{self.name} takes a number, got {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise ImfitError(f"{self.name} takes a finite number, got {value!r}")
        assert self.lo is not None and self.hi is not None  # numbers always have a range
        if self.wrap:
            v = self.lo + (v - self.lo) % (self.hi - self.lo)
        else:
            v = min(self.hi, max(self.lo, v))
        return round(v) if self.kind == "int" else v

    def stepped(self, value: float, up: bool) -> Any:
        """The value one key press up (or down) from `value`, coerced."""
        if self.log:
            return self.coerce(value * (self.step if up else 1.0 / self.step))
        return self.coerce(round(value + (self.step if up else -self.step), 9))

    def range_text(self) -> str:
        if self.kind == "str":
            return "|".join(self.choices)
        return f"{self.lo:g}..{self.hi:g}"


def _f(name: str, lo: float, hi: float, unit: str, default: float, help: str, keys: str = "",
       step: float = 0.0, log: bool = False, wrap: bool = False,
       rand: tuple[float, float] | None = None) -> LiveParam:
    return LiveParam(name, "float", lo, hi, unit, default, help, (), keys, step, log, wrap, rand)


# The wavelet view's knobs (viewer.gabor_scene): each maps to one imfit.edit.syntax op, see
# Edits.ops.
GABOR_PARAMS: dict[str, LiveParam] = {p.name: p for p in [
    _f("sigma", 0.05, 20.0, "factor", 1.0, "window width (sigma and gamma together)", "s / S",
       1.1, log=True, rand=(0.6, 1.8)),
    _f("frequency", 0.05, 20.0, "factor", 1.0, "stripe frequency (wavelength divided by it)",
       "f / F", 1.1, log=True, rand=(0.6, 1.8)),
    _f("drift", -10.0, 10.0, "turns/s", 0.0, "phase drift speed (animates)", "p / P", 0.05,
       rand=(-0.3, 0.3)),
    _f("phase", 0.0, 1.0, "turns", 0.0, "phase travelled so far (wraps)", "", 0.0, wrap=True),
    _f("rotation", -180.0, 180.0, "degrees", 0.0, "whole picture, clockwise on screen (wraps)",
       "r / R", 5.0, wrap=True, rand=(-180.0, 180.0)),
    _f("gain", -8.0, 8.0, "factor", 1.0, "amplitude gain (negative inverts)", "a / A", 1.1,
       log=True, rand=(0.6, 1.6)),
    _f("bias", -1.0, 1.0, "0..1 colour", 0.0, "added to the fit's background colour", "b / B",
       0.02, rand=(-0.15, 0.15)),
    LiveParam("count", "int", 0, 1_000_000, "wavelets", 0,
              "strongest wavelets shown (0 = all)", keys="[ / ]", step=1.25, log=True),
    _f("zoom", 1e-3, 1e4, "factor", 1.0, "view magnification", "wheel", 1.1, log=True),
    _f("center_x", -1000.0, 1000.0, "units", 0.0, "view centre x (1 = half the height)",
       "drag"),
    _f("center_y", -1000.0, 1000.0, "units", 0.0, "view centre y (down)", "drag"),
    LiveParam("strategy", "str", None, None, "", "billboard", "GL strategy",
              ("billboard", "loop"), keys="t"),
]}


@dataclass(frozen=True)
class Command:
    """An OSC address that does something rather than set a value."""

    name: str
    kind: str  # "" (no argument) | "str" | "int"
    help: str


COMMANDS: dict[str, Command] = {c.name: c for c in [
    Command("preset", "str", "run diffusion preset NAME on the picture ('none': wavelets again)"),
    Command("randomize", "", "random values for every live number (seeded, repeatable)"),
    Command("reset", "", "every parameter back to its default (key 0 / r)"),
    Command("record", "int", "1 starts recording imfit-rec-NNN.mp4, 0 stops (keys v / f9)"),
    Command("screenshot", "", "save imfit-shot-NNN.png (keys c / f12)"),
    Command("tap", "", "tap tempo: taps set the bpm that drift snaps to"),
]}


def preset_params(preset: Any) -> dict[str, LiveParam]:
    """The live numeric parameters of a diffusion preset (an `imfit.diffusion.engine.Preset`),
    with the ranges its scheme declares (`imfit.diffusion.engine.PARAMS`)."""
    from imfit.diffusion.engine import PARAMS

    out: dict[str, LiveParam] = {}
    for name in preset.live:
        spec = PARAMS[preset.scheme][name]
        if spec.choices or isinstance(spec.default, (bool, str)):
            continue
        lo, hi = float(spec.lo), float(spec.hi)
        d = float(preset.params[name])
        rand = (max(lo, d / 2), min(hi, d * 2)) if d > 0 else None
        out[name] = LiveParam(name, "float", lo, hi, "", d, spec.doc, step=1.25, log=lo > 0,
                              rand=rand)
    return out


def list_params() -> str:
    """The `imfit view --list-params` text (also the table in docs/live.md)."""
    from imfit.diffusion.engine import list_presets

    rows = [("address", "type", "range", "unit", "keys", "what")]
    for p in GABOR_PARAMS.values():
        rows.append((f"/imfit/{p.name}", p.kind, p.range_text(), p.unit, p.keys, p.help))
    for c in COMMANDS.values():
        rows.append((f"/imfit/{c.name}", c.kind or "-", "1|0" if c.name == "record" else "",
                     "", "", c.help))
    seen: dict[str, list[str]] = {}
    specs: dict[str, LiveParam] = {}
    for preset in list_presets():
        for name, p in preset_params(preset).items():
            seen.setdefault(name, []).append(preset.name)
            specs.setdefault(name, p)
    for name, p in specs.items():
        rows.append((f"/imfit/{name}", p.kind, p.range_text(), p.unit, "arrows",
                     f"{p.help} (presets: {', '.join(seen[name])})"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5]
                     for r in rows).rstrip()
