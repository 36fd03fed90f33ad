"""The wavelet files: the versioned `.gabor.json` pipe and torch-imfit's weights `.txt`.

Both are written through `imfit.formats.files` (the one atomic writer).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.formats.files import atomic_write_text, open_input
from imfit.model.gaborset import COL, COLUMNS, NCOL, GaborSet
from imfit.validate import MAX_WAVELETS, image_size

FORMAT = "imfit.gabor"
VERSION = 1

CONVENTIONS: dict[str, str] = {
    "origin": "image centre",
    "x": "right; the fitted image spans x in [-width/height, width/height]",
    "y": "down (image rows); the fitted image spans y in [-1, 1]",
    "unit": "half the fitted image height (x, y, sigma, gamma, wavelength)",
    "angles": "radians; theta from +x towards +y",
    "sigma": "Gaussian std along the wave direction (u)",
    "gamma": "Gaussian std across the wave direction (v)",
    "pixel": "clamp(bias + sum amp*exp(-u^2/(2 sigma^2) - v^2/(2 gamma^2))"
    "*cos(2 pi u / wavelength + phase), 0, 1); u = dx cos theta + dy sin theta, "
    "v = -dx sin theta + dy cos theta",
    "colour": "linear 0..1 RGB values of the source file (no gamma conversion)",
}


def f32_str(v: float | np.floating[Any]) -> str:
    """Shortest decimal that reads back to the same float32 (bit-exact round trips)."""
    s = np.format_float_positional(np.float32(v), unique=True, trim="-")
    if len(s) > 14:  # very small/large values read better in scientific notation
        s = np.format_float_scientific(np.float32(v), unique=True, trim="-")
    return s


# -- .gabor.json -----------------------------------------------------------------------------
def to_json_text(gs: GaborSet) -> str:
    """The canonical text: metadata as pretty JSON, one wavelet per line."""
    head = {
        "format": FORMAT,
        "version": VERSION,
        "columns": list(COLUMNS),
        "conventions": CONVENTIONS,
        "image": {"width": gs.width, "height": gs.height},
        "bias": [float(np.float32(b)) for b in gs.bias],
        "count": len(gs),
        "meta": _jsonable(gs.meta),
    }
    body = json.dumps(head, indent=2, allow_nan=False)
    rows = ",\n".join("    [" + ", ".join(f32_str(v) for v in row) + "]" for row in gs.params)
    wavelets = '  "wavelets": [\n' + rows + "\n  ]" if len(gs) else '  "wavelets": []'
    return body[:-2] + ",\n" + wavelets + "\n}\n"


def _jsonable(obj: Any) -> Any:
    """Metadata may hold numpy scalars, paths or NaN PSNRs: make them strict JSON."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def from_json_obj(obj: Any, source: str = "file") -> GaborSet:
    """Validate a parsed `.gabor.json` document and build the set; every failure is one line."""
    if not isinstance(obj, dict):
        raise ImfitError(f"{source}: not an imfit .gabor.json (top level is not an object)")
    if obj.get("format") != FORMAT:
        raise ImfitError(f"{source}: not an imfit .gabor.json (format is {obj.get('format')!r})")
    ver = obj.get("version")
    if ver != VERSION:
        raise ImfitError(f"{source}: unsupported .gabor.json version {ver!r} "
                         f"(this imfit reads version {VERSION})")
    cols = obj.get("columns")
    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
        raise ImfitError(f"{source}: 'columns' must be a list of names")
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        raise ImfitError(f"{source}: missing columns {', '.join(missing)}")
    rows = obj.get("wavelets")
    if not isinstance(rows, list):
        raise ImfitError(f"{source}: 'wavelets' must be a list of rows")
    if len(rows) > MAX_WAVELETS:
        raise ImfitError(f"{source}: {len(rows)} wavelets; imfit reads at most {MAX_WAVELETS}")
    for i, r in enumerate(rows):
        if not isinstance(r, list) or len(r) != len(cols):
            raise ImfitError(f"{source}: wavelet {i} must be a list of {len(cols)} numbers")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ImfitError(f"{source}: wavelet {i} holds a non-number ({v!r})")
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), len(cols))
    arr = arr[:, [cols.index(c) for c in COLUMNS]]
    if not np.isfinite(arr).all():
        i, j = np.argwhere(~np.isfinite(arr))[0]
        raise ImfitError(f"{source}: wavelet {i} has a non-finite {COLUMNS[j]}")
    img = obj.get("image", {})
    if not isinstance(img, dict):
        raise ImfitError(f"{source}: 'image' must be an object with width and height")
    w, h = img.get("width"), img.get("height")
    for name, v in (("width", w), ("height", h)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ImfitError(f"{source}: image {name} must be a positive integer, got {v!r}")
    try:  # the size a render of this file allocates: the same cap as a requested size
        image_size(w, h, "image")
    except ImfitError as e:
        raise ImfitError(f"{source}: {e}") from None
    bias = obj.get("bias", [0.5, 0.5, 0.5])
    if (not isinstance(bias, list) or len(bias) != 3
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bias)):
        raise ImfitError(f"{source}: 'bias' must be a list of 3 numbers")
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise ImfitError(f"{source}: 'meta' must be an object")
    try:
        return GaborSet(arr, w, h, tuple(bias), meta)
    except ImfitError as e:
        raise ImfitError(f"{source}: {e}") from None


