"""The `imfit` command: a thin click group. Each command parses, calls the library, reports.

Heavy imports (torch, moderngl) happen inside command bodies so `imfit --help` is instant.
User errors (ImfitError) become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import functools
import math
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


def get_renderer(backend: str = "auto", strategy: str = "billboard") -> Renderer:
    """The frame renderer every picture command uses (imfit.renderers.backends' policy)."""
    from imfit.renderers.backends import get_renderer as library_renderer

    return library_renderer(backend, strategy, note=lambda m: click.echo(m, err=True))


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
              help="Video modes: a fresh (not warm-started) fit every N frames.")
@click.option("--alpha", type=click.Choice(["composite", "weight"]), default="composite",
              show_default=True, help="RGBA input: composite on --background, or use alpha as "
              "the weight.")
@click.option("--background", default="0,0,0", show_default=True,
              help="R,G,B in 0..1 behind transparent pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--device", default="cpu", show_default=True,
              help="Torch device: cpu, cuda, cuda:N, mps, or auto (the best one present).")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
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
        keyframes: int, alpha: str, background: str, seed: int, device: str,
        force: bool, view: bool, test_frames: int | None, screenshot: Path | None) -> None:
    """Fit Gabor wavelets to an image (or a folder / video of frames)."""
    if view:
        from viewer.window import check_display

        check_display()  # at once, before torch is imported
    from imfit.validate import rgb

    bg = rgb(background, "--background")
    require_inputs(path, weight)
    from imfit.fitting.fitter import FitSettings
    from imfit.fitting.modes import run_fit_jobs

    settings = FitSettings(num_gabors=num_gabors, size=size, iterations=iterations,
                           iter_multiple=iter_multiple, rescales=rescales, global_lr=global_lr,
                           gamma=gamma, l1=l1, gradient=gradient, sobel=sobel,
                           mutation_scale=mutation_scale, seed=seed, device=device)
    settings.validate()
    if view:
        from viewer.app import fit_size_of, fit_with_viewer

        def run(snapshot: Callable[..., None]) -> int:
            return run_fit_jobs(path, mode, output_dir, weight, settings, keyframes=keyframes,
                                alpha=alpha, background=bg, force=force,  # type: ignore[arg-type]
                                echo=click.echo, snapshot=snapshot)

        w, h = fit_size_of(path, mode, size)
        code = fit_with_viewer(run, w, h, frames=test_frames, screenshot=screenshot,
                               force=force, echo=click.echo)
    else:
        code = run_fit_jobs(path, mode, output_dir, weight, settings, keyframes=keyframes,
                            alpha=alpha, background=bg, force=force, echo=click.echo)  # type: ignore[arg-type]
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
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def render(fit_path: Path, output: Path, size: str | None, zoom: float, center: str,
           backend: str, strategy: str, frames: int | None, animate: str | None, fps: float,
           force: bool) -> None:
    """Render a fit (any format imfit import reads) to an image or animation at any size/view.

    FIT may also be a folder of fits (the output of fit --mode video): -o clip.mp4 renders
    one frame per fit, in frame order.
    """
    from imfit import validate
    from imfit.errors import ImfitError

    wh = parse_size(size)
    c = parse_pair(center, "--center")
    if not (zoom > 0 and zoom < 1e6):
        raise ImfitError(f"--zoom must be positive, got {zoom}")
    if animate is not None and frames is None:
        raise ImfitError("--animate needs --frames N")
    if frames is not None:
        validate.frame_count(frames, "--frames")
        validate.fps(fps, "--fps")
    require_inputs(fit_path)
    import imfit
    from imfit.edit import drift_frames, parse_drift
    from imfit.formats.images import check_image_output, save_png
    from imfit.formats.video import check_output, write_frames

    rates = parse_drift(animate or "")
    if fit_path.is_dir():  # a folder of fits (fit --mode video): one frame per fit
        from imfit.formats.readers import list_fits

        if frames is not None or animate is not None:
            raise ImfitError("a folder of fits renders one frame per fit; drop --frames")
        paths = list_fits(fit_path)
        check_output(output, force, fps)
        first = imfit.load(paths[0])
        w, h = wh or (first.width, first.height)
        validate.frames_output(output, len(paths), w, h)
        renderer = get_renderer(backend, strategy)
        n = write_frames((renderer(imfit.load(p), w, h, center=c, zoom=zoom) for p in paths),
                         output, fps, force)
        click.echo(f"wrote {output} ({n} frames from {len(paths)} fits, {w}x{h})")
        return
    if frames is None:
        check_image_output(output, force)
    else:
        check_output(output, force, fps)
    gs = imfit.load(fit_path)
    w, h = wh or (gs.width, gs.height)
    if frames is not None:
        validate.frames_output(output, frames, w, h)
    renderer = get_renderer(backend, strategy)
    if frames is None:
        save_png(renderer(gs, w, h, center=c, zoom=zoom), output, overwrite=force)
        click.echo(f"wrote {output} ({w}x{h}, {len(gs)} wavelets)")
        return
    n = write_frames((renderer(s, w, h, center=c, zoom=zoom)
                      for s in drift_frames(gs, frames, fps, rates)), output, fps, force)
    click.echo(f"wrote {output} ({n} frames, {w}x{h}, {len(gs)} wavelets)")


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
@click.option("--steps-per-frame", type=int, default=1, show_default=True,
              help="With --preset: diffusion steps per drawn frame ([ and ] change it).")
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
@user_errors
def view(fit_path: Path | None, size: str | None, strategy: str, test_frames: int | None,
         events: str, screenshot: Path | None, force: bool, preset: str | None,
         preset_size: int, steps_per_frame: int, source: Path | None, mask: Path | None,
         osc_port: int | None, osc_host: str, osc_out: str | None, bpm: float | None,
         seed: int, list_params: bool) -> None:
    """Open the live viewer on a .gabor.json (reloads when the file changes; h lists keys).

    With --preset NAME, run that diffusion preset live on the fit or on an image instead.
    With --osc PORT, every live parameter is also an OSC address (see --list-params).
    """
    if list_params:
        from imfit.live.params import list_params as params_text

        click.echo(params_text())
        return
    if fit_path is None:
        raise click.UsageError("give FIT (or --list-params)")
    from viewer.window import check_display

    check_display()  # at once: the viewer's imports alone take seconds (torch)
    from viewer.live import open_live

    live = open_live(osc_port, osc_host, osc_out, bpm, seed, echo=click.echo)
    try:
        if preset is not None:
            from viewer.app import view_preset

            view_preset(fit_path, preset, preset_size, steps_per_frame, parse_size(size),
                        test_frames, events, screenshot, force, source, mask, echo=click.echo,
                        live=live)
            return
        from viewer.app import view_file

        view_file(fit_path, parse_size(size), strategy, test_frames, events, screenshot,
                  force, echo=click.echo, live=live)
    finally:
        live.close()


