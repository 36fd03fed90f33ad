"""Contact sheets: one parameter swept over a range, rendered as a labelled grid.

Choosing "sigma x0.7" from numbers is guesswork; choosing it from a grid of pictures is not. Each
cell is the fit with one op's key set to one value (after optional base edits), labelled with
the op text that reproduces it in `imfit edit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from imfit.edit.syntax import OPS, Op, apply_ops
from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet

# Short names for the parameters people sweep most; anything else is written OP.KEY.
SHORTCUTS: dict[str, tuple[str, str]] = {
    "sigma": ("scale", "sigma"), "gamma": ("scale", "gamma"),
    "wavelength": ("scale", "wavelength"), "size": ("scale", "size"),
    "hue": ("hue", "deg"), "rotate": ("rotate", "deg"), "spin": ("spin", "deg"),
    "phase": ("phase", "deg"), "gain": ("gain", "x"), "topk": ("topk", "k"),
    "jitter": ("jitter", "pos"), "kaleido": ("kaleido", "n"), "tile": ("tile", "n"),
    "zoom": ("zoom", "x"),
}
LABEL_H = 14  # pixels under each cell for its label (PIL's built-in bitmap font is 11 px)


def resolve_param(name: str) -> tuple[str, str]:
    """'sigma' or 'scale.sigma' -> ('scale', 'sigma'); must be a numeric key of a known op."""
    op, key = SHORTCUTS.get(name) or (name.partition(".")[0], name.partition(".")[2])
    if op not in OPS or not key:
        raise ImfitError(f"--param {name!r}: use one of {', '.join(SHORTCUTS)} or OP.KEY "
                         "(see imfit edit --list-ops)")
    p = OPS[op].param(key)
    if p.kind not in ("float", "int"):
        raise ImfitError(f"--param {name!r}: {op}.{key} is not a number")
    return op, key


def sweep_values(lo: float, hi: float, count: int, log: bool = False,
                 integer: bool = False) -> list[float]:
    """`count` values from lo to hi inclusive, evenly (or geometrically with `log`) spaced."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
        raise ImfitError(f"--count must be a whole number 1..100, got {count!r}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ImfitError("--range needs two finite numbers")
    if log and not (lo > 0 and hi > 0):
        raise ImfitError("--log needs a positive range")
    if count == 1:
        vals = [lo]
    elif log:
        vals = list(np.geomspace(lo, hi, count))
    else:
        vals = list(np.linspace(lo, hi, count))
    # three significant digits, so each label is exactly the value that made its cell
    return [float(round(v)) if integer else float(f"{v:.3g}") for v in vals]


def variations(gs: GaborSet, op: str, key: str, values: Sequence[float],
               base: Sequence[Op] = ()) -> list[tuple[str, GaborSet]]:
    """(label, set) per value: base edits, then the op with `key` = value."""
    spec = OPS[op]
    kind = spec.param(key).kind
    start = apply_ops(gs, base)
    out = []
    for v in values:
        args = {p.name: p.default for p in spec.params}
        args[key] = int(round(v)) if kind == "int" else float(v)
        o = Op(spec, args)
        out.append((f"{op}:{key}={args[key]:g}", o(start)))
    return out


def contact_sheet(cells: Sequence[tuple[str, GaborSet]], render: Callable[..., Any],
                  cell_width: int, cell_height: int, cols: int | None = None,
                  gap: int = 4) -> np.ndarray:  # (H, W, 3) float 0..1
    """Render each set into a grid cell with its label underneath, on a dark background."""
    from PIL import Image, ImageDraw, ImageFont

    n = len(cells)
    if n == 0:
        raise ImfitError("nothing to put on the sheet")
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    ch = cell_height + LABEL_H
    W = cols * cell_width + (cols + 1) * gap
    H = rows * ch + (rows + 1) * gap
    sheet = Image.new("RGB", (W, H), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (label, s) in enumerate(cells):
        r, c = divmod(i, cols)
        x, y = gap + c * (cell_width + gap), gap + r * (ch + gap)
        img = np.asarray(render(s, cell_width, cell_height))
        sheet.paste(Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)), (x, y))
        draw.text((x + 2, y + cell_height + 1), label, fill=(230, 230, 230), font=font)
    return np.asarray(sheet, np.float32) / 255.0
