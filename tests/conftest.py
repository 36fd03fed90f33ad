"""Shared fixtures: sample images, one small real fit per session, a session-wide EGL context.

GL rule: in CI (CI=true) a test that needs GL and cannot get a context FAILS; elsewhere it skips
with the reason, so a laptop without EGL can still run the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# `make test-hosts` sets it: the real-bpy tests (marker bpy) run there, not in `make test`
HOSTS = os.environ.get("IMFIT_TEST_BLENDER", "") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without IMFIT_TEST_BLENDER=1 the bpy tests are deselected (not skipped): `make test`
    leaves them to `make test-hosts`, which CI runs after it and where a missing bpy FAILS."""
    if HOSTS:
        return
    bpy_items = [it for it in items if it.get_closest_marker("bpy")]
    if bpy_items:
        config.hook.pytest_deselected(items=bpy_items)
        items[:] = [it for it in items if not it.get_closest_marker("bpy")]


@pytest.fixture(scope="session")
def assets() -> Path:
    return ASSETS


@pytest.fixture(scope="session")
def small_fit():
    """A real fit of the astronaut at 64 px with 96 wavelets (a few seconds, once per session)."""
    from imfit.fitting.fitter import FitSettings, fit_array
    from imfit.formats.images import load_target

    target, _ = load_target(ASSETS / "astronaut.png", 64)
    s = FitSettings(num_gabors=96, size=64, iterations=60, rescales=1, seed=1)
    res = fit_array(target, s, meta={"source": "astronaut.png"})
    return res.gaborset, target


@pytest.fixture(scope="session")
def fit_file(small_fit, tmp_path_factory) -> Path:
    import imfit

    p = tmp_path_factory.mktemp("fit") / "astronaut.gabor.json"
    imfit.save(small_fit[0], p)
    return p


@pytest.fixture(scope="session")
def gl_ctx():
    """One headless moderngl context (EGL, Mesa llvmpipe here) for the whole session."""
    try:
        import moderngl

        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception as e:  # noqa: BLE001 - any failure means "no GL here"
        if IN_CI:
            pytest.fail(f"CI=true and no EGL OpenGL context could be created: {e}")
        pytest.skip(f"no EGL OpenGL context: {e}")
    yield ctx
    ctx.release()


def random_params(n: int, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """Plausible random wavelets (positions in the frame, widths of a few pixels at 64 px)."""
    rng = np.random.default_rng(seed)
    p = np.zeros((n, 12), dtype=np.float64)
    p[:, 0:2] = rng.uniform(-1, 1, (n, 2))
    p[:, 2] = rng.uniform(-np.pi, np.pi, n)
    p[:, 3:5] = rng.uniform(0.03, 0.25, (n, 2))
    p[:, 5] = rng.uniform(0.06, 0.6, n)
    p[:, 6:9] = rng.uniform(-np.pi, np.pi, (n, 3))
    p[:, 9:12] = rng.uniform(0, 0.3, (n, 3))
    return p.astype(dtype)


@pytest.fixture(scope="session")
def xvfb_display():
    """A private Xvfb display (':N') for window tests, started once; DISPLAY points at it.

    In CI a missing Xvfb or one that does not come up FAILS the test (like gl_ctx).
    """
    import shutil
    import subprocess
    import time

    def unavailable(why: str) -> None:
        if IN_CI:
            pytest.fail(f"CI=true and no X display for window tests: {why}")
        pytest.skip(f"no X display for window tests: {why}")

    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        unavailable("Xvfb is not installed (apt-get install xvfb)")
    num = next(n for n in range(90, 400) if not Path(f"/tmp/.X{n}-lock").exists()
               and not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen([xvfb, f":{num}", "-screen", "0", "1280x1024x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not Path(f"/tmp/.X11-unix/X{num}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            unavailable(f"Xvfb :{num} did not start within 15 s")
        time.sleep(0.05)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{num}"
    yield f":{num}"
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old
    proc.terminate()
    proc.wait(10)