# -- edit, morph, animate, sheet ---------------------------------------------------------------
def _frame_size(size: str | None, gs: Any) -> tuple[int, int]:
    wh = parse_size(size)
    return wh or (gs.width, gs.height)


def _write_video(frames: Any, output: Path, fps: float, force: bool, what: str) -> None:
    from imfit.formats.video import write_frames

    n = write_frames(frames, output, fps=fps, force=force)
    click.echo(f"wrote {output} ({n} frames at {fps:g} fps, {what})")


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
    import imfit
    from imfit.edit.syntax import edit_with_history, parse_ops
    from imfit.edit.syntax import list_ops as ops_text
    from imfit.errors import ImfitError
    from imfit.formats.gabor_json import check_fit_output

    if list_ops:
        click.echo(ops_text())
        return
    if fit_path is None or output is None:
        raise ImfitError("usage: imfit edit FIT OP... -o OUT.gabor.json (or --list-ops)")
    if not ops:
        raise ImfitError("no edit ops given; `imfit edit --list-ops` lists them")
    chain = parse_ops(ops)  # all parsed before any work, so a typo never half-runs
    check_fit_output(output, force)
    gs = imfit.load(fit_path)
    out = edit_with_history(gs, chain)
    imfit.save(out, output, overwrite=force)
    click.echo(f"wrote {output} ({len(gs)} -> {len(out)} wavelets; "
               f"{' '.join(o.text() for o in chain)})")


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
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def morph_cmd(a_path: Path, b_path: Path, output: Path, frames: int, fps: float,
              size: str | None, ease: str, bounce: bool, force: bool) -> None:
    """Morph fit A into fit B, matching similar wavelets (position, size, colour)."""
    from imfit import validate

    validate.frame_count(frames, "--frames", lo=2)
    validate.fps(fps, "--fps")
    require_inputs(a_path, b_path)
    import imfit
    from imfit.edit.morph import morph_sets
    from imfit.formats.video import check_output

    check_output(output, force, fps)
    a, b = imfit.load(a_path), imfit.load(b_path)
    w, h = _frame_size(size, a)
    validate.frames_output(output, 2 * frames - 2 if bounce else frames, w, h)
    sets = morph_sets(a, b, frames, ease, bounce=bounce)
    render_fn = get_renderer("auto")
    _write_video((render_fn(s, w, h) for s in sets), output, fps, force,
                 f"{len(a)} -> {len(b)} wavelets")


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
    import imfit
    from imfit import validate
    from imfit.edit import parse_drift
    from imfit.edit.animate import (
        animation_sets,
        describe_rates,
        load_timeline,
        loop_rates,
        timeline_duration,
    )
    from imfit.errors import ImfitError
    from imfit.formats.video import check_output
    from imfit.live.audio import plan_audio, react_sets, write_with_audio
    from imfit.live.tempo import check_bpm, snap_frames, snap_rate

    check_output(output, force, fps)
    if not (zoom > 0 and zoom < 1e6):
        raise ImfitError(f"--zoom must be positive, got {zoom}")
    validate.fps(fps, "--fps")
    c = parse_pair(center, "--center")
    rates = parse_drift(drift)
    tl = load_timeline(timeline) if timeline is not None else None
    plan = plan_audio(audio, react, fps, frames, output) if audio is not None else None
    if not rates and tl is None and plan is None:
        raise ImfitError("nothing moves: give --drift, --timeline and/or --audio")
    if frames is None:
        frames = plan.frames if plan else (
            120 if tl is None or loop else timeline_duration(tl, fps))
    if bpm is not None:
        frames = snap_frames(frames, fps, check_bpm(bpm)) if loop else frames
        rates = {k: snap_rate(v, bpm) for k, v in rates.items()}
    validate.frame_count(frames, "--frames")
    if loop:
        rates = loop_rates(rates, frames, fps)
    gs = imfit.load(fit_path)
    w, h = _frame_size(size, gs)
    validate.frames_output(output, frames, w, h)
    render_fn = get_renderer("auto")
    sets = animation_sets(gs, frames, fps, rates, loop, tl)
    what = describe_rates(rates, frames, fps) + (", loop" if loop else "")
    if plan is not None:
        sets = react_sets(sets, plan.reactions, plan.signals)
        n = write_with_audio((render_fn(s, w, h, center=c, zoom=zoom) for s in sets), plan,
                             output, fps, force)
        click.echo(f"wrote {output} ({n} frames at {fps:g} fps with {plan.path.name}, "
                   f"{what}; react {react})")
        return
    _write_video((render_fn(s, w, h, center=c, zoom=zoom) for s in sets), output, fps, force,
                 what)


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
    import imfit
    from imfit.edit.sheet import contact_sheet, resolve_param, sweep_values, variations
    from imfit.edit.syntax import OPS, parse_ops
    from imfit.errors import ImfitError
    from imfit.formats.images import check_image_output, save_png

    op, key = resolve_param(param)
    lo_hi = parse_pair(value_range, "--range")
    assert lo_hi is not None
    if not 16 <= cell <= 2048:
        raise ImfitError(f"--cell must be 16..2048 pixels, got {cell}")
    if cols is not None and cols < 1:
        raise ImfitError(f"--cols must be >= 1, got {cols}")
    values = sweep_values(lo_hi[0], lo_hi[1], count, log_spacing,
                          OPS[op].param(key).kind == "int")
    chain = parse_ops(base)
    check_image_output(output, force)
    gs = imfit.load(fit_path)
    cells = variations(gs, op, key, values, chain)
    img = contact_sheet(cells, get_renderer("auto"), cell, max(1, round(cell / gs.aspect)), cols)
    save_png(img, output, overwrite=force)
    click.echo(f"wrote {output} ({len(cells)} cells of {op}:{key} from {values[0]:g} to "
               f"{values[-1]:g})")


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
        for t in exporters.TARGETS.values():
            click.echo(f"{t.name:14} {t.description}")
            click.echo(f"{'':14} writes: {', '.join(t.files)}")
        return
    if fit_path is None or target is None or output is None:
        raise click.UsageError("give FIT, --to TARGET and -o FOLDER (or --list)")
    gs = exporters.read(fit_path)
    paths, notes = exporters.export(gs, target, output, stem=exporters.stem_of(fit_path),
                                    max_n=max_n, variant=variant, force=force)
    for note in notes:
        click.echo(note)
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
    from imfit.errors import ImfitError
    from imfit.validate import number

    wh = parse_size(size)
    b = None
    if bias is not None:
        parts = bias.split(",")
        if len(parts) != 3:
            raise ImfitError(f"--bias {bias!r} must be R,G,B numbers")
        b = tuple(number(v, "--bias") for v in parts)
    suffix = output.suffix.lower()
    if suffix not in (".json", ".txt"):  # write what the name says, never JSON in a .png
        raise ImfitError(f"{output}: import writes a .gabor.json (or a torch-imfit .txt)")
    import exporters
    import imfit
    from imfit.formats.files import check_output_file
    from imfit.formats.gabor_json import save_txt

    check_output_file(output, force)

    gs = exporters.read(path, *(wh or (None, None)), bias=b)  # type: ignore[arg-type]
    if suffix == ".txt":
        save_txt(gs, output, overwrite=force)
    else:
        imfit.save(gs, output, overwrite=force)
    click.echo(f"wrote {output} ({len(gs)} wavelets, {gs.width}x{gs.height})")


