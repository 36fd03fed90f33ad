"""Seeded mutation fuzzing of every reader: whatever the bytes, only ImfitError comes out.

Each reader gets a valid file, then MUTATIONS seeded variants of it (byte flips, truncation,
deep nesting, 400-digit integers, type swaps, non-UTF-8 bytes). Warnings are errors here, so a
RuntimeWarning printed before the error line fails too. A reader may also accept a variant
(a flipped digit is still a number); it must then return its usual type.
"""

from __future__ import annotations

import io
import json
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

import exporters
import imfit
from exporters.maxmsp import coll_text, dict_text
from exporters.tables import csv_text
from exporters.touchdesigner import tsv_text
from imfit.diffusion.engine import load_preset
from imfit.edit.animate import load_timeline
from imfit.errors import ImfitError
from imfit.formats.gabor_json import to_json_text, txt_text
from imfit.formats.readers import jxf_bytes
from imfit.model.gaborset import NCOL, GaborSet

MUTATIONS = 60
ALIENS = [b'"abc"', b"null", b"NaN", b"Infinity", b"-Infinity", b"1e400", b"1" + b"0" * 400,
          b"[]", b"{}", b"true", b"-1", b"[" * 3000, b"\xff\xfe", b"0.5", b"\x00"]


def sample() -> GaborSet:
    rng = np.random.default_rng(3)
    p = rng.uniform(-0.5, 0.5, (3, NCOL)).astype(np.float32)
    p[:, 3:6] = np.abs(p[:, 3:6]) + 0.05
    return GaborSet(p, 32, 24)


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and b:  # byte flips
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1:  # truncation
        del b[rng.randrange(len(b) + 1):]
    elif kind == 2:  # type swap: replace a token-ish span by an alien value
        i = rng.randrange(len(b) + 1)
        j = min(len(b), i + rng.randint(1, 8))
        b[i:j] = rng.choice(ALIENS)
    elif kind == 3:  # deep nesting
        d = rng.choice((100, 5000, 100_000))
        b = bytearray(b"[" * d + bytes(b) + b"]" * d)
    elif kind == 4:  # huge integer somewhere
        i = rng.randrange(len(b) + 1)
        b[i:i] = b"9" * rng.choice((20, 400, 5000))
    else:  # duplicate a slice
        i = rng.randrange(len(b) + 1)
        j = min(len(b), i + rng.randint(1, 64))
        b[i:i] = b[i:j] * rng.randint(1, 3)
    return bytes(b)


def fuzz(tmp_path: Path, name: str, good: bytes, read, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / name
    path.write_bytes(good)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read(path)  # the unmutated file reads
        for _ in range(MUTATIONS):
            path.write_bytes(mutate(good, rng))
            try:
                read(path)
            except ImfitError as e:
                assert "\n" not in str(e)


def _npz_bytes(gs: GaborSet) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, params=gs.params, size=np.array([gs.width, gs.height]),
             bias=np.array(gs.bias))
    return buf.getvalue()


PRESET = json.dumps({"name": "f", "scheme": "perona-malik", "steps": 10, "every": 5,
                     "live": ["kappa"], "parameters": {"kappa": 0.05}}).encode()
TIMELINE = json.dumps({"keys": [{"at": 0, "edits": "scale:size=1 jitter:seed=2"},
                                {"at": 1, "edits": "scale:size=2 jitter:seed=3"}]}).encode()


@pytest.mark.parametrize("name, make, read", [
    ("a.gabor.json", lambda gs: to_json_text(gs).encode(), imfit.load),
    ("p.json", lambda gs: PRESET, lambda p: load_preset(str(p))),
    ("t.json", lambda gs: TIMELINE, load_timeline),
    ("a.tsv", lambda gs: tsv_text(gs).encode(), exporters.read),
    ("a.csv", lambda gs: csv_text(gs).encode(), exporters.read),
    ("a.coll", lambda gs: coll_text(gs).encode(), exporters.read),
    ("a.jxf", lambda gs: jxf_bytes(gs.params), exporters.read),
    ("a.npz", _npz_bytes, exporters.read),
    ("a.dict.json", lambda gs: dict_text(gs).encode(), exporters.read),
    ("a.txt", lambda gs: txt_text(gs).encode(), imfit.load),
])
def test_reader_survives_mutations(tmp_path, name, make, read):
    fuzz(tmp_path, name, make(sample()), read, seed=sum(map(ord, name)))
