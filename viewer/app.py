"""The two ways to open the Gabor viewer: on a file (`imfit view`) and on a running fit
(`imfit fit ... --view`). Each is one call for cli.py; inputs are checked before any window
opens, so a bad file is one line, not a window that closes again.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet
from viewer.gabor_scene import GaborScene
from viewer.gl_render import check_strategy
from viewer.live import LiveInputs
from viewer.window import check_display, parse_events, run_window

WINDOW_HEIGHT = 720
MAX_WINDOW_WIDTH = 1600


def window_size(width: int, height: int, size: tuple[int, int] | None = None) -> tuple[int, int]:
    """The requested size, or 720 pixels tall at the fitted aspect (at most 1600 wide)."""
    if size is not None:
        return size
    w = round(WINDOW_HEIGHT * width / height)
    if w > MAX_WINDOW_WIDTH:
        return MAX_WINDOW_WIDTH, max(1, round(MAX_WINDOW_WIDTH * height / width))
    return max(1, w), WINDOW_HEIGHT


def _check_screenshot(path: Path | None, force: bool) -> None:
    if path is None:
        return
    if path.suffix.lower() != ".png":
        raise ImfitError(f"{path}: the test-mode screenshot is a .png")
    if path.exists() and not force:
        raise ImfitError(f"{path} exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise ImfitError(f"folder {path.parent} does not exist")


def view_file(path: Path, size: tuple[int, int] | None = None, strategy: str = "billboard",
              frames: int | None = None, events: str = "", screenshot: Path | None = None,
              force: bool = False, echo: Callable[[str], None] = print,
              live: LiveInputs | None = None) -> GaborScene:
    """`imfit view`: a window on a .gabor.json that reloads when the file changes.

    Test mode (`frames`): scripted `events`, then `screenshot` of the last frame. Returns the
    scene (its final state), which tests compare with a headless render.
    """
    import imfit

    check_strategy(strategy)
    evs = parse_events(events)
    if frames is not None and frames < 1:
        raise ImfitError(f"--test-frames must be at least 1, got {frames}")
    _check_screenshot(screenshot, force)
    gs = imfit.load(path)
    check_display()
    scene = GaborScene(gs, source=path, strategy=strategy)
    if live is not None:
        scene.bpm = live.tempo.bpm
    w, h = window_size(gs.width, gs.height, size)
    run_window(scene, w, h, title=f"imfit {path.name}", frames=frames, events=evs,
               screenshot=screenshot, echo=echo, live=live)
    return scene


def fit_size_of(path: Path, mode: str, size: int) -> tuple[int, int]:
    """The fitted size of the first image `imfit fit` will fit (inputs checked on the way)."""
    from PIL import Image

    from imfit.fitting.modes import plan
    from imfit.formats.images import fit_size

    job = next(iter(plan(path, mode, Path("."), None, cuts="off")), None)  # only its size
    if job is None:
        raise ImfitError(f"{path}: nothing to fit")
    try:
        with Image.open(job.image) as im:
            w, h = im.size
    except Exception:  # noqa: BLE001 - the fit itself reports unreadable images properly
        w, h = size, size
    return fit_size(w, h, size)


def fit_and_watch(path: Path, mode: str, out_dir: Path, weight: Path | None, settings: Any,
                  *, frames: int | None = None, screenshot: Path | None = None,
                  force: bool = False, echo: Callable[[str], None] = print,
                  **job_options: Any) -> int:
    """`imfit fit --view`: `imfit.fitting.modes.run_fit_jobs` (same arguments, `job_options`
    its keywords) in a window sized like the first image, showing the fit as it trains.
    Returns the fit's exit status (130 after Ctrl-C)."""
    from imfit.fitting.modes import run_fit_jobs

    def run(snapshot: Callable[[GaborSet], None]) -> int:
        return run_fit_jobs(path, mode, out_dir, weight, settings, force=force, echo=echo,
                            snapshot=snapshot, **job_options)

    w, h = fit_size_of(path, mode, settings.size)
    return fit_with_viewer(run, w, h, frames=frames, screenshot=screenshot, force=force,
                           echo=echo)


