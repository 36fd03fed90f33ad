"""The `imfit` command: a thin click group. Each command parses, calls the library, reports.

Heavy imports (torch, moderngl) happen inside command bodies so `imfit --help` is instant.
User errors (ImfitError) become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn library errors into click's one-line errors (exit 2)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from imfit.errors import ImfitError

        try:
            return fn(*args, **kwargs)
        except ImfitError as e:
            raise UserError(str(e)) from None
        except MemoryError:
            raise UserError("out of memory; try a smaller --size or fewer wavelets") from None
        except KeyboardInterrupt as e:
            _ignore_interrupts()
            # imfit.formats.files.Interrupted says what was kept (the frames made so
            # far, a partial fit)
            message = getattr(e, "message", "")
            click.echo(f"interrupted: {message}" if message else "interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


_PROCESS_ENDS_WITH_COMMAND = False  # set by `imfit` itself, not by click's test runner


def _ignore_interrupts() -> None:
    """Once a command stops for Ctrl-C, a second one must not cut the exit short (torch's exit
    handlers print a traceback when interrupted). Only when the process ends with the command."""
    import signal
    import threading

    if _PROCESS_ENDS_WITH_COMMAND and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Imfit(click.Group):
    """The `imfit` group; called as the program (not through CliRunner) it owns the process."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        global _PROCESS_ENDS_WITH_COMMAND
        _PROCESS_ENDS_WITH_COMMAND = True
        return super().__call__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        import warnings

        if _PROCESS_ENDS_WITH_COMMAND:  # a second Ctrl-C is counted, never raised
            from imfit.formats.files import ctrl_c_once_for_process

            ctrl_c_once_for_process()
        with warnings.catch_warnings():
            # numpy's and torch's floating-point RuntimeWarnings (overflow in a cast, 0/0)
            # would print before the one Error line; every value they flag is checked where it
            # matters and refused in that line
            warnings.simplefilter("ignore", RuntimeWarning)
            return super().invoke(ctx)


class UserError(click.ClickException):
    """One line on stderr, exit status 2 (like click's usage errors)."""

    exit_code = 2


def parse_size(value: str | None) -> tuple[int, int] | None:
    """'1920x1080' or '512' (square) -> (w, h), within imfit.validate's picture limits."""
    from imfit.errors import ImfitError
    from imfit.validate import image_size

    if value is None:
        return None
    try:
        parts = [int(v) for v in value.lower().split("x")]
    except ValueError:
        raise UserError(f"{value!r} is not WIDTHxHEIGHT") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 1:
        raise UserError(f"{value!r} is not WIDTHxHEIGHT with positive numbers")
    try:
        return image_size(parts[0], parts[1], "--size")
    except ImfitError as e:
        raise UserError(str(e)) from None


def parse_pair(value: str | None, name: str = "X,Y") -> tuple[float, float] | None:
    """'X,Y' -> two finite numbers (nan and inf refused)."""
    from imfit.errors import ImfitError
    from imfit.validate import point

    if value is None:
        return None
    try:
        return point(value, name)
    except ImfitError as e:
        raise UserError(str(e)) from None


def require_inputs(*paths: Path | None) -> None:
    """Say "no such file" before importing torch (2-3 s, 230 MB) for a command that would
    only fail on it."""
    for p in paths:
        if p is not None and not Path(p).exists():
            raise UserError(f"{p}: no such file or folder")


Renderer = Callable[..., Any]  # (gs, width, height, center=, zoom=) -> float (H, W, 3) 0..1


def note(message: str) -> None:
    """A line the user should see but that is not the result (the torch fallback): stderr."""
    click.echo(message, err=True)


def get_renderer(backend: str = "auto", strategy: str = "billboard") -> Renderer:
    """The frame renderer every picture command uses (imfit.renderers.backends' policy)."""
    from imfit.renderers.backends import get_renderer as library_renderer

    return library_renderer(backend, strategy, note=note)


@click.group(cls=_Imfit, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="imfit")
def main() -> None:
    """Fit photos with Gabor wavelets, render and bend them, export them to creative tools."""


# -- fit ---------------------------------------------------------------------------------------
@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), required=True,
              help="Folder for <stem>.gabor.json, <stem>.png (preview) and <stem>.txt.")
@click.option("--mode", type=click.Choice(["image", "folder", "video", "vm"]), default="image",
              show_default=True, help="How PATH is read (torch-imfit's modes).")
