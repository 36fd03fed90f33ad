"""Read a wavelet file inside Blender: .gabor.json, .tsv, .csv, .npz (what `imfit export` writes).

Blender's Python has numpy but not imfit, so the add-on carries this small reader of its own;
`tests/test_blender_export.py` holds it to `imfit.load` on the same files.
No bpy here: the reader is plain Python + numpy and runs in the test's own interpreter too.
"""

import json
import math
import os

import numpy as np

# imfit.gaborset.COLUMNS (the add-on cannot import imfit)
COLUMNS = ("x", "y", "theta", "sigma", "gamma", "wavelength", "phase_r", "phase_g", "phase_b",
           "amp_r", "amp_g", "amp_b")
SUFFIXES = (".gabor.json", ".json", ".tsv", ".csv", ".npz")


class WaveletFileError(Exception):
    """A file the importer cannot use; the message is one line for the user."""


class Wavelets:
    """params (N, 12) float32 in COLUMNS order, the fitted frame and the bias."""

    def __init__(self, params, width, height, bias, name):
        self.params = np.ascontiguousarray(params, dtype=np.float32).reshape(-1, 12)
        self.width, self.height = int(width), int(height)
        self.bias = tuple(float(b) for b in bias)
        self.name = name

    def __len__(self):
        return len(self.params)

    @property
    def aspect(self):
        return self.width / self.height

    def strongest(self, n):
        """The `n` strongest (energy amp^2 pi sigma gamma, like imfit's caps), in file order."""
        if n <= 0 or n >= len(self):
            return self
        p = self.params.astype(np.float64)
        energy = (p[:, 9:12] ** 2).sum(1) * math.pi * p[:, 3] * p[:, 4]
        keep = np.sort(np.argsort(-energy, kind="stable")[:n])
        return Wavelets(self.params[keep], self.width, self.height, self.bias, self.name)


def stem(path):
    base = os.path.basename(path)
    for suffix in SUFFIXES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)] or "fit"
    return os.path.splitext(base)[0] or "fit"


def read(path, width=256, height=256, bias=(0.5, 0.5, 0.5)):
    """Any of SUFFIXES -> Wavelets. Tables (tsv, csv) hold no frame: `width`, `height` and `bias`
    are used for them (imfit's defaults: 256 x 256, grey)."""
    if not os.path.isfile(path):
        raise WaveletFileError(f"{path}: no such file")
    low = path.lower()
    name = stem(path)
    try:
        if low.endswith(".npz"):
            return _npz(path, name, width, height, bias)
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise WaveletFileError(f"{path}: cannot read ({e})") from None
    if low.endswith(".json"):
        return _json(text, path, name)
    if low.endswith(".tsv") or low.endswith(".csv"):
        params = _table(text, path, "\t" if low.endswith(".tsv") else ",")
        return _checked(Wavelets(params, width, height, bias, name), path)
    raise WaveletFileError(f"{path}: not a wavelet file (known: {', '.join(SUFFIXES)})")


def _checked(w, path):
    if len(w) == 0:
        raise WaveletFileError(f"{path}: no wavelets in file")
    if not np.isfinite(w.params).all():
        i = int(np.argwhere(~np.isfinite(w.params))[0][0])
        raise WaveletFileError(f"{path}: wavelet {i} has a non-finite value")
    if (w.params[:, 3:6] <= 0).any():
        i = int(np.argwhere(w.params[:, 3:6] <= 0)[0][0])
        raise WaveletFileError(f"{path}: wavelet {i} has a sigma, gamma or wavelength <= 0")
    if w.width < 1 or w.height < 1:
        raise WaveletFileError(f"{path}: image size must be positive")
    return w


def _json(text, path, name):
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise WaveletFileError(f"{path}: corrupt JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(obj, dict) or obj.get("format") != "imfit.gabor":
        raise WaveletFileError(f"{path}: not an imfit .gabor.json")
    cols, rows = obj.get("columns"), obj.get("wavelets")
    if not isinstance(cols, list) or any(c not in cols for c in COLUMNS):
        raise WaveletFileError(f"{path}: 'columns' lacks some of {' '.join(COLUMNS)}")
    if not isinstance(rows, list) or any(not isinstance(r, list) or len(r) != len(cols)
                                         for r in rows):
        raise WaveletFileError(f"{path}: 'wavelets' must be rows of {len(cols)} numbers")
    try:
        arr = np.array(rows, dtype=np.float64).reshape(len(rows), len(cols))
    except (TypeError, ValueError):
        raise WaveletFileError(f"{path}: 'wavelets' holds a non-number") from None
    img = obj.get("image") or {}
    try:
        w, h = int(img["width"]), int(img["height"])
        bias = [float(b) for b in obj.get("bias", (0.5, 0.5, 0.5))][:3]
    except (KeyError, TypeError, ValueError):
        raise WaveletFileError(f"{path}: 'image' needs width and height, 'bias' 3 numbers") \
            from None
    params = arr[:, [cols.index(c) for c in COLUMNS]].astype(np.float32)
    return _checked(Wavelets(params, w, h, bias, name), path)


def _table(text, path, sep):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise WaveletFileError(f"{path}: empty file")
    head = [h.strip() for h in lines[0].split(sep)]
    missing = [c for c in COLUMNS if c not in head]
    if missing:
        raise WaveletFileError(f"{path}: header row lacks columns {', '.join(missing)}")
    rows = []
    for n, line in enumerate(lines[1:], 2):
        parts = line.split(sep)
        if len(parts) != len(head):
            raise WaveletFileError(f"{path}:{n}: expected {len(head)} values, found {len(parts)}")
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            raise WaveletFileError(f"{path}:{n}: not a number") from None
    arr = np.array(rows, np.float64).reshape(len(rows), len(head))
    return arr[:, [head.index(c) for c in COLUMNS]].astype(np.float32)


def _npz(path, name, width, height, bias):
    try:
        with np.load(path, allow_pickle=False) as d:
            params = np.asarray(d["params"], np.float32)
            if "size" in d:
                width, height = (int(v) for v in d["size"][:2])
            if "bias" in d:
                bias = [float(v) for v in d["bias"][:3]]
    except (OSError, ValueError, KeyError) as e:
        raise WaveletFileError(f"{path}: not an imfit .npz ({e})") from None
    if params.ndim != 2 or params.shape[1] != 12:
        raise WaveletFileError(f"{path}: 'params' must be N x 12, got {params.shape}")
    return _checked(Wavelets(params, width, height, bias, name), path)
