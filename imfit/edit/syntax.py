"""Edit operations by name: the text syntax shared by `imfit edit`, timelines and contact sheets.

An op is written `name` or `name:key=value,key=value`, e.g. `scale:sigma=2`, `rotate:deg=90`,
`topk:k=100`, `palette:colors=#1b1b3a+#f2c14e+white`. Ops chain left to right. Every op maps to
one pure function of `imfit.edit.ops`; this module only parses, validates and dispatches, so the
library stays the single place where the maths lives.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from imfit import validate
from imfit.edit import ops as edit
from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet


@dataclass(frozen=True)
class OpParam:
    """One key of an op: its type ("float", "int", "bool", "str", "path"), default, help."""

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpSpec:
    name: str
    help: str
    params: tuple[OpParam, ...]
    apply: Callable[[GaborSet, dict[str, Any]], GaborSet]

    def param(self, key: str) -> OpParam:
        for p in self.params:
            if p.name == key:
                return p
        keys = ", ".join(p.name for p in self.params) or "none"
        raise ImfitError(f"op {self.name!r} has no key {key!r} (keys: {keys})")


@dataclass(frozen=True)
class Op:
    """A parsed op: its spec and every key's value (defaults filled in)."""

    spec: OpSpec
    args: dict[str, Any] = field(default_factory=dict)

    def __call__(self, gs: GaborSet) -> GaborSet:
        return self.spec.apply(gs, self.args)

    def text(self) -> str:
        given = [f"{k}={_fmt(v)}" for k, v in self.args.items()
                 if v != self.spec.param(k).default]
        return self.spec.name + (":" + ",".join(given) if given else "")


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.10g}"  # enough digits that a recorded history replays exactly
    return str(v)


# -- the ops -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _palette_of_image(path: str, k: int) -> tuple[tuple[float, float, float], ...]:
    """k-means once per (image, k), so a timeline does not re-cluster on every frame."""
    return tuple(tuple(float(c) for c in row) for row in edit.image_palette(path, k))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> GaborSet:
    from imfit.formats.readers import read

    return read(path)


def _palette(gs: GaborSet, a: dict[str, Any]) -> GaborSet:
    import numpy as np

    if bool(a["image"]) == bool(a["colors"]):
        raise ImfitError("palette needs exactly one of image=PATH or colors=C1+C2+...")
    cols = (np.asarray(_palette_of_image(a["image"], a["k"])) if a["image"]
            else edit.parse_colors(a["colors"]))
    return edit.palette_map(gs, cols)


def _keep(gs: GaborSet, a: dict[str, Any]) -> GaborSet:
    rect = [a[k] for k in ("x0", "y0", "x1", "y1")]
    circle = a["r"] > 0
    kinds = sum([bool(a["mask"]), circle, any(v is not None for v in rect)])
    if kinds != 1:
        raise ImfitError("keep needs one region: mask=PATH, r=R (with cx, cy), or x0,y0,x1,y1")
    if a["mask"]:
        return edit.keep_image_mask(gs, a["mask"], a["invert"])
    if circle:
        return edit.keep_circle(gs, a["cx"], a["cy"], a["r"], a["invert"])
    if any(v is None for v in rect):
        raise ImfitError("a keep rectangle needs all of x0, y0, x1, y1")
    return edit.keep_rect(gs, *rect, invert=a["invert"])


def _gain(gs: GaborSet, a: dict[str, Any]) -> GaborSet:
    return edit.gain(gs, [a["x"] * a["r"], a["x"] * a["g"], a["x"] * a["b"]])


def _bias(gs: GaborSet, a: dict[str, Any]) -> GaborSet:
    b = [a[c] if a[c] is not None else (a["v"] if a["v"] is not None else gs.bias[i])
         for i, c in enumerate("rgb")]
    return edit.with_bias(gs, b)


def _phase(gs: GaborSet, a: dict[str, Any]) -> GaborSet:
    return edit.shift_phase(gs, [math.radians(a["deg"] + a[c]) for c in "rgb"])


def _scale(gs: GaborSet, a: dict[str, Any]) -> GaborSet:
    s = a["size"]
    for k in ("size", "sigma", "gamma", "wavelength"):
        if not (math.isfinite(a[k]) and a[k] > 0):
            raise ImfitError(f"scale {k} must be a positive factor, got {a[k]:g}")
    return edit.scale(gs, a["sigma"] * s, a["gamma"] * s, a["wavelength"] * s)