@click.option("--weight", type=click.Path(path_type=Path), default=None,
              help="Weight image, or folder of <name>-wt.png weight maps.")
@click.option("--iterations", type=int, default=200, show_default=True,
              help="Steps at full size; coarser scales get more.")
@click.option("--iter-multiple", type=float, default=1.5, show_default=True,
              help="Step multiplier per coarser scale.")
@click.option("--rescales", type=int, default=2, show_default=True,
              help="Number of coarser scales (each halves the size).")
@click.option("--size", type=int, default=256, show_default=True,
              help="Longer side of the training image in pixels (8..4096).")
@click.option("--num-gabors", type=int, default=256, show_default=True,
              help="Number of wavelets.")
@click.option("--gradient", type=float, default=0.0, help="Weight of an image-gradient loss.")
@click.option("--sobel", type=float, default=0.0, help="Weight of a Sobel-edge loss.")
@click.option("--l1", type=float, default=0.0, help="Weight of an L1 loss.")
@click.option("--global-lr", type=float, default=0.01, show_default=True, help="Learning rate.")
@click.option("--gamma", type=float, default=0.997, show_default=True,
              help="Learning-rate multiplier when the loss stops improving.")
@click.option("--mutation-scale", type=float, default=0.0,
              help="Random parameter mutation strength (0 = off).")
@click.option("--keyframes", type=int, default=10, show_default=True,
              help="Video modes: a fresh (not warm-started) fit at least every N frames.")
@click.option("--cuts", type=click.Choice(["auto", "off"]), default="auto", show_default=True,
              help="Video modes: also a fresh fit at each scene cut (off: every N frames only).")
@click.option("--alpha", type=click.Choice(["composite", "weight"]), default="composite",
              show_default=True, help="RGBA input: composite on --background, or use alpha as "
              "the weight.")
@click.option("--background", default="0,0,0", show_default=True,
              help="R,G,B in 0..1 behind transparent pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--device", default="cpu", show_default=True,
              help="Torch device: cpu, cuda, cuda:N, mps, or auto (the best one present).")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--workers", type=int, default=None,
              help="Fit folder/video/vm frames on a local Dask cluster of N processes; a "
              "re-run resumes (docs/cluster.md).")
@click.option("--cluster", "cluster", default=None, metavar="ADDRESS",
              help="Fit on the Dask scheduler at ADDRESS (tcp://host:8786); see --workers.")
@click.option("--view", is_flag=True,
              help="Watch the fit live in the viewer window while it trains.")
@click.option("--test-frames", type=int, default=None, hidden=True,
              help="With --view: scripted test mode (see imfit view).")
@click.option("--screenshot", type=click.Path(path_type=Path), default=None, hidden=True,
              help="With --view --test-frames: PNG of the last frame.")
@user_errors
def fit(path: Path, output_dir: Path, mode: str, weight: Path | None, iterations: int,
        iter_multiple: float, rescales: int, size: int, num_gabors: int, gradient: float,
        sobel: float, l1: float, global_lr: float, gamma: float, mutation_scale: float,
        keyframes: int, cuts: str, alpha: str, background: str, seed: int, device: str,
        force: bool, workers: int | None, cluster: str | None, view: bool,
        test_frames: int | None, screenshot: Path | None) -> None:
    """Fit Gabor wavelets to an image (or a folder / video of frames)."""
    if view:
        from viewer.window import check_display

        check_display()  # at once, before torch is imported
    from imfit.validate import rgb

    bg = rgb(background, "--background")
    require_inputs(path, weight)
    if workers is not None or cluster is not None:  # its option errors come before torch loads
        from imfit.fitting.distributed import check_cluster_args

        check_cluster_args(mode, workers, cluster, view)
    from imfit.fitting.fitter import FitSettings

    settings = FitSettings(num_gabors=num_gabors, size=size, iterations=iterations,
                           iter_multiple=iter_multiple, rescales=rescales, global_lr=global_lr,
                           plateau_lr_decay=gamma, l1=l1, gradient=gradient, sobel=sobel,
                           mutation_scale=mutation_scale, seed=seed, device=device)
    settings.validate()
    if view:
        from viewer.app import fit_and_watch

        code = fit_and_watch(path, mode, output_dir, weight, settings, frames=test_frames,
                             screenshot=screenshot, force=force, echo=click.echo,
                             keyframes=keyframes, alpha=alpha, background=bg, cuts=cuts)
    else:
        from imfit.fitting.modes import run_fit_jobs

        code = run_fit_jobs(path, mode, output_dir, weight, settings, keyframes=keyframes,
                            alpha=alpha, background=bg, force=force, echo=click.echo,  # type: ignore[arg-type]
                            workers=workers, address=cluster, cuts=cuts)
    if code:
        if code == 130:
            _ignore_interrupts()
        sys.exit(code)