def fit_with_viewer(run_fit: Callable[[Callable[[GaborSet], None]], int], width: int,
                    height: int, strategy: str = "billboard", frames: int | None = None,
                    events: str = "", screenshot: Path | None = None, force: bool = False,
                    echo: Callable[[str], None] = print) -> int:
    """Run `run_fit(snapshot)` in a worker thread while a window shows its snapshots.

    The window lives on the main thread (glfw requires it). Closing the window leaves the fit
    running; Ctrl-C stops it the usual way (latest parameters written, marked incomplete).
    Test mode waits for the fit to end. Returns run_fit's exit status.
    """
    check_strategy(strategy)
    evs = parse_events(events)
    _check_screenshot(screenshot, force)
    check_display()
    scene = GaborScene(GaborSet.empty(width, height), strategy=strategy)
    scene.note = "fitting"
    stop = threading.Event()
    done = threading.Event()
    result: dict[str, object] = {}

    def snapshot(gs: GaborSet) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # the fitter's Ctrl-C path: stop and keep the latest
        scene.set_gaborset(gs)

    def work() -> None:
        try:
            result["code"] = run_fit(snapshot)
            scene.note = "fit done"
        except KeyboardInterrupt:  # stopped after its last fit was already written
            result["code"] = 130
        except BaseException as e:  # noqa: BLE001 - re-raised on the main thread below
            result["error"] = e
            scene.note = "fit failed"
        finally:
            done.set()

    # the fit starts once the window is open: without a display nothing is fitted or written
    worker = threading.Thread(target=work, name="imfit-fit", daemon=True)
    try:
        w, h = window_size(width, height)
        run_window(scene, w, h, title="imfit fit", frames=frames, events=evs,
                   screenshot=screenshot, should_close=lambda: "error" in result,
                   on_open=worker.start, echo=echo)
        if not done.is_set():
            print("viewer closed; the fit goes on (Ctrl-C stops it and keeps the latest "
                  "parameters)", file=sys.stderr)
        while worker.is_alive():
            worker.join(0.2)
    except BaseException as e:
        stop.set()  # Ctrl-C or a window error: stop the fit, which keeps its latest parameters
        if worker.is_alive():
            worker.join()
        if not (isinstance(e, KeyboardInterrupt) and "code" in result):
            raise
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return int(result.get("code", 130))  # type: ignore[call-overload]


