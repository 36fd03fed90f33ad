"""The Blender importer against the real `bpy` wheel: it builds the OSL material and a Cycles
CPU render of it matches torch.

Heavy (a 374 MB wheel in its own Python 3.11 venv with numpy < 2), so it runs only under
`make test-blender`, which creates `.venv-blender` and sets IMFIT_TEST_BLENDER=1; `make test`
skips it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tolerances import BLENDER_VS_TORCH

import exporters
import imfit

ROOT = Path(__file__).resolve().parent.parent
BPY_PYTHON = Path(os.environ.get("IMFIT_BPY_PYTHON", ROOT / ".venv-blender" / "bin" / "python"))
WANTED = os.environ.get("IMFIT_TEST_BLENDER", "") == "1"

pytestmark = pytest.mark.skipif(not WANTED, reason="Blender test: run `make test-blender`")


def _render(gs: imfit.GaborSet, tmp_path: Path, samples: int = 1) -> np.ndarray:
    if not BPY_PYTHON.exists():
        pytest.fail(f"{BPY_PYTHON} missing: `make test-blender` creates it")
    exporters.export(gs, "blender", tmp_path, stem="fit")
    r = subprocess.run([str(BPY_PYTHON), str(ROOT / "tests" / "blender_driver.py"),
                        str(tmp_path / "fit_blender.py"), str(tmp_path / "out.exr"),
                        str(tmp_path / "out.npy"), str(samples)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return np.load(tmp_path / "out.npy")[..., :3]


def test_cycles_osl_render_matches_torch(small_fit, tmp_path):
    gs = small_fit[0]
    out = _render(gs, tmp_path)
    ref = imfit.render(gs, gs.width, gs.height)
    assert out.shape == ref.shape
    err = np.abs(out - ref).max()
    print(f"blender vs torch: max {err:.3g}, mean {np.abs(out - ref).mean():.3g}")
    assert err <= BLENDER_VS_TORCH
    assert out.std() > 0.05


def test_importer_handles_a_wide_fit(tmp_path):
    """Non-square: the plane, UVs and orthographic camera must keep the aspect and y down."""
    from conftest import random_params

    gs = imfit.GaborSet(random_params(24, seed=7), 96, 48, (0.3, 0.5, 0.7))
    out = _render(gs, tmp_path)
    ref = imfit.render(gs, 96, 48)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= BLENDER_VS_TORCH
