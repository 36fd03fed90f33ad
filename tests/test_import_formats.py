"""`imfit import` / `imfit.load` of every table format, against files written by hand here.

The round trips in test_exporters.py check export -> import; these check each reader against
the format as a human (or Max, or numpy) writes it: columns in any order by their header,
a coll's size and bias lines, an .npz's size and bias arrays, a Max dict's index keys, the
Jitter matrix's dims order. Each file is typed out below, not produced by the exporter.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from imfit.formats.readers import jxf_bytes, read, read_jxf_bytes
from imfit.model.gaborset import COLUMNS, NCOL

# two wavelets, every value distinct, so a swapped column or row shows
ROWS = np.array([[0.125, -0.25, 0.5, 0.0625, 0.75, 0.1875, 0.1, 0.2, 0.3, 0.05, 0.04, 0.03],
                 [-0.5, 0.375, -1.0, 0.09375, 0.5, 0.3125, 0.4, 0.5, 0.6, 0.02, 0.015, 0.01]],
                np.float32)


def test_csv_columns_are_found_by_their_header_in_any_order(tmp_path):
    order = list(reversed(COLUMNS))
    lines = [",".join(order)]
    lines += [",".join(repr(float(r[COLUMNS.index(c)])) for c in order) for r in ROWS]
    (tmp_path / "w.csv").write_text("\n".join(lines) + "\n")
    gs = read(tmp_path / "w.csv")
    np.testing.assert_array_equal(gs.params, ROWS)
    tsv = ["\t".join(order[3:] + order[:3])]
    tsv += ["\t".join(repr(float(r[COLUMNS.index(c)])) for c in order[3:] + order[:3])
            for r in ROWS]
    (tmp_path / "w.tsv").write_text("\n".join(tsv) + "\n")
    np.testing.assert_array_equal(read(tmp_path / "w.tsv").params, ROWS)


def test_coll_size_and_bias_lines(tmp_path):
    """Max's coll: `index, values;` rows plus imfit_image (width height) and imfit_bias."""
    lines = [f"{i}, {' '.join(repr(float(v)) for v in r)};" for i, r in enumerate(ROWS)]
    lines += ["imfit_image, 40 24;", "imfit_bias, 0.25 0.5 0.75;"]
    (tmp_path / "w.coll").write_text("\n".join(lines) + "\n")
    gs = read(tmp_path / "w.coll")
    assert (gs.width, gs.height) == (40, 24)
    assert gs.bias == pytest.approx((0.25, 0.5, 0.75))
    np.testing.assert_array_equal(gs.params, ROWS)


def test_npz_size_and_bias_arrays(tmp_path):
    np.savez(tmp_path / "w.npz", params=ROWS, size=np.array([40, 24]),
             bias=np.array([0.25, 0.5, 0.75]))
    gs = read(tmp_path / "w.npz")
    assert (gs.width, gs.height) == (40, 24)
    assert gs.bias == pytest.approx((0.25, 0.5, 0.75))
    np.testing.assert_array_equal(gs.params, ROWS)


def test_max_dict_rows_follow_their_index_keys_not_the_file_order(tmp_path):
    obj = {"format": "imfit.max.dict", "columns": list(COLUMNS), "width": 40, "height": 24,
           "bias": [0.25, 0.5, 0.75],
           "wavelets": {"1": [float(v) for v in ROWS[1]], "0": [float(v) for v in ROWS[0]]}}
    (tmp_path / "w.dict.json").write_text(json.dumps(obj))
    gs = read(tmp_path / "w.dict.json")
    np.testing.assert_array_equal(gs.params, ROWS)
    assert (gs.width, gs.height) == (40, 24)


def test_jxf_declares_columns_then_rows():
    """Jitter's dim 0 is the one that varies fastest: 12 columns, then N rows (Max SDK)."""
    b = jxf_bytes(ROWS)
    at = b.index(b"MTRX")
    planes, ndim = struct.unpack(">ii", b[at + 16:at + 24])
    assert (planes, ndim) == (1, 2)
    assert struct.unpack(">ii", b[at + 24:at + 32]) == (NCOL, len(ROWS))
    offset = struct.unpack(">i", b[at + 8:at + 12])[0]
    first = struct.unpack(">12f", b[at + offset:at + offset + 48])
    np.testing.assert_array_equal(first, ROWS[0])  # row 0's twelve values come first
    np.testing.assert_array_equal(read_jxf_bytes(b), ROWS)


def test_torch_imfit_txt_with_only_a_width_is_square(tmp_path):
    """A .txt holds no size; given only a width, the picture is square (as `--size 64`)."""
    (tmp_path / "w.txt").write_text("0.0,0.0,0.0,-2.0,-2.0,1.0,0.0,0.0,0.0,0.5,0.5,0.5\n")
    gs = read(tmp_path / "w.txt", width=64)
    assert (gs.width, gs.height) == (64, 64)
    gs = read(tmp_path / "w.txt", width=64, height=32)
    assert (gs.width, gs.height) == (64, 32)
