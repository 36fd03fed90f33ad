"""`csv` and `npz`: plain tables for anything else (spreadsheets, numpy, pandas, p5, ...)."""

from __future__ import annotations

import io

import numpy as np

from exporters.common import Export, Options, Target, capped, conventions, readme
from imfit.formats.gabor_json import f32_str
from imfit.model.gaborset import COLUMNS, GaborSet


def csv_text(gs: GaborSet) -> str:
    """Header row of column names, one wavelet per row, shortest float32 decimals."""
    rows = [",".join(COLUMNS)]
    rows += [",".join(f32_str(v) for v in row) for row in gs.params]
    return "\n".join(rows) + "\n"


def build_csv(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "csv", opts, None, None, "", "")
    ex = Export(notes=notes)
    ex.text(f"{stem}.csv", csv_text(gs))
    ex.text("README-csv.txt", readme(gs, "csv", {
        f"{stem}.csv": "header row + one wavelet per row (12 columns, float32 values that read "
                       "back bit-exactly)"},
        ["any CSV reader; `imfit import` reads it back (give --size/--bias: a CSV holds "
         "only the wavelets)"]))
    return ex


def build_npz(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "npz", opts, None, None, "", "")
    buf = io.BytesIO()
    np.savez(buf, params=gs.params, columns=np.array(COLUMNS), bias=np.float32(gs.bias),
             size=np.array([gs.width, gs.height], np.int32),
             conventions=np.array("\n".join(conventions(gs))))
    ex = Export(files={f"{stem}.npz": buf.getvalue()}, notes=notes)
    ex.text("README-npz.txt", readme(gs, "npz", {
        f"{stem}.npz": "numpy archive: params (N, 12) float32, columns, bias (3,), "
                       "size (width, height), conventions"},
        ["d = numpy.load('" + stem + ".npz'); d['params']"]))
    return ex


CSV = Target("csv", "comma-separated table with a header row", ("{stem}.csv", "README-csv.txt"),
             build_csv)
NPZ = Target("npz", "numpy archive (params, columns, bias, size)",
             ("{stem}.npz", "README-npz.txt"), build_npz)