# -- diffusion presets -------------------------------------------------------------------------
@main.command()
def presets() -> None:
    """List the diffusion presets (imfit diffuse --preset NAME, imfit blend)."""
    from imfit.diffusion.engine import list_presets

    for p in list_presets():
        click.echo(f"{p.name:20s} {p.description}")


def _parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for v in values:
        name, eq, raw = v.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{v!r} is not NAME=VALUE", param_hint="--set")
        try:
            out[name.strip()] = json.loads(raw)
        except ValueError:
            out[name.strip()] = raw.strip()
    return out


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
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="out.mp4, out.gif or a folder for numbered PNGs.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def diffuse(input_path: Path, preset_name: str, steps: int | None, every: int | None,
            sets: tuple[str, ...], size: int | None, fps: float, backend: str, output: Path,
            force: bool) -> None:
    """Run a diffusion preset on an image, a fit (.gabor.json, rendered first), a folder of
    frames or a video, and write the frames."""
    from imfit import validate

    if size is not None:
        validate.whole(size, "--size", 4, validate.MAX_SIDE)
    for name, v in (("--steps", steps), ("--every", every)):
        if v is not None:
            validate.whole(v, name, 1)
    validate.fps(fps, "--fps")
    require_inputs(input_path)
    from imfit.diffusion.engine import diffuse_frames, load_preset, read_diffusion_input
    from imfit.formats.video import check_output, write_frames

    preset = load_preset(preset_name)
    if preset.scheme == "poisson":
        raise UserError("poisson is a blending preset: use `imfit blend SRC DST --mask MASK`")
    preset = preset.with_params(**_parse_sets(sets))
    check_output(output, force, fps)
    frames, notes = read_diffusion_input(input_path, size, get_renderer("auto"))
    n_steps = preset.steps if steps is None else steps
    n_every = preset.every if every is None else every
    # one picture: itself, then one frame per `every` steps; a video: one frame per frame
    n_out = len(frames) if len(frames) > 1 else 1 + math.ceil(n_steps / n_every)
    validate.frames_output(output, n_out, frames[0].shape[1], frames[0].shape[0])
    engine = None
    if backend == "gl":
        from viewer.context import headless_context
        from viewer.gl_diffusion import GLDiffusion

        ctx = headless_context()

        def engine(p: Any, img: Any) -> Any:
            return GLDiffusion(ctx, p, img)

    n_steps = preset.steps if steps is None else steps
    n_every = preset.every if every is None else every
    from imfit.diffusion.engine import Controller

    ctl = Controller(preset)
    ctl.substeps()
    for note in notes + ctl.notes:
        click.echo(f"note: {note}")
    from tqdm import tqdm

    total = n_steps * len(frames)
    with tqdm(total=total, desc=preset.name, unit="step", dynamic_ncols=True) as bar:
        n = write_frames(diffuse_frames(preset, frames, n_steps, n_every, engine, bar.update),
                         output, fps=fps, force=force)
    h, w = frames[0].shape[:2]
    click.echo(f"wrote {output} ({n} frames, {w}x{h}, preset {preset.name})")


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
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output picture (.png).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def blend(src: Path, dst: Path, mask: Path, offset: str | None, mixed: bool, backend: str,
          output: Path, force: bool) -> None:
    """Seamless cloning (Poisson image editing): paste SRC into DST inside MASK; pixels
    outside the mask stay exactly DST's."""
    from imfit.formats.images import check_image_output, save_png
    from imfit.poisson.solve import blend_files

    off = parse_pair(offset)
    if off is not None and not all(float(v).is_integer() for v in off):
        raise click.BadParameter(f"{offset!r} must be whole pixels", param_hint="--offset")
    check_image_output(output, force)
    solver = None
    if backend == "gl":
        from viewer.context import headless_context
        from viewer.gl_poisson import solve_gl

        ctx = headless_context()

        def solver(system: Any) -> Any:
            return solve_gl(ctx, system)

    img, info = blend_files(src, dst, mask, None if off is None else
                            (int(off[0]), int(off[1])), mixed, solver)
    save_png(img, output, overwrite=force)
    click.echo(f"wrote {output} ({info})")


if __name__ == "__main__":
    main()