def _topk(gs: GaborSet, a: dict[str, Any]) -> GaborSet:
    return edit.top_k(gs, a["k"])


def _merge(gs: GaborSet, a: dict[str, Any]) -> GaborSet:
    if not a["with"]:
        raise ImfitError("merge needs with=OTHER.gabor.json")
    return edit.merge(gs, _load_cached(a["with"]), a["bias"])


def _p(name: str, kind: str, default: Any, help: str, choices: Sequence[str] = ()) -> OpParam:
    return OpParam(name, kind, default, help, tuple(choices))


_DEG = _p("deg", "float", 0.0, "degrees")
OPS: dict[str, OpSpec] = {o.name: o for o in [
    OpSpec("scale", "multiply window widths and wavelength by factors", (
        _p("size", "float", 1.0, "all three"), _p("sigma", "float", 1.0, "along the wave"),
        _p("gamma", "float", 1.0, "across the wave"),
        _p("wavelength", "float", 1.0, "stripe period")), _scale),
    OpSpec("ramp", "scale by a factor that ramps across the image (geometric)", (
        _p("param", "str", "size", "what to scale", edit.SCALE_PARAMS),
        _p("from", "float", 1.0, "factor at the left/top/centre"),
        _p("to", "float", 2.0, "factor at the right/bottom/corners"),
        _p("axis", "str", "x", "direction of the ramp", edit.RAMP_AXES)),
        lambda gs, a: edit.scale_ramp(gs, a["param"], a["from"], a["to"], a["axis"])),
    OpSpec("rotate", "turn the whole picture about a point (clockwise on screen)", (
        _DEG, _p("cx", "float", 0.0, "centre x (units)"), _p("cy", "float", 0.0, "centre y")),
        lambda gs, a: edit.rotate_field(gs, math.radians(a["deg"]), (a["cx"], a["cy"]))),
    OpSpec("spin", "turn every wavelet about its own centre", (_DEG,),
           lambda gs, a: edit.rotate_wavelets(gs, math.radians(a["deg"]))),
    OpSpec("zoom", "scale the whole picture (positions and sizes) about a point", (
        _p("x", "float", 1.0, "factor"), _p("cx", "float", 0.0, "centre x"),
        _p("cy", "float", 0.0, "centre y")),
        lambda gs, a: edit.scale_field(gs, a["x"], (a["cx"], a["cy"]))),
    OpSpec("translate", "move every wavelet (units: half the image height)", (
        _p("dx", "float", 0.0, "right"), _p("dy", "float", 0.0, "down")),
        lambda gs, a: edit.translate(gs, a["dx"], a["dy"])),
    OpSpec("flip", "mirror the picture", (
        _p("axis", "str", "x", "x: left-right, y: top-bottom", ("x", "y")),),
        lambda gs, a: edit.flip(gs, a["axis"])),
    OpSpec("mirror", "keep one half and reflect it onto the other (symmetric picture)", (
        _p("side", "str", "left", "half to keep", tuple(edit._SIDES)),),
        lambda gs, a: edit.mirror(gs, a["side"])),
    OpSpec("kaleido", "kaleidoscope: one wedge copied into 2n mirrored wedges", (
        _p("n", "int", 6, "mirrored pairs (1..64)"), _p("deg", "float", 0.0, "wedge start"),
        _p("cx", "float", 0.0, "centre x"), _p("cy", "float", 0.0, "centre y")),
        lambda gs, a: edit.kaleidoscope(gs, a["n"], math.radians(a["deg"]), (a["cx"], a["cy"]))),
    OpSpec("tile", "n x n grid of smaller copies", (
        _p("n", "int", 2, "copies per side (1..16)"),
        _p("mirror", "bool", True, "flip every other tile so edges meet")),
        lambda gs, a: edit.tile(gs, a["n"], a["mirror"])),
    OpSpec("phase", "shift the stripes along each wave", (
        _DEG, _p("r", "float", 0.0, "extra degrees on red"), _p("g", "float", 0.0, "green"),
        _p("b", "float", 0.0, "blue")), _phase),
    OpSpec("gain", "multiply amplitudes (x for all, r/g/b per channel; negative inverts)", (
        _p("x", "float", 1.0, "all channels"), _p("r", "float", 1.0, "red"),
        _p("g", "float", 1.0, "green"), _p("b", "float", 1.0, "blue")), _gain),
    OpSpec("bias", "set the background colour added before the clamp", (
        _p("v", "float", None, "all channels"), _p("r", "float", None, "red"),
        _p("g", "float", None, "green"), _p("b", "float", None, "blue")), _bias),
    OpSpec("hue", "rotate hues about the grey axis (120 sends red to green)", (_DEG,),
           lambda gs, a: edit.hue_rotate(gs, a["deg"])),
    OpSpec("gray", "grayscale (Rec. 601 luma)", (), lambda gs, a: edit.grayscale(gs)),
    OpSpec("palette", "repaint with a palette from an image or a list of colours", (
        _p("image", "path", "", "picture to take k colours from"),
        _p("k", "int", 6, "colours taken from the image"),
        _p("colors", "str", "", "C1+C2+... (names or #hex)")), _palette),
    OpSpec("topk", "keep the k highest-energy wavelets", (_p("k", "int", 100, "count"),), _topk),
    OpSpec("keep", "keep wavelets centred in a region (rectangle, circle or mask image)", (
        _p("x0", "float", None, "rectangle left"), _p("y0", "float", None, "top"),
        _p("x1", "float", None, "right"), _p("y1", "float", None, "bottom"),
        _p("cx", "float", 0.0, "circle centre x"), _p("cy", "float", 0.0, "circle centre y"),
        _p("r", "float", 0.0, "circle radius"),
        _p("mask", "path", "", "picture: light = keep (stretched over the frame)"),
        _p("invert", "bool", False, "drop the region instead")), _keep),
    OpSpec("sort", "reorder wavelets (picture unchanged)", (
        _p("by", "str", "energy", "key", edit.SORT_KEYS),
        _p("reverse", "bool", False, "reverse the order"), _p("seed", "int", 0, "for random")),
        lambda gs, a: edit.sort(gs, a["by"], a["reverse"], a["seed"])),
    OpSpec("jitter", "random, repeatable nudges", (
        _p("seed", "int", 0, "random seed"), _p("pos", "float", 0.02, "position std (units)"),
        _p("deg", "float", 0.0, "angle std (degrees)"),
        _p("scale", "float", 0.0, "log-size std"), _p("phase", "float", 0.0,
                                                     "phase std (degrees)")),
        lambda gs, a: edit.jitter(gs, a["seed"], a["pos"], math.radians(a["deg"]), a["scale"],
                                  math.radians(a["phase"]))),
    OpSpec("merge", "add another fit's wavelets", (
        _p("with", "path", "", "the other .gabor.json"),
        _p("bias", "str", "mean", "background: a, b, mean or sum", edit.MERGE_BIAS)), _merge),
]}