def check_fit_output(path: str | os.PathLike[str], force: bool) -> Path:
    """Before any work: an output that will hold a .gabor.json must be named .json (never JSON
    in a .png), and writable (`check_output_file`)."""
    from imfit.formats.files import check_output_file

    path = Path(path)
    if path.suffix.lower() != ".json":
        raise ImfitError(f"{path}: a fit is written as .gabor.json (got "
                         f"{path.suffix or 'no suffix'!r})")
    return check_output_file(path, force)


def save(gs: GaborSet, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """Write `gs` as `.gabor.json` atomically."""
    return atomic_write_text(path, to_json_text(gs), overwrite=overwrite)


# -- reading user files ----------------------------------------------------------------------
# A file we parse is read whole: this caps what one may make us hold (a million-wavelet fit is
# about 150 MB of text). JSON nests at most this deep (ours nest 4 levels; Python's parser
# itself overflows the stack near 1000), and its whole numbers have at most this many digits
# (a 400-digit integer overflows every float conversion downstream).
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_JSON_INT_DIGITS = 18


def read_bytes(path: str | os.PathLike[str], what: str,
               max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A whole user file, at most `max_bytes`; missing, folder, unreadable or huge: one line."""
    path = Path(path)
    if not path.exists():
        raise ImfitError(f"{path}: no such file")
    if path.is_dir():
        raise ImfitError(f"{path} is a directory, expected a {what}")
    try:
        with open_input(path) as f:
            data = f.read(max_bytes + 1)  # a pipe or /dev/zero has no size to stat
    except OSError as e:
        raise ImfitError(f"{path}: cannot read ({e.strerror})") from None
    if len(data) > max_bytes:
        raise ImfitError(f"{path}: larger than {max_bytes // 2**20} MB; not a {what} imfit "
                         "reads")
    return data


def read_text(path: Path, what: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A UTF-8 text file, every failure (missing, folder, binary, unreadable) as one line."""
    data = read_bytes(path, what, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImfitError(f"{path}: not a UTF-8 text file (expected a {what})") from None


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise _JsonValueError(f"a {len(text.lstrip('-'))}-digit number", text)
    return int(text)


def _json_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise _JsonValueError(f"{text[:20]} (out of range)", text)
    return v


def _json_constant(text: str) -> float:
    raise _JsonValueError(f"{text} (not a JSON number)", text)


class _JsonValueError(Exception):
    """A number JSON's grammar allows but no imfit file may hold; becomes an ImfitError."""

    def __init__(self, what: str, token: str) -> None:
        super().__init__(what)
        self.what, self.token = what, token

    def where(self, text: str) -> str:
        """' at line N' of the token's first appearance (the parser does not say)."""
        i = text.find(self.token)
        return "" if i < 0 else f" at line {text.count(chr(10), 0, i) + 1}"


def parse_json(text: str, source: str) -> Any:
    """Strict JSON from a user file: one ImfitError line for anything malformed or hostile.

    NaN/Infinity literals, out-of-range floats (1e400), integers longer than
    MAX_JSON_INT_DIGITS and nesting deeper than MAX_JSON_DEPTH are refused here, once, so no
    reader meets a RecursionError, an OverflowError or an infinity downstream.
    """
    try:
        obj = json.loads(text, parse_int=_json_int, parse_float=_json_float,
                         parse_constant=_json_constant)
    except json.JSONDecodeError as e:
        raise ImfitError(f"{source}: corrupt JSON ({e.msg} at line {e.lineno})") from None
    except _JsonValueError as e:
        raise ImfitError(f"{source}: JSON holds {e.what}{e.where(text)}, which no imfit file "
                         "may hold") from None
    except RecursionError:
        raise ImfitError(f"{source}: JSON nested too deeply (at most {MAX_JSON_DEPTH} "
                         "levels)") from None
    except ValueError as e:  # the interpreter's own digit limit, lone surrogates...
        raise ImfitError(f"{source}: corrupt JSON ({str(e).splitlines()[0][:80]})") from None
    # a bare `null`, number or string has no children (each reader then says what it wanted)
    stack: list[tuple[Any, int]] = [(obj, 1)] if isinstance(obj, (dict, list)) else []
    while stack:  # iterative: a deep document must not overflow this check either
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ImfitError(f"{source}: JSON nested too deeply (at most {MAX_JSON_DEPTH} "
                             "levels)")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    return obj


def load_json(path: str | os.PathLike[str], what: str = "JSON file") -> Any:
    """THE reader of every JSON file a user hands imfit (fits, presets, timelines, Max dicts):
    size-capped, UTF-8 checked and strictly parsed, every failure one line."""
    path = Path(path)
    return parse_json(read_text(path, what), str(path))


def load(path: str | os.PathLike[str], width: int | None = None,
         height: int | None = None) -> GaborSet:
    """Read a `.gabor.json`, or a torch-imfit `.txt` (given the image size, else square 256)."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        return load_txt(path, width or 256, height or width or 256)
    return from_json_obj(load_json(path, ".gabor.json file"), str(path))


# -- torch-imfit weights .txt ----------------------------------------------------------------
# Its plane: x and y both run -1..1 across the image with pixel CENTRES at the ends (linspace),
# so one of its x units is (W-1)/2 pixels and one y unit (H-1)/2 pixels; ours is H/2 pixels on
# both axes with pixel EDGES at the ends. theta is in turns, widths are absolute, rel_freq is the
# log wavelength, psi is the phase in turns, amplitudes act on a -1..1 image (ours on 0..1).
TXT_COLUMNS = ("u", "v", "theta", "rel_sigma", "gamma", "rel_freq",
               "psi_r", "psi_g", "psi_b", "amp_r", "amp_g", "amp_b")


def _txt_scales(width: int, height: int) -> tuple[float, float]:
    """Units of ours per unit of theirs along x and y."""
    sx = (max(width - 1, 1) / 2) / (height / 2)
    sy = (max(height - 1, 1) / 2) / (height / 2)
    return sx, sy


def _gauss_transform(theta: np.ndarray, s_u: np.ndarray, s_v: np.ndarray, wl: np.ndarray,
                     sx: float, sy: float) -> tuple[np.ndarray, ...]:
    """Map a wavelet through the axis scaling diag(sx, sy).

    The Gaussian maps exactly (covariance S -> A S A); its new principal axes give theta, sigma,
    gamma. The wave vector maps by A^-1; we keep its component along the new u axis, which is
    exact when sx == sy (square images) and a close approximation otherwise.
    """
    c, s = np.cos(theta), np.sin(theta)
    a = s_u**2 * c**2 + s_v**2 * s**2
    b = (s_u**2 - s_v**2) * c * s
    d = s_u**2 * s**2 + s_v**2 * c**2
    a2, b2, d2 = a * sx * sx, b * sx * sy, d * sy * sy
    if sx == sy:
        return theta, s_u * sx, s_v * sx, wl * sx
    # eigen-decomposition of [[a2, b2], [b2, d2]], keeping the axis closest to the old u axis
    t_new = 0.5 * np.arctan2(2 * b2, a2 - d2)
    tr, det = a2 + d2, a2 * d2 - b2 * b2
    disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0))
    l1, l2 = tr / 2 + disc, tr / 2 - disc
    # the old u direction after mapping
    ux, uy = c * sx, s * sy
    cn, sn = np.cos(t_new), np.sin(t_new)
    along = np.abs(ux * cn + uy * sn) >= np.abs(-ux * sn + uy * cn)
    t_out = np.where(along, t_new, t_new + np.pi / 2)
    su_out = np.sqrt(np.where(along, l1, l2))
    sv_out = np.sqrt(np.where(along, l2, l1))
    # wave vector k = (2pi/wl)(c, s) maps to A^-1 k; project on the new u axis
    kx, ky = (2 * np.pi / wl) * c / sx, (2 * np.pi / wl) * s / sy
    ku = np.abs(kx * np.cos(t_out) + ky * np.sin(t_out))
    wl_out = 2 * np.pi / np.maximum(ku, 1e-12)
    return t_out, su_out, sv_out, wl_out


def from_txt_array(arr: np.ndarray, width: int, height: int) -> GaborSet:
    """torch-imfit rows (N, 12) in its parametrisation -> GaborSet (bias 0.5 grey)."""
    a = np.asarray(arr, np.float64).reshape(-1, NCOL)
    sx, sy = _txt_scales(width, height)
    # their pixel-centre coordinate -> ours: pixel j sits at -1 + 2j/(W-1) for them and at
    # (-1 + (2j+1)/W)*aspect for us; the map is affine with slope sx and no offset.
    x = a[:, 0] * sx
    y = a[:, 1] * sy
    theta = 2 * np.pi * a[:, 2]
    s_u = np.abs(a[:, 3])
    s_v = np.abs(a[:, 4])
    wl = np.exp(a[:, 5])
    theta, s_u, s_v, wl = _gauss_transform(theta, s_u, s_v, wl, sx, sy)
    phase = 2 * np.pi * a[:, 6:9]
    amp = 0.5 * a[:, 9:12]
    out = np.empty((len(a), NCOL), np.float64)
    out[:, COL["x"]], out[:, COL["y"]], out[:, COL["theta"]] = x, y, theta
    out[:, COL["sigma"]] = np.maximum(s_u, 1e-6)
    out[:, COL["gamma"]] = np.maximum(s_v, 1e-6)
    out[:, COL["wavelength"]] = wl
    out[:, 6:9], out[:, 9:12] = phase, amp
    return GaborSet(out, width, height, (0.5, 0.5, 0.5),
                    {"source_format": "torch-imfit txt"})


def to_txt_array(gs: GaborSet) -> np.ndarray:
    """GaborSet -> torch-imfit rows (N, 12). Its model has no bias: a non-grey bias is lost."""
    p = gs.params.astype(np.float64)
    sx, sy = _txt_scales(gs.width, gs.height)
    theta, s_u, s_v, wl = _gauss_transform(p[:, 2], p[:, 3], p[:, 4], p[:, 5], 1 / sx, 1 / sy)
    out = np.empty((len(gs), NCOL), np.float64)
    out[:, 0] = p[:, 0] / sx
    out[:, 1] = p[:, 1] / sy
    # theirs is in turns in [-2, 2]; wrap to (-0.5, 0.5] so it stays inside its clamp
    t = theta / (2 * np.pi)
    out[:, 2] = t - np.round(t)
    out[:, 3], out[:, 4] = s_u, s_v
    out[:, 5] = np.log(wl)
    amp = p[:, 9:12]
    ph = p[:, 6:9] + np.where(amp < 0, np.pi, 0.0)  # their amplitudes are >= 0
    psi = ph / (2 * np.pi)
    out[:, 6:9] = psi - np.round(psi)
    out[:, 9:12] = 2 * np.abs(amp)
    return out


def load_txt(path: str | os.PathLike[str], width: int = 256, height: int = 256) -> GaborSet:
    """Read torch-imfit's weights file (N rows of 12 comma-separated numbers, no header)."""
    path = Path(path)
    text = read_text(path, "torch-imfit weights .txt")
    rows = []
    for ln, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in line.replace(",", " ").split()]
        if len(parts) != NCOL:
            raise ImfitError(f"{path}:{ln}: expected {NCOL} comma-separated numbers, "
                             f"found {len(parts)}")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ImfitError(f"{path}:{ln}: not a number in {line[:60]!r}") from None
        if not all(math.isfinite(v) for v in vals):
            raise ImfitError(f"{path}:{ln}: non-finite value")
        rows.append(vals)
    if not rows:
        raise ImfitError(f"{path}: no wavelets in file")
    with np.errstate(all="ignore"):  # exp(1e300) is inf: refused below as one line, no warning
        try:
            gs = from_txt_array(np.array(rows), width, height)
        except ImfitError as e:
            raise ImfitError(f"{path}: {e}") from None
    return gs.replace(meta={"source": path.name, "source_format": "torch-imfit txt"})


def txt_text(gs: GaborSet) -> str:
    """torch-imfit's layout with 17 significant digits (its reader takes any float) instead of
    its 6 decimals: the float64 values read back exactly, so our own round trip is lossless
    up to the float32 rounding of the set itself."""
    return "".join(",".join(f"{v:.17g}" for v in row) + "\n" for row in to_txt_array(gs))


def save_txt(gs: GaborSet, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    return atomic_write_text(path, txt_text(gs), overwrite=overwrite)
