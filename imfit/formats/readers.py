"""Import back: the exported tables (TSV, coll, CSV, JXF, npz), the canonical json, and
torch-imfit's `.txt`, each to a GaborSet.

Values are written as the shortest decimal that reads back to the same float32 (or as raw
float32), so json, tsv, coll, csv, jxf and npz give back the exported wavelets bit-exactly.
Formats that only hold the wavelets (tsv, csv, jxf, torch-imfit txt) take the image size and
bias from the caller (defaults: 256 x 256, grey 0.5).
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.formats.files import open_input
from imfit.formats.gabor_json import (
    MAX_FILE_BYTES,
    from_json_obj,
    load_txt,
    parse_json,
    read_bytes,
    read_text,
)
from imfit.model.gaborset import COLUMNS, NCOL, GaborSet
from imfit.validate import MAX_WAVELETS, image_size

SUFFIXES = (".json", ".tsv", ".coll", ".txt", ".csv", ".jxf", ".npz")


def read(path: str | os.PathLike[str], width: int | None = None, height: int | None = None,
         bias: tuple[float, float, float] | None = None) -> GaborSet:
    """Any format `imfit export` writes (and torch-imfit's .txt) -> GaborSet, by file suffix."""
    path = Path(path)
    if not path.exists():
        raise ImfitError(f"{path}: no such file")
    if path.is_dir():
        raise ImfitError(f"{path} is a directory, expected a file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImfitError(f"{path}: cannot import {suffix or 'a file without suffix'} files "
                         f"(known: {', '.join(SUFFIXES)})")
    if suffix == ".npz":
        return _read_npz(path, width, height, bias)
    if suffix == ".jxf":
        return _frame(read_jxf(path), path, width, height, bias)
    text = read_text(path, "wavelet file")
    if suffix == ".json":
        return _read_json(text, path)
    if suffix == ".coll" or (suffix == ".txt" and _looks_like_coll(text)):
        return _read_coll(text, path, width, height, bias)
    if suffix == ".txt":
        gs = load_txt(path, width or 256, height or width or 256)
        return gs if bias is None else gs.replace(bias=bias)
    sep = "\t" if suffix == ".tsv" else ","
    return _frame(_read_table(text, path, sep), path, width, height, bias)


def _frame(params: np.ndarray, path: Path, width: int | None, height: int | None,
           bias: Any, meta: dict[str, Any] | None = None) -> GaborSet:
    if len(params) == 0:
        raise ImfitError(f"{path}: no wavelets in file")
    w = width or 256
    h = height or (width if width else 256)
    try:
        w, h = image_size(w, h)  # a declared size may not ask for more than --size may
        return GaborSet(params, w, h, (0.5, 0.5, 0.5) if bias is None else bias,
                        meta or {"source": path.name})
    except ImfitError as e:
        raise ImfitError(f"{path}: {e}") from None


def _floats(parts: list[str], path: Path, line: int) -> list[float]:
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise ImfitError(f"{path}:{line}: not a number in {' '.join(parts)[:60]!r}") from None
    if not all(np.isfinite(v) and abs(v) <= 3.4028234e38 for v in vals):  # float32 range
        raise ImfitError(f"{path}:{line}: a value is not finite (or beyond float32)")
    return vals


def _read_json(text: str, path: Path) -> GaborSet:
    obj = parse_json(text, str(path))
    if isinstance(obj, dict) and obj.get("format") == "imfit.max.dict":
        # the Max dict: wavelets keyed "0".."N-1" because Max dicts hold no nested arrays
        rows = obj.get("wavelets")
        if not isinstance(rows, dict):
            raise ImfitError(f"{path}: 'wavelets' must be an object keyed by index")
        gap = next((i for i in range(len(rows)) if str(i) not in rows), None)
        if gap is not None:  # a key gap would silently drop wavelets
            raise ImfitError(f"{path}: wavelet keys must be \"0\"..\"{len(rows) - 1}\"; "
                             f"\"{gap}\" is missing")
        obj = dict(obj, format="imfit.gabor", version=1,
                   wavelets=[rows[str(i)] for i in range(len(rows))],
                   image={"width": obj.get("width"), "height": obj.get("height")})
    return from_json_obj(obj, str(path))


def _read_table(text: str, path: Path, sep: str) -> np.ndarray:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ImfitError(f"{path}: empty file")
    head = [h.strip() for h in lines[0].split(sep)]
    missing = [c for c in COLUMNS if c not in head]
    if missing:
        raise ImfitError(f"{path}: header row lacks columns {', '.join(missing)}")
    rows = []
    for ln, line in enumerate(lines[1:], 2):
        parts = [p.strip() for p in line.split(sep)]
        if len(parts) != len(head):
            raise ImfitError(f"{path}:{ln}: expected {len(head)} values, found {len(parts)}")
        rows.append(_floats(parts, path, ln))
    arr = np.array(rows, np.float64).reshape(len(rows), len(head))
    return arr[:, [head.index(c) for c in COLUMNS]].astype(np.float32)


def _looks_like_coll(text: str) -> bool:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return first.endswith(";")


def _read_coll(text: str, path: Path, width: int | None, height: int | None,
               bias: Any) -> GaborSet:
    rows: dict[int, list[float]] = {}
    meta: dict[str, list[float]] = {}
    for ln, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if not line.endswith(";") or "," not in line:
            raise ImfitError(f"{path}:{ln}: a coll line is `index, values;`")
        key, _, vals = line[:-1].partition(",")
        nums = _floats(vals.split(), path, ln)
        key = key.strip()
        if re.fullmatch(r"-?[0-9]{1,9}", key):
            if len(nums) != NCOL:
                raise ImfitError(f"{path}:{ln}: expected {NCOL} values, found {len(nums)}")
            rows[int(key)] = nums
        else:
            meta[key] = nums
    order = sorted(rows)
    if order != list(range(len(order))):
        raise ImfitError(f"{path}: coll indices must be 0..N-1")
    params = np.array([rows[i] for i in order], np.float64).reshape(-1, NCOL).astype(np.float32)
    size = meta.get("imfit_image")
    if size and len(size) == 2 and width is None and height is None:
        if not all(float(v).is_integer() for v in size):
            raise ImfitError(f"{path}: imfit_image must be two whole numbers, got {size}")
        width, height = int(size[0]), int(size[1])
    b = meta.get("imfit_bias")
    if b and len(b) == 3 and bias is None:
        bias = tuple(b)
    return _frame(params, path, width, height, bias)


# -- JXF (Max SDK "JXF File Specification"; every multibyte value big-endian) -------------------
def jxf_bytes(matrix: np.ndarray) -> bytes:
    """A float32 Jitter matrix file: 1 plane, dims [cols, rows] (dim 0 = columns varies fastest,
    like Jitter's own row-major storage)."""
    m = np.ascontiguousarray(matrix, dtype=">f4")
    rows, cols = m.shape
    dims = (cols, rows)
    data = m.tobytes()
    offset = 24 + 4 * len(dims)
    mtrx = (b"MTRX" + struct.pack(">ii", offset + len(data), offset) + b"FL32"
            + struct.pack(">ii", 1, len(dims)) + struct.pack(">" + "i" * len(dims), *dims) + data)
    fver = b"FVER" + struct.pack(">iI", 12, 0x3C93DC80)
    body = b"JIT!" + fver + mtrx
    return b"FORM" + struct.pack(">i", 8 + len(body)) + body


def read_jxf(path: Path) -> np.ndarray:  # (N, 12) float32
    return read_jxf_bytes(read_bytes(path, "Jitter .jxf matrix"), str(path))


def read_jxf_bytes(b: bytes, path: str = "jxf") -> np.ndarray:  # (N, 12) float32
    """Parse the chunks we write (FORM/JIT!, FVER, MTRX FL32 1 plane, dims [12, N]).

    Every size the file declares is checked against the bytes it really holds before anything
    is unpacked or allocated: a 1.6 KB file may not make us build a 1e8-entry struct format.
    """
    if len(b) < 12 or b[:4] != b"FORM" or b[8:12] != b"JIT!":
        raise ImfitError(f"{path}: not a Jitter matrix file (no FORM/JIT! header)")
    pos = 12
    while pos + 8 <= len(b):
        tag, size = b[pos:pos + 4], struct.unpack(">i", b[pos + 4:pos + 8])[0]
        if tag == b"MTRX":
            if pos + 24 > len(b):
                raise ImfitError(f"{path}: truncated matrix header")
            offset = struct.unpack(">i", b[pos + 8:pos + 12])[0]
            typ = b[pos + 12:pos + 16]
            planes, ndim = struct.unpack(">ii", b[pos + 16:pos + 24])
            if ndim != 2 or pos + 32 > len(b):
                raise ImfitError(f"{path}: expected a 2-dimensional matrix, got {ndim} "
                                 "dimension(s)" if ndim != 2 else f"{path}: truncated matrix "
                                 "header")
            dims = struct.unpack(">ii", b[pos + 24:pos + 32])
            if typ != b"FL32" or planes != 1 or dims[0] != NCOL or dims[1] < 0:
                raise ImfitError(f"{path}: expected a 1-plane float32 matrix of {NCOL} x N, got "
                                 f"{typ.decode(errors='replace')} {planes} plane(s) {dims}")
            if offset < 32:
                raise ImfitError(f"{path}: matrix data offset {offset} points into its header")
            need = 4 * NCOL * dims[1]
            if pos + offset + need > len(b):
                raise ImfitError(f"{path}: truncated matrix data (declares {dims[1]} rows, "
                                 f"holds {max(0, len(b) - pos - offset) // (4 * NCOL)})")
            data = b[pos + offset:pos + offset + need]
            return np.frombuffer(data, ">f4").reshape(dims[1], NCOL).astype(np.float32)
        if size < 8:
            raise ImfitError(f"{path}: corrupt chunk size {size}")
        pos += size  # chunk sizes count their own 8-byte tag and size
    if pos < len(b):
        raise ImfitError(f"{path}: truncated chunk header at byte {pos}")
    raise ImfitError(f"{path}: no MTRX chunk")


def _read_npz(path: Path, width: int | None, height: int | None, bias: Any) -> GaborSet:
    """`params` (N, 12), optional `size` (2,) and `bias` (3,); no pickles, shapes checked
    before use, a corrupt zip is one line."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImfitError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB; not an .npz imfit "
                         "reads")
    try:
        with open_input(path) as fh, np.load(fh, allow_pickle=False) as d:
            if not hasattr(d, "files"):
                raise ImfitError(f"{path}: not an imfit .npz (a single array, not an archive)")
            if "params" not in d.files:
                raise ImfitError(f"{path}: not an imfit .npz (no 'params' array)")
            arrays = {}
            for key, most in (("params", MAX_WAVELETS * NCOL), ("size", 2), ("bias", 3)):
                if key not in d.files:
                    continue
                info = d.zip.getinfo(key + ".npy")  # refuse a zip bomb before inflating it
                if info.file_size > 8 * most + 4096:  # float64 at most, plus the header
                    raise ImfitError(f"{path}: '{key}' is too large")
                arrays[key] = np.asarray(d[key])
    except ImfitError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile,
            zipfile.LargeZipFile, NotImplementedError) as e:
        raise ImfitError(f"{path}: not an imfit .npz ({str(e).splitlines()[0][:80]})") from None
    params = arrays["params"]
    if not np.issubdtype(params.dtype, np.number) or params.ndim != 2 \
            or params.shape[1] != NCOL:
        raise ImfitError(f"{path}: 'params' must be an (N, {NCOL}) number array, got "
                         f"{params.dtype} {params.shape}")
    size, b = arrays.get("size"), arrays.get("bias")
    if size is not None and width is None and height is None:
        if size.shape != (2,) or not np.issubdtype(size.dtype, np.number) \
                or not np.isfinite(size).all() or not all(float(v).is_integer() for v in size):
            raise ImfitError(f"{path}: 'size' must be two whole numbers, got {size!r}"[:200])
        width, height = int(size[0]), int(size[1])
    if b is not None and bias is None:
        if b.shape != (3,) or not np.issubdtype(b.dtype, np.number):
            raise ImfitError(f"{path}: 'bias' must be three numbers, got shape {b.shape}")
        bias = tuple(float(v) for v in b)
    with np.errstate(over="ignore", invalid="ignore"):
        params = params.astype(np.float32)
    return _frame(params, path, width, height, bias)


def list_fits(folder: str | os.PathLike[str]) -> list[Path]:
    """The `.gabor.json` fits of a folder in frame order, the way `imfit fit --mode video`
    writes them (one per frame; `*.partial.*` leftovers of an interrupted run left out)."""
    from imfit.formats.images import number_key

    folder = Path(folder)
    fits = [p for p in folder.iterdir() if p.is_file() and p.name.endswith(".gabor.json")
            and not p.name.endswith(".partial.gabor.json")]
    if not fits:
        raise ImfitError(f"{folder}: no .gabor.json fits in this folder")
    return sorted(fits, key=number_key)