# -- parsing --------------------------------------------------------------------------------
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _value(op: str, p: OpParam, text: str) -> Any:
    t = text.strip()
    try:
        if p.kind == "float":
            v: Any = float(t)
            if not math.isfinite(v):
                raise ValueError
        elif p.kind == "int":
            v = int(t)
            if p.name == "seed":  # numpy's generators take 0..2**63-1 only
                v = validate.seed(v, f"{op}: seed")
        elif p.kind == "bool":
            if t.lower() not in _TRUE + _FALSE:
                raise ValueError
            v = t.lower() in _TRUE
        else:
            v = t
    except ValueError:
        want = {"float": "a number", "int": "a whole number", "bool": "true or false"}[p.kind]
        raise ImfitError(f"{op}: {p.name}={text!r} is not {want}") from None
    if p.choices and v not in p.choices:
        raise ImfitError(f"{op}: {p.name} must be one of {', '.join(p.choices)}, got {v!r}")
    return v


def parse_op(text: str) -> Op:
    """'scale:sigma=2,gamma=0.5' -> Op. Unknown names and keys are one-line errors."""
    name, _, rest = text.strip().partition(":")
    name = name.strip().lower()
    if name not in OPS:
        raise ImfitError(f"unknown op {name!r}; `imfit edit --list-ops` lists them")
    spec = OPS[name]
    args = {p.name: p.default for p in spec.params}
    for part in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, val = part.partition("=")
        if not sep:
            raise ImfitError(f"{name}: {part!r} should be KEY=VALUE")
        p = spec.param(key.strip())
        args[p.name] = _value(name, p, val)
    return Op(spec, args)


def parse_ops(texts: Sequence[str]) -> list[Op]:
    """Each item may hold several ops separated by spaces (handy in timeline files)."""
    return [parse_op(t) for item in texts for t in item.split()]


