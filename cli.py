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

    return wrapper  # type: ignore[return-value]


class UserError(click.ClickException):
    """One line on stderr, exit status 2 (like click's usage errors)."""

    exit_code = 2


def parse_size(value: str | None) -> tuple[int, int] | None:
    """'1920x1080' or '512' (square) -> (w, h)."""
    if value is None:
        return None
    try:
        parts = [int(v) for v in value.lower().split("x")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 1:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT with positive numbers")
    if parts[0] * parts[1] > 64_000_000 or max(parts) > 16384:
        raise click.BadParameter(f"{value} is too large (at most 16384 a side, 64 megapixels)")
    return parts[0], parts[1]


def parse_pair(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        a, b = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not X,Y") from None
    return a, b


Renderer = Callable[..., Any]  # (gs, width, height, center=, zoom=) -> float (H, W, 3) 0..1


def get_renderer(backend: str = "auto", strategy: str = "billboard") -> Renderer:
    """The frame renderer every command uses: GL when available ("auto"), else torch.

    Commands that produce pictures (render, animate, morph, sheet, diffuse of a fit) call this,
    so all of them switch engines the same way. "auto" falls back to torch with one note on
    stderr when no GL context can be made; "gl" without GL is a one-line error.
    """
    import imfit
    from imfit.errors import ImfitError

    if backend == "torch":
        return imfit.render
    if backend not in ("gl", "auto"):
        raise UserError(f"unknown backend {backend!r} (use auto, gl or torch)")
    from viewer.gl_render import check_strategy, render_gl, shared_renderer

    check_strategy(strategy)
    try:
        shared_renderer()
    except ImfitError as e:
        if backend == "gl":
            raise UserError(str(e)) from None
        click.echo(f"note: no GL here, rendering with torch ({e})", err=True)
        return imfit.render
    return functools.partial(render_gl, strategy=strategy)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
              help="Longer side of the training image in pixels.")
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
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or mps.")
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
    from imfit.batch import run_fit_jobs
    from imfit.errors import ImfitError
    from imfit.fit import FitSettings

    try:
        bg = tuple(float(v) for v in background.split(","))
        if len(bg) != 3:
            raise ValueError
    except ValueError:
        raise ImfitError(f"--background {background!r} must be R,G,B numbers in 0..1") from None
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
    """Render a .gabor.json (or torch-imfit .txt) to an image or animation at any size/view."""
    import imfit
    from imfit.edit import drift_frames, parse_drift
    from imfit.errors import ImfitError
    from imfit.image import save_png
    from imfit.video import check_output, write_frames

    wh = parse_size(size)
    c = parse_pair(center)
    if not (zoom > 0 and zoom < 1e6):
        raise ImfitError(f"--zoom must be positive, got {zoom}")
    if animate is not None and frames is None:
        raise ImfitError("--animate needs --frames N")
    rates = parse_drift(animate or "")
    if frames is None and output.exists() and not force:
        raise ImfitError(f"{output} exists; pass --force to overwrite it")
    if frames is not None:
        check_output(output, force)
    gs = imfit.load(fit_path)
    renderer = get_renderer(backend, strategy)
    w, h = wh or (gs.width, gs.height)
    if frames is None:
        save_png(renderer(gs, w, h, center=c, zoom=zoom), output, overwrite=force)
        click.echo(f"wrote {output} ({w}x{h}, {len(gs)} wavelets)")
        return
    n = write_frames((renderer(s, w, h, center=c, zoom=zoom)
                      for s in drift_frames(gs, frames, fps, rates)), output, fps, force)
    click.echo(f"wrote {output} ({n} frames, {w}x{h}, {len(gs)} wavelets)")


# -- view --------------------------------------------------------------------------------------
@main.command()
@click.argument("fit_path", metavar="FIT", type=click.Path(path_type=Path))
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
@user_errors
def view(fit_path: Path, size: str | None, strategy: str, test_frames: int | None, events: str,
         screenshot: Path | None, force: bool) -> None:
    """Open the live viewer on a .gabor.json (reloads when the file changes; h lists keys)."""
    from viewer.app import view_file

    view_file(fit_path, parse_size(size), strategy, test_frames, events, screenshot, force,
              echo=click.echo)


if __name__ == "__main__":
    main()