def view_preset(path: Path, preset: str, size: int | None = 512, steps_per_frame: int = 1,
                window: tuple[int, int] | None = None, frames: int | None = None,
                events: str = "", screenshot: Path | None = None, force: bool = False,
                source: Path | None = None, mask: Path | None = None,
                echo: Callable[[str], None] = print, live: LiveInputs | None = None) -> object:
    """`imfit view --preset NAME IMAGE|FIT`: a diffusion preset running live in the window.

    The input is read like `imfit diffuse` reads it (a fit is rendered first, with torch so the
    window's context is the only GL context). `poisson` needs --source and --mask: the pasted
    source is then dragged with the mouse and the solve warm-starts from the last position.
    """
    import numpy as np

    from imfit.diffusion.engine import load_preset, read_diffusion_input
    from imfit.formats.images import read_image, resize_area
    from viewer.gl_diffusion import DiffusionScene

    evs = parse_events(events)
    if frames is not None and frames < 1:
        raise ImfitError(f"--test-frames must be at least 1, got {frames}")
    if steps_per_frame < 1:
        raise ImfitError(f"--steps-per-frame must be at least 1, got {steps_per_frame}")
    _check_screenshot(screenshot, force)
    p = load_preset(preset)
    check_display()  # before the input is read (a fit is rendered with torch: seconds)
    imgs, notes = read_diffusion_input(path, size)
    for n in notes:
        echo(f"note: {n}")
    image = imgs[0]
    kw: dict[str, object] = {}
    if p.scheme == "poisson":
        if source is None or mask is None:
            raise ImfitError("--preset poisson needs --source SRC and --mask MASK (the picture "
                             "pasted into IMAGE and where); or use imfit blend")
        src = read_image(source)[0]
        m = read_image(mask)[0].mean(-1)
        if m.shape != src.shape[:2]:
            raise ImfitError(f"{mask}: mask is {m.shape[1]}x{m.shape[0]} but the source is "
                             f"{src.shape[1]}x{src.shape[0]}")
        h, w = image.shape[:2]
        if src.shape[0] > h or src.shape[1] > w:
            s = min(h / src.shape[0], w / src.shape[1])
            tw, th = max(1, int(src.shape[1] * s)), max(1, int(src.shape[0] * s))
            src, m = resize_area(src, tw, th), resize_area(m, tw, th)
        kw = {"blend_source": src, "blend_mask": (m > 0.5).astype(np.float32)}
    scene = DiffusionScene(p, image, steps_per_frame=steps_per_frame, **kw)  # type: ignore[arg-type]
    h, w = image.shape[:2]
    ww, wh = window or window_size(w, h)
    run_window(scene, ww, wh, title=f"imfit {p.name} {path.name}", frames=frames, events=evs,
               screenshot=screenshot, echo=echo, live=live)
    return scene


def view_video(video: Path | None, camera: int | None, preset: str | None = None,
               live_fit: int | None = None, size: int = 256, steps_per_frame: int = 1,
               window: tuple[int, int] | None = None, frames: int | None = None,
               events: str = "", screenshot: Path | None = None, force: bool = False,
               seed: int = 0, echo: Callable[[str], None] = print,
               live: LiveInputs | None = None) -> object:
    """`imfit view --video CLIP | --camera N` with `--preset NAME` (the preset runs on the live
    frames) or `--live-fit N` (the frames fitted live as N wavelets). Frames are resized to the
    longer side `size`; everything is checked, and the source opened, before the window."""
    from imfit.live.video import open_source

    evs = parse_events(events)
    if frames is not None and frames < 1:
        raise ImfitError(f"--test-frames must be at least 1, got {frames}")
    if steps_per_frame < 1:
        raise ImfitError(f"--steps-per-frame must be at least 1, got {steps_per_frame}")
    if (preset is None) == (live_fit is None):
        raise ImfitError("with --video/--camera give --preset NAME or --live-fit N (one)")
    if not 8 <= size <= 4096:
        raise ImfitError(f"--preset-size must be 8..4096 for video, got {size}")
    _check_screenshot(screenshot, force)
    check_display()
    if preset is not None:
        from imfit.diffusion.engine import load_preset

        p = load_preset(preset)
        if p.scheme == "poisson":
            raise ImfitError("the poisson preset needs a still source and mask, not a video")
    elif not 1 <= int(live_fit or 0) <= 100_000:
        raise ImfitError(f"--live-fit takes a wavelet count from 1 to 100000, got {live_fit}")
    source = open_source(video, camera, size)  # a camera is opened before torch loads
    name = video.name if video is not None else f"camera {camera}"
    try:
        from viewer.video_scene import LiveFitScene, VideoPresetScene

        if preset is not None:
            scene: object = VideoPresetScene(p, source, steps_per_frame)
            title = f"imfit {p.name} {name}"
        else:
            from imfit.fitting.live import LiveFit

            scene = LiveFitScene(source, LiveFit(int(live_fit or 0), seed=seed),
                                 steps_per_frame)
            title = f"imfit live fit {live_fit} {name}"
        h, w = source.current.shape[:2]
        ww, wh = window or window_size(w, h)
        run_window(scene, ww, wh, title=title, frames=frames, events=evs,  # type: ignore[arg-type]
                   screenshot=screenshot, echo=echo, live=live)
    finally:
        source.close()
    return scene