def apply_ops(gs: GaborSet, ops: Sequence[Op]) -> GaborSet:
    for op in ops:
        gs = op(gs)
    return gs


def lerp_ops(a: Sequence[Op], b: Sequence[Op], t: float) -> list[Op]:
    """Ops between two keyframes: numbers interpolate linearly (whole numbers round), anything
    else must be equal in both. Both chains must name the same ops in the same order."""
    if [o.spec.name for o in a] != [o.spec.name for o in b]:
        raise ImfitError("neighbouring keyframes must list the same ops in the same order: "
                         f"{' '.join(o.spec.name for o in a) or '(none)'} vs "
                         f"{' '.join(o.spec.name for o in b) or '(none)'}")
    out = []
    for oa, ob in zip(a, b, strict=True):
        args = {}
        for p in oa.spec.params:
            va, vb = oa.args[p.name], ob.args[p.name]
            if p.kind in ("float", "int") and va is not None and vb is not None:
                v = va + (vb - va) * t
                args[p.name] = round(v) if p.kind == "int" else v
            elif va != vb:
                raise ImfitError(f"{oa.spec.name}: {p.name} changes from {va!r} to {vb!r} "
                                 "between keyframes; only numbers can be animated")
            else:
                args[p.name] = va
        out.append(Op(oa.spec, args))
    return out


def list_ops() -> str:
    """The `--list-ops` text: one block per op, keys with defaults."""
    lines = []
    for spec in OPS.values():
        lines.append(f"{spec.name:<10}{spec.help}")
        for p in spec.params:
            d = "" if p.default in (None, "") else f" (default {_fmt(p.default)})"
            ch = f" [{'|'.join(p.choices)}]" if p.choices else ""
            lines.append(f"    {p.name}={p.kind}{ch}  {p.help}{d}")
    return "\n".join(lines)


def make_op(name: str, **args: Any) -> Op:
    """An op record built from values rather than text (the viewer's knobs, OSC, MIDI): the
    same `Op` that `parse_op(f"{name}:k=v")` gives, defaults filled in, keys checked."""
    spec = OPS[name]
    full = {p.name: p.default for p in spec.params}
    for k, v in args.items():
        full[spec.param(k).name] = v
    return Op(spec, full)


def edit_history(gs: GaborSet) -> list[str]:
    """`gs.meta["edits"]` as the op texts that made it, oldest first.

    One shape: a list of op texts. Files saved by the viewer before it wrote op texts hold a
    dict of its knobs; those are read as the ops the knobs stood for (rotation was radians, the
    bias an offset whose result is the file's own bias, since no later op changes the bias).
    """
    h = gs.meta.get("edits", [])
    if isinstance(h, list):
        return [str(t) for t in h]
    if not isinstance(h, dict):
        return []
    out: list[str] = []

    def num(key: str, default: float) -> float:
        v = h.get(key, default)
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else default

    if isinstance(h.get("count"), int) and h["count"] > 0:
        out.append(make_op("topk", k=h["count"]).text())
    sigma, freq = num("sigma", 1.0), num("frequency", 1.0)
    if (sigma, freq) != (1.0, 1.0) and sigma > 0 and freq > 0:
        out.append(make_op("scale", sigma=sigma, gamma=sigma, wavelength=1 / freq).text())
    if num("rotation", 0.0):
        out.append(make_op("rotate", deg=math.degrees(num("rotation", 0.0))).text())
    if num("gain", 1.0) != 1.0:
        out.append(make_op("gain", x=num("gain", 1.0)).text())
    if num("phase", 0.0):
        out.append(make_op("phase", deg=360 * num("phase", 0.0)).text())
    if num("bias", 0.0):
        r, g, b = gs.bias
        out.append(make_op("bias", r=r, g=g, b=b).text())
    return out


def edit_with_history(gs: GaborSet, ops: Sequence[Op], **meta: Any) -> GaborSet:
    """`ops` applied to `gs`, with their texts appended to its edit history (`meta["edits"]`,
    a list of op texts) and `meta` merged in. Every writer of an edited set (`imfit edit`, the
    viewer's save) calls this, so the history has one shape whoever wrote it."""
    history = [*edit_history(gs), *(o.text() for o in ops)]
    out = apply_ops(gs, ops)
    return out.replace(meta={**out.meta, **meta, "edits": history})
