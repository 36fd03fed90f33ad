"""The `.maxpat` Max patch, validated against the structure Max writes and reads.

Max cannot be installed here. A patcher is JSON: {"patcher": {"boxes": [{"box": {...}}],
"lines": [{"patchline": {"source": [id, outlet], "destination": [id, inlet]}}]}}; Max drops a
cord to a port an object does not have, so every cord is checked against the object's ports.
What the patch does is checked by meaning: it loads the files the export wrote, draws the slab
at 1280 x 720 regardless of its 12 x N input (@adapt 0), and its number boxes reach the shader
parameters the .jxs declares, whose effect the shader test compares with torch.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import exporters
from imfit import GaborSet

MAXCLASSES = {"newobj", "message", "flonum", "comment"}
# Max / Jitter object names the patch may type into object boxes
OBJECTS = {"loadbang", "t", "jit.world", "jit.matrix", "jit.gl.slab", "jit.gl.videoplane",
           "coll", "pak", "prepend"}


def _export(stem: str = "fit") -> dict[str, bytes]:
    p = np.random.default_rng(1).uniform(0.05, 0.3, (7, 12)).astype(np.float32)
    return exporters.build(GaborSet(p, width=96, height=64), "max", stem).files


def _patch(files: dict[str, bytes], stem: str = "fit") -> dict:
    return json.loads(files[f"{stem}.maxpat"])["patcher"]


def _boxes(patch: dict) -> dict[str, dict]:
    return {b["box"]["id"]: b["box"] for b in patch["boxes"]}


def test_the_patch_has_maxs_structure_and_every_cord_reaches_a_port():
    patch = _patch(_export())
    assert patch["fileversion"] == 1 and patch["classnamespace"] == "box"
    boxes = _boxes(patch)
    assert len(boxes) == len(patch["boxes"])  # ids are unique
    for box in boxes.values():
        assert box["maxclass"] in MAXCLASSES
        assert len(box["patching_rect"]) == 4 and all(isinstance(v, float)
                                                      for v in box["patching_rect"])
        assert len(box["outlettype"]) == box["numoutlets"]
        if box["maxclass"] == "newobj":
            assert box["text"].split()[0] in OBJECTS
    for line in patch["lines"]:
        (src, out), (dst, inl) = line["patchline"]["source"], line["patchline"]["destination"]
        assert out < boxes[src]["numoutlets"], line
        assert inl < boxes[dst]["numinlets"], line


def _by_text(patch: dict, pattern: str) -> dict:
    found = [b for b in _boxes(patch).values() if re.search(pattern, b.get("text", ""))]
    assert len(found) == 1, pattern
    return found[0]


def _feeds(patch: dict, src: dict, dst: dict) -> bool:
    """Is there a path of cords from src to dst?"""
    edges: dict[str, set[str]] = {}
    for line in patch["lines"]:
        edges.setdefault(line["patchline"]["source"][0], set()).add(
            line["patchline"]["destination"][0])
    seen, todo = set(), [src["id"]]
    while todo:
        n = todo.pop()
        if n == dst["id"]:
            return True
        if n not in seen:
            seen.add(n)
            todo += edges.get(n, ())
    return False


@pytest.mark.parametrize("stem", ["fit", "mum's photo"])
def test_the_patch_loads_the_exported_files_and_draws_at_a_stage_size(stem):
    files = _export(stem)
    patch = _patch(files, stem)
    slab = _by_text(patch, r"^jit\.gl\.slab ")
    assert "@adapt 0" in slab["text"] and "@dim 1280 720" in slab["text"]
    for suffix, what in ((".jxf", r"^read "), (".coll", r"^read "), (".jxs", r"@file ")):
        m = re.search(what + r'("([^"]+)"|(\S+))', next(
            b["text"] for b in _boxes(patch).values() if suffix in b.get("text", "")))
        assert (m.group(2) or m.group(3)) == stem + suffix and stem + suffix in files
    matrix = _by_text(patch, r"^jit\.matrix ")
    assert matrix["text"].split()[2:] == ["1", "float32", "12", "7"]  # planes, type, 12 x N
    world = _by_text(patch, r"^jit\.world ")
    plane = _by_text(patch, r"^jit\.gl\.videoplane ")
    # the frame chain, port by port: world's per-frame bang -> matrix out -> slab -> its
    # texture outlet (0) into the videoplane that shows it
    cords = {(tuple(c["patchline"]["source"]), tuple(c["patchline"]["destination"]))
             for c in patch["lines"]}
    for a, b in ((world, matrix), (matrix, slab), (slab, plane)):
        assert ((a["id"], 0), (b["id"], 0)) in cords, (a["text"], b["text"])
    assert _feeds(patch, _by_text(patch, r"^loadbang$"), matrix)


def test_the_number_boxes_drive_parameters_the_shader_declares():
    files = _export()
    patch = _patch(files)
    jxs = ET.fromstring(files["fit.jxs"].decode())
    declared = {p.get("name") for p in jxs.iter("param")}
    slab = _by_text(patch, r"^jit\.gl\.slab ")
    numbers = [b for b in _boxes(patch).values() if b["maxclass"] == "flonum"]
    driven = set()
    for msg in _boxes(patch).values():
        m = re.fullmatch(r"(?:param|prepend param) (\w+)(?: \$1)?", msg.get("text", ""))
        if m and any(_feeds(patch, n, msg) for n in numbers) and _feeds(patch, msg, slab):
            driven.add(m.group(1))
    assert driven == {"zoom", "gain", "phase", "center"} and driven <= declared
    inits = {b["text"] for b in _boxes(patch).values() if b["maxclass"] == "message"
             and re.fullmatch(r"-?\d+\.\d", b["text"])}
    assert inits == {"1.0", "0.0"}  # zoom and gain open at 1, phase at 0: the photo