# -- render ------------------------------------------------------------------------------------
@main.command()
@click.argument("fit_path", metavar="FIT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output image (.png/.jpg); with --frames a .mp4, .gif or folder of PNGs.")
@click.option("--size", default=None, help="WIDTHxHEIGHT (default: the fitted size).")
@click.option("--zoom", type=float, default=1.0, show_default=True,
              help="Magnification (2 shows half the height).")
@click.option("--center", default="0,0", show_default=True,
              help="View centre X,Y in plane units (1 = half the image height).")
@click.option("--backend", type=click.Choice(["auto", "gl", "torch"]), default="auto",
              show_default=True, help="Renderer: GL when available (auto), GL only, or torch.")
@click.option("--strategy", type=click.Choice(["billboard", "loop"]), default="billboard",
              show_default=True, help="GL only: instanced quads, or the full-screen loop "
              "(exact reference, slower).")
@click.option("--frames", type=int, default=None,
              help="Render an animation of this many frames (see --animate).")
@click.option("--animate", default=None,
              help="Drift rates in turns per second, e.g. phase=0.5,theta=0.1,rotate=0.05.")
@click.option("--fps", type=float, default=30.0, show_default=True, help="Frames per second.")
@click.option("--audio", type=click.Path(path_type=Path), default=None,
              help="A WAV track: frames react to it (--react) and it is muxed into the MP4.")
@click.option("--react", default="gain=bass:0.6", show_default=True,
              help="With --audio: PARAM=BAND:AMOUNT,... (see imfit animate --help).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def render(fit_path: Path, output: Path, size: str | None, zoom: float, center: str,
           backend: str, strategy: str, frames: int | None, animate: str | None, fps: float,
           audio: Path | None, react: str, force: bool) -> None:
    """Render a fit (any format imfit import reads) to an image or animation at any size/view.

    FIT may also be a folder of fits (the output of fit --mode video): -o clip.mp4 renders
    one frame per fit, in frame order.
    """
    from imfit.jobs import render_file

    click.echo(render_file(fit_path, output, parse_size(size), center=center, zoom=zoom,
                           backend=backend, strategy=strategy, frames=frames, drift=animate,
                           fps=fps, audio=audio, react=react, force=force, note=note))


# -- view --------------------------------------------------------------------------------------
@main.command()
@click.argument("fit_path", metavar="FIT", type=click.Path(path_type=Path), required=False)
@click.option("--size", default=None, help="Window WIDTHxHEIGHT (default: 720 tall, fitted "
              "aspect).")
@click.option("--strategy", type=click.Choice(["billboard", "loop"]), default="billboard",
              show_default=True, help="Starting GL strategy (t toggles it).")
@click.option("--test-frames", type=int, default=None,
              help="Test mode: draw this many frames (t = frame/30 s), then close.")
@click.option("--events", default="",
              help="Test mode script, e.g. '2 key s; 3 key shift+r; 4 drag 40 0; "
              "5 scroll 2 320 240; 6 resize 640 480'.")
@click.option("--screenshot", type=click.Path(path_type=Path), default=None,
              help="Test mode: write the last frame to this PNG.")
@click.option("--force", is_flag=True, help="Overwrite an existing --screenshot.")
@click.option("--preset", default=None,
              help="Run a diffusion preset live on FIT (or on any image) instead.")
@click.option("--preset-size", type=int, default=512, show_default=True,
              help="With --preset: longer side of the diffused image.")
@click.option("--steps-per-frame", type=int, default=None,
              help="With --preset: diffusion steps per drawn frame ([ and ] change it) "
              "[default: 1]; with --live-fit: fit steps per drawn frame [default: 4].")
@click.option("--source", type=click.Path(path_type=Path), default=None,
              help="With --preset poisson: the picture pasted into FIT/IMAGE.")
