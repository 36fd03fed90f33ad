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


def get_renderer(backend: str = "auto") -> Renderer:
    """The frame renderer every command uses: GL when available ("auto"), else torch.

    Commands that produce pictures (render, animate, morph, sheet, diffuse of a fit) call this,
    so all of them switch engines the same way.
    """
    import imfit

    if backend in ("torch", "auto"):
        return imfit.render
    raise UserError(f"unknown backend {backend!r}")


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
@user_errors
def fit(path: Path, output_dir: Path, mode: str, weight: Path | None, iterations: int,
        iter_multiple: float, rescales: int, size: int, num_gabors: int, gradient: float,
        sobel: float, l1: float, global_lr: float, gamma: float, mutation_scale: float,
        keyframes: int, alpha: str, background: str, seed: int, device: str,
        force: bool) -> None:
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
    code = run_fit_jobs(path, mode, output_dir, weight, settings, keyframes=keyframes,
                        alpha=alpha, background=bg, force=force, echo=click.echo)  # type: ignore[arg-type]
    if code:
        sys.exit(code)


# -- render ------------------------------------------------------------------------------------
@main.command()
@click.argument("fit_path", metavar="FIT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output image (.png/.jpg).")
@click.option("--size", default=None, help="WIDTHxHEIGHT (default: the fitted size).")
@click.option("--zoom", type=float, default=1.0, show_default=True,
              help="Magnification (2 shows half the height).")
@click.option("--center", default="0,0", show_default=True,
              help="View centre X,Y in plane units (1 = half the image height).")
@click.option("--backend", type=click.Choice(["torch"]), default="torch", show_default=True,
              help="Renderer.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@user_errors
def render(fit_path: Path, output: Path, size: str | None, zoom: float, center: str,
           backend: str, force: bool) -> None:
    """Render a .gabor.json (or torch-imfit .txt) to an image at any size and view."""
    import imfit
    from imfit.errors import ImfitError
    from imfit.image import save_png

    wh = parse_size(size)
    c = parse_pair(center)
    if not (zoom > 0 and zoom < 1e6):
        raise ImfitError(f"--zoom must be positive, got {zoom}")
    gs = imfit.load(fit_path)
    w, h = wh or (gs.width, gs.height)
    img = imfit.render(gs, w, h, center=c, zoom=zoom)
    save_png(img, output, overwrite=force)
    click.echo(f"wrote {output} ({w}x{h}, {len(gs)} wavelets)")


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
    import exporters
    import imfit
    from imfit.errors import ImfitError

    wh = parse_size(size)
    b = None
    if bias is not None:
        try:
            b = tuple(float(v) for v in bias.split(","))
        except ValueError:
            raise ImfitError(f"--bias {bias!r} must be R,G,B numbers") from None
    gs = exporters.read(path, *(wh or (None, None)), bias=b)  # type: ignore[arg-type]
    imfit.save(gs, output, overwrite=force)
    click.echo(f"wrote {output} ({len(gs)} wavelets, {gs.width}x{gs.height})")


if __name__ == "__main__":
    main()
