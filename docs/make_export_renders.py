"""Make docs/img/exporters.png: one fit rendered by torch and by every exported shader in the
project's moderngl harness (the one tests/test_export_shaders.py uses;
tests/test_hosts_browser.py checks the web page in Chromium itself), plus Blender when
`make test-blender` has made .venv-blender.

    .venv/bin/python docs/make_export_renders.py FIT.gabor.json [--size 160]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import shader_hosts  # noqa: E402

import exporters  # noqa: E402
import imfit  # noqa: E402
from viewer.context import headless_context  # noqa: E402

TARGETS = ["glsl", "touchdesigner", "max", "isf", "shadertoy", "web"]


def blender(gs: imfit.GaborSet, size: int) -> np.ndarray | None:
    py = ROOT / ".venv-blender" / "bin" / "python"
    if not py.exists():
        return None
    with tempfile.TemporaryDirectory() as d:
        exporters.export(gs, "blender", d, stem="fit")
        subprocess.run([str(py), str(Path(d) / "fit_blender.py"), "--render",
                        str(Path(d) / "o.png")], check=True, capture_output=True, cwd=d)
        # the script renders at the fitted size (Cycles, the nodes path, a PNG of display
        # values); resample only for the sheet
        img = np.asarray(Image.open(Path(d) / "o.png").convert("RGB"), np.float32) / 255.0
    err = np.abs(img - imfit.render(gs)).max()
    print(f"{'blender':14} max |export - torch| = {err:.2g} (at the fitted size)")
    return np.asarray(Image.fromarray((img * 255 + 0.5).astype(np.uint8)).resize(
        (size, size), Image.NEAREST)) / 255.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("fit")
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "img" / "exporters.png"))
    a = ap.parse_args()
    gs = exporters.read(a.fit)
    h = a.size
    w = round(h * gs.aspect)
    ctx = headless_context()
    tiles = [("torch (reference)", imfit.render(gs, w, h))]
    for t in TARGETS:
        out = shader_hosts.render_export(ctx, gs, t, w, h)[..., :3]
        err = np.abs(out - tiles[0][1]).max()
        print(f"{t:14} max |export - torch| = {err:.2g}")
        tiles.append((t, out))
    b = blender(gs, h) if gs.width == gs.height else None
    if b is not None:
        tiles.append(("blender (Cycles)", b))
    pad = 18
    sheet = Image.new("RGB", (len(tiles) * (w + 4), h + pad), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for k, (name, img) in enumerate(tiles):
        tile = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
        sheet.paste(tile, (k * (w + 4), pad))
        draw.text((k * (w + 4) + 3, 3), name, fill=(230, 230, 230))
    sheet.save(a.output, optimize=True)
    print("wrote", a.output)


if __name__ == "__main__":
    main()