@click.option("--mask", type=click.Path(path_type=Path), default=None,
              help="With --preset poisson: where the source is pasted (white = inside).")
@click.option("--osc", "osc_port", type=int, default=None, metavar="PORT",
              help="Listen for OSC on UDP PORT (127.0.0.1 only unless --osc-host).")
@click.option("--osc-host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 opens OSC control to the whole network.")
@click.option("--osc-out", default=None, metavar="HOST:PORT",
              help="Send every live value back as OSC when it changes.")
@click.option("--bpm", type=float, default=None,
              help="Tempo: drift rates snap to whole bars (/imfit/tap sets it live).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of /imfit/randomize.")
@click.option("--list-params", is_flag=True,
              help="List every live parameter and OSC address (range, unit, type), then exit.")
@click.option("--video", type=click.Path(path_type=Path), default=None,
              help="Live frames from this clip (loops): with --preset or --live-fit.")
@click.option("--camera", type=int, default=None, metavar="N",
              help="Live frames from camera N (/dev/videoN): with --preset or --live-fit.")
@click.option("--live-fit", type=int, default=None, metavar="N",
              help="With --video/--camera: fit the frames live as N wavelets (128 is live).")
@click.option("--midi", default=None, metavar="PORT",
              help="Read MIDI input PORT (a name, part of one, or its number).")
@click.option("--midi-map", type=click.Path(path_type=Path), default=None,
              help="MIDI mapping JSON: read if it exists; learn mode (l) saves to it.")
@click.option("--audio-in", is_flag=False, flag_value="default", default=None,
              metavar="[DEVICE]", help="React to a live input (default device, or a name or "
              "number from `python -m sounddevice`).")
@click.option("--react", default="gain=bass:0.6", show_default=True,
              help="With --audio-in: PARAM=BAND:AMOUNT,... (as imfit animate --react).")
@click.option("--fullscreen", is_flag=True,
              help="Stage output: fullscreen at the monitor's resolution, no cursor (f11).")
@click.option("--monitor", type=int, default=0, show_default=True,
              help="The monitor --fullscreen (and f11) uses, numbered from 0.")
@user_errors
def view(fit_path: Path | None, size: str | None, strategy: str, test_frames: int | None,
         events: str, screenshot: Path | None, force: bool, preset: str | None,
         preset_size: int, steps_per_frame: int, source: Path | None, mask: Path | None,
         osc_port: int | None, osc_host: str, osc_out: str | None, bpm: float | None,
         seed: int, list_params: bool, video: Path | None, camera: int | None,
         live_fit: int | None, midi: str | None, midi_map: Path | None,
         audio_in: str | None, react: str, fullscreen: bool, monitor: int) -> None:
    """Open the live viewer on a .gabor.json (reloads when the file changes; h lists keys).

    With --preset NAME, run that diffusion preset live on the fit or on an image instead.
    With --osc PORT, every live parameter is also an OSC address (see --list-params).
    With --video CLIP or --camera N, the preset (or --live-fit N) runs on the live frames.
    """
    if list_params:
        from imfit.live.params import list_params as params_text

        click.echo(params_text())
        return
    if fit_path is None and video is None and camera is None:
        raise click.UsageError("give FIT (or --video, --camera, --list-params)")
    from imfit.live.video import check_sources

    check_sources(fit_path, video, camera)
    from viewer.window import check_display

    check_display()  # at once: the viewer's imports alone take seconds (torch)
    from viewer.launch import run_view

    run_view(fit_path, video=video, camera=camera, preset=preset, preset_size=preset_size,
             live_fit=live_fit, steps_per_frame=steps_per_frame, size=parse_size(size),
             strategy=strategy, test_frames=test_frames, events=events, screenshot=screenshot,
             force=force, source=source, mask=mask, seed=seed, echo=click.echo,
             live_options=dict(osc_port=osc_port, osc_host=osc_host, osc_out=osc_out, bpm=bpm,
                               midi=midi, midi_map=midi_map, audio_in=audio_in, react=react,
                               stage=(fullscreen, monitor)))


