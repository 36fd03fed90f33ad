"""Run by the bpy venv's Python (not by pytest): execute an exported Blender importer script as
`python script.py --render out.exr`, then read the EXR back with bpy and save it as .npy (the
test's own Python has no EXR reader)."""

import runpy
import sys

import bpy
import numpy as np

script, exr, npy, samples = sys.argv[1:5]
sys.argv = [script, "--render", exr, "--samples", samples]
runpy.run_path(script, run_name="__main__")
img = bpy.data.images.load(exr)
w, h = img.size
pixels = np.array(img.pixels[:], dtype=np.float32).reshape(h, w, 4)[::-1]  # bpy rows: bottom-up
np.save(npy, pixels)
print("blender", bpy.app.version_string)