# -- edit, morph, animate, sheet ---------------------------------------------------------------
@main.command("edit")
@click.argument("fit_path", metavar="FIT", type=click.Path(path_type=Path), required=False)
@click.argument("ops", metavar="OP...", nargs=-1)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output .gabor.json.")
@click.option("--list-ops", is_flag=True, help="List every op and its keys, then exit.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def edit_cmd(fit_path: Path | None, ops: tuple[str, ...], output: Path | None, list_ops: bool,
             force: bool) -> None:
    """Apply edits to a fit, left to right: OP is NAME or NAME:KEY=VALUE,KEY=VALUE.

    \b
    imfit edit a.gabor.json scale:sigma=2 rotate:deg=90 topk:k=100 -o b.gabor.json
    imfit edit a.gabor.json kaleido:n=6 hue:deg=120 -o k.gabor.json
    """
    from imfit.edit.syntax import list_ops as ops_text
    from imfit.jobs import edit_file

    if list_ops:
        click.echo(ops_text())
        return
    if fit_path is None or output is None:
        raise UserError("usage: imfit edit FIT OP... -o OUT.gabor.json (or --list-ops)")
    click.echo(edit_file(fit_path, ops, output, force))


@main.command("morph")
@click.argument("a_path", metavar="A", type=click.Path(path_type=Path))
@click.argument("b_path", metavar="B", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Frames: .mp4, .gif or a folder of PNGs.")
@click.option("--frames", type=int, default=60, show_default=True,
              help="Frame count; the first is A, the last is B.")
@click.option("--fps", type=float, default=30.0, show_default=True)
@click.option("--size", default=None, help="WIDTHxHEIGHT (default: A's fitted size).")
@click.option("--ease", type=click.Choice(["smooth", "linear"]), default="smooth",
              show_default=True, help="Timing curve.")
@click.option("--bounce", is_flag=True, help="Go A -> B -> A (a loop).")
@click.option("--audio", type=click.Path(path_type=Path), default=None,
              help="A WAV track: frames react to it (--react) and it is muxed into the MP4.")
@click.option("--react", default="gain=bass:0.6", show_default=True,
              help="With --audio: PARAM=BAND:AMOUNT,... (see imfit animate --help).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def morph_cmd(a_path: Path, b_path: Path, output: Path, frames: int, fps: float,
              size: str | None, ease: str, bounce: bool, audio: Path | None, react: str,
              force: bool) -> None:
    """Morph fit A into fit B, matching similar wavelets (position, size, colour)."""
    from imfit.jobs import morph_files

    click.echo(morph_files(a_path, b_path, output, frames, fps, size=parse_size(size),
                           ease=ease, bounce=bounce, audio=audio, react=react, force=force,
                           note=note))


@main.command("animate")
@click.argument("fit_path", metavar="FIT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Frames: .mp4, .gif or a folder of PNGs.")
@click.option("--frames", type=int, default=None,
              help="Frame count [default: 120, or the timeline's length].")
@click.option("--fps", type=float, default=30.0, show_default=True)
@click.option("--drift", default="", help="Rates in turns/s: phase=0.5,theta=0.1,rotate=0.02.")
@click.option("--loop", is_flag=True,
              help="Seamless loop: rates snap to whole turns; the timeline wraps.")
@click.option("--timeline", type=click.Path(path_type=Path), default=None,
              help="Keyframe file of edits over time (JSON, see docs/timeline.md).")
@click.option("--size", default=None, help="WIDTHxHEIGHT (default: the fitted size).")
@click.option("--zoom", type=float, default=1.0, show_default=True)
@click.option("--center", default="0,0", show_default=True, help="View centre X,Y.")
@click.option("--audio", type=click.Path(path_type=Path), default=None,
              help="A WAV track: frames react to it (--react) and it is muxed into the MP4.")
@click.option("--react", default="gain=bass:0.6",
              show_default=True, help="With --audio: PARAM=BAND:AMOUNT,... (bands: bass, mid, "
              "high, all, onset; params as in `imfit view --list-params`).")
@click.option("--bpm", type=float, default=None,
              help="With --loop: the loop lasts whole bars and rates snap to bars.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def animate_cmd(fit_path: Path, output: Path, frames: int | None, fps: float, drift: str,
                loop: bool, timeline: Path | None, size: str | None, zoom: float, center: str,
                audio: Path | None, react: str, bpm: float | None, force: bool) -> None:
    """Animate a fit: steady drift, a keyframe timeline of edits, and/or an audio track."""
    from imfit.jobs import animate_file

    click.echo(animate_file(fit_path, output, frames, fps, drift=drift, loop=loop,
                            timeline=timeline, size=parse_size(size), center=center, zoom=zoom,
                            audio=audio, react=react, bpm=bpm, force=force, note=note))


@main.command("sheet")
@click.argument("fit_path", metavar="FIT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output image (.png).")
@click.option("--param", "param", required=True,
              help="What to vary: sigma, gamma, wavelength, size, hue, rotate, spin, phase, "
              "gain, topk, jitter, kaleido, tile, zoom, or OP.KEY.")
@click.option("--range", "value_range", required=True, help="LOW,HIGH (inclusive).")
@click.option("--count", type=int, default=6, show_default=True, help="Number of cells.")
@click.option("--log", "log_spacing", is_flag=True, help="Geometric spacing (for factors).")
@click.option("--cols", type=int, default=None, help="Columns [default: about square].")
@click.option("--cell", type=int, default=192, show_default=True, help="Cell width in pixels.")
@click.option("--base", multiple=True, help="Edits applied before the varied one (repeatable).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def sheet_cmd(fit_path: Path, output: Path, param: str, value_range: str, count: int,
              log_spacing: bool, cols: int | None, cell: int, base: tuple[str, ...],
              force: bool) -> None:
    """A contact sheet: a labelled grid of one parameter's variations, to choose by eye."""
    from imfit.jobs import sheet_file

    click.echo(sheet_file(fit_path, output, param, value_range, count, log_spacing=log_spacing,
                          cols=cols, cell=cell, base=base, force=force, note=note))


# -- export / import ---------------------------------------------------------------------------
@main.command("export")
@click.argument("fit_path", metavar="FIT", type=click.Path(path_type=Path), required=False)
@click.option("--to", "target", default=None, help="Target (see --list).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Folder for the exported files (created if missing).")
@click.option("--max", "max_n", type=int, default=None,
              help="Keep the N strongest wavelets (targets that embed data have a cap).")
@click.option("--variant", default=None, help="Target variant (glsl: texture, block, uniforms).")
@click.option("--list", "list_targets", is_flag=True, help="List the targets and their files.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@user_errors
def export_cmd(fit_path: Path | None, target: str | None, output: Path | None,
               max_n: int | None, variant: str | None, list_targets: bool, force: bool) -> None:
    """Export a fit to a creative tool: imfit export FIT --to TARGET -o FOLDER."""
    import exporters

    if list_targets:
        click.echo("\n".join(exporters.describe_targets()))
        return
    if fit_path is None or target is None or output is None:
        raise click.UsageError("give FIT, --to TARGET and -o FOLDER (or --list)")
    paths, notes = exporters.export_file(fit_path, target, output, max_n=max_n, variant=variant,
                                         force=force)
    for line in notes:
        click.echo(line)
    names = ", ".join(p.name for p in paths)
    click.echo(f"wrote {len(paths)} file{'s' if len(paths) != 1 else ''} to {output}: {names}")


@main.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The .gabor.json to write.")
@click.option("--size", default=None,
              help="WIDTHxHEIGHT of the fitted image, for files that do not hold it "
                   "(tsv, csv, jxf, torch-imfit txt; default 256x256).")
@click.option("--bias", default=None, help="R,G,B bias for files that do not hold it "
                                           "(default 0.5,0.5,0.5).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def import_cmd(path: Path, output: Path, size: str | None, bias: str | None,
               force: bool) -> None:
    """Read an exported table (json, tsv, coll, csv, jxf, npz) or a torch-imfit .txt back."""
    from imfit.jobs import import_file

    click.echo(import_file(path, output, parse_size(size), bias, force))


# -- diffusion presets -------------------------------------------------------------------------
@main.command()
@click.argument("name", required=False)
@click.option("--randomise", "seed", type=int, default=None, metavar="SEED",
              help="Draw NAME's parameters from its ranges with SEED (the viewer's x key) and "
                   "write them as a preset .json (-o).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Preset .json to write (default NAME-rSEED.json).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def presets(name: str | None, seed: int | None, output: Path | None, force: bool) -> None:
    """List the diffusion presets (imfit diffuse --preset NAME, imfit blend); with NAME, show
    one preset's parameters and randomise ranges; with --randomise, write a variation."""
    from imfit.diffusion.engine import draw_ranges, list_presets, load_preset
    from imfit.errors import ImfitError

    if name is None:
        if seed is not None or output is not None:
            raise ImfitError("--randomise and -o need a preset NAME")
        for p in list_presets():
            click.echo(f"{p.name:20s} {p.description}")
        return
    if seed is not None:
        from imfit.jobs import randomised_preset_file

        click.echo(randomised_preset_file(name, seed, output, force))
        return
    if output is not None:
        raise ImfitError("-o writes a randomised preset: give --randomise SEED")
    pr = load_preset(name)
    ranges = draw_ranges(pr)
    click.echo(f"{pr.name} ({pr.scheme}, {pr.steps} steps, every {pr.every}): "
               f"{pr.description}")
    for k, v in pr.params.items():
        lo_hi = ranges.get(k)
        where = f"  randomise [{lo_hi[0]:g}, {lo_hi[1]:g}]" if lo_hi else ""
        live = "  live" if k in pr.live else ""
        click.echo(f"  {k:14s} {v!s:10s}{live}{where}")


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--preset", "preset_name", default="perona-malik", show_default=True,
              help="Preset name (see `imfit presets`) or a preset .json file.")
@click.option("--steps", type=int, default=None,
              help="Steps in all (image) or per video frame (default: the preset's).")
@click.option("--every", type=int, default=None,
              help="Write a frame every N steps (default: the preset's).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a preset parameter, e.g. --set kappa=0.05 (repeatable).")
@click.option("--size", type=int, default=None,
              help="Longer side in pixels (default: the input's; a fit's fitted size).")
@click.option("--fps", type=float, default=30.0, show_default=True, help="Video frame rate.")
@click.option("--backend", type=click.Choice(["torch", "gl"]), default="torch",
              show_default=True, help="Diffusion engine: torch (CPU/GPU) or GLSL (headless GL).")
@click.option("--device", default="cpu", show_default=True,
              help="Torch device (torch backend): cpu, cuda, cuda:N, mps, or auto.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="out.mp4, out.gif or a folder for numbered PNGs.")
@click.option("--audio", type=click.Path(path_type=Path), default=None,
              help="With a fit as INPUT, a WAV track: the fit's frames react to it (--react) "
              "and it is muxed into the MP4.")
@click.option("--react", default="gain=bass:0.6", show_default=True,
              help="With --audio: PARAM=BAND:AMOUNT,... (see imfit animate --help).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def diffuse(input_path: Path, preset_name: str, steps: int | None, every: int | None,
            sets: tuple[str, ...], size: int | None, fps: float, backend: str, device: str,
            output: Path, audio: Path | None, react: str, force: bool) -> None:
    """Run a diffusion preset on an image, a fit (.gabor.json, rendered first), a folder of
    frames or a video, and write the frames."""
    from imfit.jobs import diffuse_file

    click.echo(diffuse_file(input_path, output, preset_name, steps=steps, every=every,
                            sets=sets, size=size, fps=fps, backend=backend, device=device,
                            audio=audio,
                            react=react, force=force,
                            echo=click.echo, note=note))


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--mask", type=click.Path(path_type=Path), required=True,
              help="Mask picture, the size of SRC: white = paste (its alpha counts too).")
@click.option("--offset", default=None,
              help="X,Y of SRC's top-left corner in DST, in pixels (default: centred).")
@click.option("--mixed", is_flag=True,
              help="Mixed gradients: keep DST's texture where it is stronger than SRC's.")
@click.option("--backend", type=click.Choice(["torch", "gl"]), default="torch",
              show_default=True,
              help="Multigrid-preconditioned CG on the CPU (torch, float64) or in GLSL.")
@click.option("--device", default="cpu", show_default=True,
              help="Torch device (torch backend): cpu, cuda, cuda:N, mps, or auto.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output picture (.png).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def blend(src: Path, dst: Path, mask: Path, offset: str | None, mixed: bool, backend: str,
          device: str, output: Path, force: bool) -> None:
    """Seamless cloning (Poisson image editing): paste SRC into DST inside MASK; pixels
    outside the mask stay exactly DST's."""
    from imfit.jobs import blend_file

    off = parse_pair(offset)
    if off is not None and not all(float(v).is_integer() for v in off):
        raise click.BadParameter(f"{offset!r} must be whole pixels", param_hint="--offset")
    click.echo(blend_file(src, dst, mask, output, None if off is None else
                          (int(off[0]), int(off[1])), mixed=mixed, backend=backend,
                          device=device, force=force, note=note))


if __name__ == "__main__":
    main()
