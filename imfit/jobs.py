"""File-to-file jobs: what each `imfit` command does, callable without click.

A notebook, a Blender script and the CLI all want "render this fit to a clip" or "diffuse this
photo into a GIF" with the same checks in the same order (cheap ones first, so a typo never
waits for torch), the same GL-or-torch choice (`imfit.renderers.backends`) and the same one
writer (`imfit.formats.files`). Each function here does one job end to end and returns what it
wrote; `cli.py` only parses flags, calls one of these and prints the result. Messages name the
CLI's flags (`--frames`), since that is where most users meet them.

Nothing here imports torch at module level: `import imfit.jobs` stays light.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imfit import validate
from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet

PathLike = str | os.PathLike[str]
Echo = Callable[[str], Any]  # told one line for the user (click.echo, print, a logger)
Size = tuple[int, int]  # (width, height) in pixels


@dataclass(frozen=True)
class Written:
    """What a job wrote: the output path and the one-line detail the CLI reports."""

    path: Path
    detail: str

    def __str__(self) -> str:
        return f"wrote {self.path} ({self.detail})"


def _exists(*paths: PathLike | None) -> None:
    """Say "no such file" before importing torch (2-3 s, 230 MB) for a job that would only
    fail on it."""
    for p in paths:
        if p is not None and not Path(p).exists():
            raise ImfitError(f"{p}: no such file or folder")


def _renderer(backend: str = "auto", strategy: str = "billboard",
              note: Echo | None = None) -> Callable[..., Any]:
    from imfit.renderers.backends import get_renderer

    return get_renderer(backend, strategy, note=note)


def write_animation(sets: Iterable[GaborSet], render: Callable[..., Any], output: PathLike,
                    size: Size, fps: float = 30.0, force: bool = False, *,
                    frames: int | None = None, center: tuple[float, float] = (0.0, 0.0),
                    zoom: float = 1.0) -> int:
    """Render every set and write the frames as `output` (.mp4, .gif or a folder of PNGs).

    The one assembly of frames into a clip that render --frames, animate, morph and a script
    share: `frames` (the count the sets will yield) is checked against the output's limits
    before the first frame is drawn; frames stream to the writer, so a long clip never sits in
    memory. Returns the number of frames written.
    """
    from imfit.edit.animate import render_frames
    from imfit.formats.video import write_frames

    w, h = size
    if frames is not None:
        validate.frames_output(Path(output), frames, w, h)
    return write_frames(render_frames(iter(sets), render, w, h, center, zoom), output, fps,
                        force)


def render_file(fit_path: PathLike, output: PathLike, size: Size | None = None, *,
                center: tuple[float, float] | str = (0.0, 0.0), zoom: float = 1.0,
                backend: str = "auto", strategy: str = "billboard", frames: int | None = None,
                drift: str | None = None, fps: float = 30.0, force: bool = False,
                audio: PathLike | None = None, react: str = "gain=bass:0.6",
                note: Echo | None = None) -> Written:
    """Render a fit (any format `imfit import` reads) to a picture, or with `frames` to a clip
    of its `drift` ("phase=0.5,theta=0.1", turns per second). A folder of fits (fit --mode
    video) renders one frame per fit, in frame order. `size` defaults to the fitted one;
    `center` ("X,Y" or two numbers) is in plane units; `note` hears of a fallback to torch.
    With `audio` (a WAV) the clip is as long as the track (or `frames`), its frames react to it
    (`react`, as `animate_file`) and the track is muxed into the MP4."""
    center = validate.point(center, "--center")
    zoom = validate.number(zoom, "--zoom", 0.0, 1e6, lo_open=True)
    if drift is not None and frames is None and audio is None:
        raise ImfitError("--animate needs --frames N")
    plan = None
    if audio is not None:  # an animation as long as the track (or --frames)
        from imfit.live.audio import plan_audio

        plan = plan_audio(audio, react, fps, frames, Path(output))
        frames = plan.frames
    if frames is not None:
        validate.frame_count(frames, "--frames")
        validate.fps(fps, "--fps")
    _exists(fit_path)
    from imfit.edit import drift_frames, parse_drift
    from imfit.formats.images import check_image_output, save_png
    from imfit.formats.readers import list_fits, read
    from imfit.formats.video import check_output

    output = Path(output)
    rates = parse_drift(drift or "")
    if Path(fit_path).is_dir():  # a folder of fits (fit --mode video): one frame per fit
        if frames is not None or drift is not None:
            raise ImfitError("a folder of fits renders one frame per fit; drop --frames/--audio")
        paths = list_fits(fit_path)
        check_output(output, force, fps)
        first = read(paths[0])
        w, h = size or (first.width, first.height)
        validate.frames_output(output, len(paths), w, h)
        render = _renderer(backend, strategy, note)
        n = write_animation((read(p) for p in paths), render, output, (w, h), fps, force,
                            center=center, zoom=zoom)
        return Written(output, f"{n} frames from {len(paths)} fits, {w}x{h}")
    if frames is None:
        check_image_output(output, force)
    else:
        check_output(output, force, fps)
    gs = read(fit_path)
    w, h = size or (gs.width, gs.height)
    if frames is not None:
        validate.frames_output(output, frames, w, h)
    render = _renderer(backend, strategy, note)
    if frames is None:
        save_png(render(gs, w, h, center=center, zoom=zoom), output, overwrite=force)
        return Written(output, f"{w}x{h}, {len(gs)} wavelets")
    if plan is not None:
        from imfit.live.audio import render_with_audio

        n = render_with_audio(drift_frames(gs, frames, fps, rates), plan,
                              lambda s: render(s, w, h, center=center, zoom=zoom), output, fps,
                              force)
        return Written(output, f"{n} frames, {w}x{h}, with {plan.path.name}; react {react}")
    n = write_animation(drift_frames(gs, frames, fps, rates), render, output, (w, h), fps, force,
                        center=center, zoom=zoom)
    return Written(output, f"{n} frames, {w}x{h}, {len(gs)} wavelets")


def animate_file(fit_path: PathLike, output: PathLike, frames: int | None = None,
                 fps: float = 30.0, *, drift: str = "", loop: bool = False,
                 timeline: PathLike | None = None, size: Size | None = None,
                 center: tuple[float, float] | str = (0.0, 0.0), zoom: float = 1.0,
                 audio: PathLike | None = None, react: str = "gain=bass:0.6",
                 bpm: float | None = None, force: bool = False,
                 note: Echo | None = None) -> Written:
    """Animate a fit into a clip: steady `drift`, a keyframe `timeline` of edits
    (docs/timeline.md) and/or an `audio` track (WAV) the frames react to and that is muxed
    into the MP4. Without `frames`: 120, the timeline's length, or the track's. With `loop` the
    rates snap to whole turns (and with `bpm` the loop to whole bars)."""
    from imfit.edit import parse_drift
    from imfit.edit.animate import (
        animation_sets,
        describe_rates,
        load_timeline,
        loop_rates,
        timeline_duration,
    )
    from imfit.formats.readers import read
    from imfit.formats.video import check_output
    from imfit.live.audio import plan_audio, react_sets, write_with_audio
    from imfit.live.tempo import check_bpm, snap_frames, snap_rate

    output = Path(output)
    check_output(output, force, fps)
    zoom = validate.number(zoom, "--zoom", 0.0, 1e6, lo_open=True)
    validate.fps(fps, "--fps")
    center = validate.point(center, "--center")
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
    gs = read(fit_path)
    w, h = size or (gs.width, gs.height)
    validate.frames_output(output, frames, w, h)
    render = _renderer("auto", note=note)
    sets = animation_sets(gs, frames, fps, rates, loop, tl)
    what = describe_rates(rates, frames, fps) + (", loop" if loop else "")
    if plan is not None:
        from imfit.edit.animate import render_frames

        sets = react_sets(sets, plan.reactions, plan.signals)
        n = write_with_audio(render_frames(sets, render, w, h, center, zoom), plan, output, fps,
                             force)
        return Written(output, f"{n} frames at {fps:g} fps with {plan.path.name}, {what}; "
                               f"react {react}")
    n = write_animation(sets, render, output, (w, h), fps, force, center=center, zoom=zoom)
    return Written(output, f"{n} frames at {fps:g} fps, {what}")


def morph_files(a_path: PathLike, b_path: PathLike, output: PathLike, frames: int = 60,
                fps: float = 30.0, *, size: Size | None = None, ease: str = "smooth",
                bounce: bool = False, audio: PathLike | None = None,
                react: str = "gain=bass:0.6", force: bool = False,
                note: Echo | None = None) -> Written:
    """Morph fit A into fit B as a clip: `frames` frames, A first and B last (with `bounce`,
    back to A: 2 * frames - 2 in all); similar wavelets are matched one to one. With `audio`
    the frames react to the track (`react`) and it is muxed into the MP4."""
    validate.frame_count(frames, "--frames", lo=2)
    validate.fps(fps, "--fps")
    _exists(a_path, b_path)
    from imfit.edit.morph import morph_sets
    from imfit.formats.readers import read
    from imfit.formats.video import check_output

    check_output(Path(output), force, fps)
    count = 2 * frames - 2 if bounce else frames
    plan = None
    if audio is not None:
        from imfit.live.audio import plan_audio

        plan = plan_audio(audio, react, fps, count, Path(output))
    a, b = read(a_path), read(b_path)
    w, h = size or (a.width, a.height)
    validate.frames_output(Path(output), count, w, h)
    sets = morph_sets(a, b, frames, ease, bounce=bounce)
    if plan is not None:
        from imfit.live.audio import render_with_audio

        render = _renderer("auto", note=note)
        n = render_with_audio(sets, plan, lambda s: render(s, w, h), output, fps, force)
        return Written(Path(output), f"{n} frames, {len(a)} -> {len(b)} wavelets, with "
                                     f"{plan.path.name}; react {react}")
    n = write_animation(sets, _renderer("auto", note=note), output, (w, h), fps, force)
    return Written(Path(output), f"{n} frames at {fps:g} fps, {len(a)} -> {len(b)} wavelets")


def sheet_file(fit_path: PathLike, output: PathLike, param: str,
               value_range: tuple[float, float] | str, count: int = 6, *,
               log_spacing: bool = False, cols: int | None = None, cell: int = 192,
               base: Sequence[str] = (), force: bool = False, note: Echo | None = None) -> Written:
    """A contact sheet PNG: `count` cells of the fit with `param` (a shortcut like "sigma" or
    OP.KEY) swept over `value_range` ("LOW,HIGH", inclusive), each `cell` pixels wide at the
    fitted aspect, after the `base` edits, labelled with the op text that reproduces it in
    `imfit edit`."""
    from imfit.edit.sheet import contact_sheet, resolve_param, sweep_values, variations
    from imfit.edit.syntax import OPS, parse_ops
    from imfit.formats.images import check_image_output, save_png
    from imfit.formats.readers import read

    op, key = resolve_param(param)
    lo, hi = validate.point(value_range, "--range")
    if not 16 <= cell <= 2048:
        raise ImfitError(f"--cell must be 16..2048 pixels, got {cell}")
    if cols is not None and cols < 1:
        raise ImfitError(f"--cols must be >= 1, got {cols}")
    values = sweep_values(lo, hi, count, log_spacing,
                          OPS[op].param(key).kind == "int")
    chain = parse_ops(base)
    check_image_output(output, force)
    gs = read(fit_path)
    cells = variations(gs, op, key, values, chain)
    img = contact_sheet(cells, _renderer("auto", note=note), cell,
                        max(1, round(cell / gs.aspect)), cols)
    save_png(img, output, overwrite=force)
    return Written(Path(output), f"{len(cells)} cells of {op}:{key} from {values[0]:g} to "
                                 f"{values[-1]:g}")


def edit_file(fit_path: PathLike, ops: Sequence[str], output: PathLike,
              force: bool = False) -> Written:
    """Apply op texts ("scale:sigma=2", "topk:k=100") left to right and save the result with
    the ops appended to its edit history (`meta["edits"]`, one list of op texts whoever wrote
    it). All ops are parsed before any work, so a typo never half-runs."""
    from imfit.edit.syntax import edit_with_history, parse_ops
    from imfit.formats.gabor_json import check_fit_output, save
    from imfit.formats.readers import read

    if not ops:
        raise ImfitError("no edit ops given; `imfit edit --list-ops` lists them")
    chain = parse_ops(ops)
    check_fit_output(output, force)  # a .gabor.json, never JSON in a .png
    gs = read(fit_path)
    out = edit_with_history(gs, chain)
    save(out, output, overwrite=force)
    return Written(Path(output), f"{len(gs)} -> {len(out)} wavelets; "
                                 f"{' '.join(o.text() for o in chain)}")


def import_file(path: PathLike, output: PathLike, size: Size | None = None,
                bias: str | Sequence[float] | None = None, force: bool = False) -> Written:
    """Read any wavelet file (json, tsv, coll, csv, jxf, npz, torch-imfit .txt) and write it as
    a `.gabor.json` (or a torch-imfit `.txt`, by `output`'s suffix). `size` and `bias` ("R,G,B"
    or three numbers) fill in what tables do not hold (default 256x256, 0.5 grey)."""
    from imfit.formats.files import check_output_file
    from imfit.formats.gabor_json import save, save_txt
    from imfit.formats.readers import read

    b = None
    if bias is not None:
        parts = bias.split(",") if isinstance(bias, str) else list(bias)
        if len(parts) != 3:
            raise ImfitError(f"--bias {bias!r} must be R,G,B numbers")
        b = (validate.number(parts[0], "--bias"), validate.number(parts[1], "--bias"),
             validate.number(parts[2], "--bias"))
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".json", ".txt"):  # write what the name says, never JSON in a .png
        raise ImfitError(f"{output}: import writes a .gabor.json (or a torch-imfit .txt)")
    check_output_file(output, force)
    w, h = size or (None, None)
    gs = read(path, w, h, bias=b)
    (save_txt if suffix == ".txt" else save)(gs, output, overwrite=force)
    return Written(output, f"{len(gs)} wavelets, {gs.width}x{gs.height}")


def preset_with_overrides(name: str, sets: Sequence[str] = ()) -> Any:
    """The diffusion preset `name` (or a preset .json) with NAME=VALUE overrides applied; each
    VALUE is JSON (0.05, [1, 2], "text") or else plain text. A blending preset is refused, so
    `diffuse --preset poisson` says where it belongs."""
    from imfit.diffusion.engine import load_preset

    preset = load_preset(name)
    if preset.scheme == "poisson":
        raise ImfitError("poisson is a blending preset: use `imfit blend SRC DST --mask MASK`")
    return preset.with_params(**parse_overrides(sets))


def randomised_preset_file(name: str, seed: int, output: PathLike | None = None,
                           force: bool = False) -> Written:
    """Draw a preset's parameters from its ranges with `seed` (what the viewer's x key does
    on its Nth press: seed N) and write them as a preset .json that `imfit diffuse --preset
    FILE` replays (default NAME-rSEED.json here); the ranges go with it, so the copy
    randomises within the same look."""
    from imfit.diffusion.engine import draw_ranges, load_preset, preset_json, randomise_params
    from imfit.formats.files import atomic_write_text, check_output_file

    seed = validate.whole(seed, "--randomise", 0, 2**32 - 1)
    base = load_preset(name)
    ranges = draw_ranges(base)
    if not ranges:
        raise ImfitError(f"preset {base.name} has nothing to randomise (no ranges, no "
                         "numeric live parameters)")
    pr = randomise_params(base, seed)
    out = check_output_file(output if output is not None else f"{pr.name}.json", force)
    atomic_write_text(out, preset_json(pr), overwrite=force)
    return Written(out, ", ".join(f"{k} {pr.params[k]:.4g}" for k in sorted(ranges)))


def parse_overrides(sets: Sequence[str]) -> dict[str, Any]:
    """["kappa=0.05", "name=x"] -> {"kappa": 0.05, "name": "x"} (the values are checked by the
    preset's own parameter table)."""
    import json

    out: dict[str, Any] = {}
    for v in sets:
        name, eq, raw = v.partition("=")
        if not eq or not name:
            raise ImfitError(f"Invalid value for '--set': {v!r} is not NAME=VALUE")
        try:
            out[name.strip()] = json.loads(raw)
        except ValueError:
            out[name.strip()] = raw.strip()
    return out


def diffuse_file(input_path: PathLike, output: PathLike, preset: str = "perona-malik", *,
                 steps: int | None = None, every: int | None = None, sets: Sequence[str] = (),
                 size: int | None = None, fps: float = 30.0, backend: str = "torch",
                 device: str = "cpu", audio: PathLike | None = None, react: str = "gain=bass:0.6",
                 force: bool = False, echo: Echo | None = None,
                 note: Echo | None = None) -> Written:
    """Run a diffusion preset on a picture, a fit (rendered first), a folder of frames or a
    video, and write the frames (.mp4, .gif or a folder). One picture gives itself, then one
    frame every `every` steps up to `steps`; a video one frame per frame. `backend` "torch",
    "gl" (GLSL, headless) or "auto"; `device` is the torch engine's (cpu, cuda, cuda:N, mps,
    auto). `echo` hears what the input was read as; a progress bar
    (tqdm) shows the steps. With `audio` (INPUT must be a fit) the fit's frames react to the
    track (`react`) and are diffused like a video; the track is muxed into the MP4."""
    if size is not None:
        validate.whole(size, "--size", 4, validate.MAX_SIDE)
    for name, v in (("--steps", steps), ("--every", every)):
        if v is not None:
            validate.whole(v, name, 1)
    validate.fps(fps, "--fps")
    _exists(input_path)
    from imfit.device import resolve

    resolve(device)  # after the cheap checks (no torch for a missing file), before any reading
    from tqdm import tqdm

    from imfit.diffusion.engine import Controller, diffuse_frames, read_diffusion_input
    from imfit.formats.video import check_output, write_frames
    from imfit.renderers.backends import gl_engine

    p = preset_with_overrides(preset, sets)
    check_output(Path(output), force, fps)
    plan = None
    if audio is not None:  # the fit, reacting per frame, diffused like a video
        from imfit.live.audio import plan_audio

        if not Path(input_path).name.lower().endswith((".gabor.json", ".json", ".txt")):
            raise ImfitError(f"{input_path}: --audio reacts a fit's knobs, so INPUT must be a "
                             "fit (.gabor.json)")
        plan = plan_audio(audio, react, fps, None, Path(output))

    def render(gs: GaborSet, w: int, h: int) -> Any:  # GL only when a fit is the input
        return _renderer("auto", note=note)(gs, w, h)

    frames, notes = read_diffusion_input(input_path, size, render)
    if plan is not None:
        from imfit.formats.readers import read
        from imfit.live.audio import reacting_fit_frames

        h0, w0 = frames[0].shape[:2]
        frames = reacting_fit_frames(read(input_path), plan, lambda s: render(s, w0, h0))
    n_steps = p.steps if steps is None else steps
    n_every = p.every if every is None else every
    # one picture: itself, then one frame per `every` steps; a video: one frame per frame
    n_out = len(frames) if len(frames) > 1 else 1 + math.ceil(n_steps / n_every)
    h, w = frames[0].shape[:2]
    validate.frames_output(Path(output), n_out, w, h)
    engine = gl_engine("gl-diffusion", backend, note)
    ctl = Controller(p)
    ctl.substeps()
    for line in notes + ctl.notes:
        if echo is not None:
            echo(f"note: {line}")
    with tqdm(total=n_steps * len(frames), desc=p.name, unit="step", dynamic_ncols=True) as bar:
        out = diffuse_frames(p, frames, n_steps, n_every, engine, bar.update, device=device)
        if plan is not None:
            from imfit.live.audio import write_with_audio

            n = write_with_audio(out, plan, output, fps, force)
        else:
            n = write_frames(out, output, fps=fps, force=force)
    return Written(Path(output), f"{n} frames, {w}x{h}, preset {p.name}")


def blend_file(src: PathLike, dst: PathLike, mask: PathLike, output: PathLike,
               offset: tuple[int, int] | None = None, *, mixed: bool = False,
               backend: str = "torch", device: str = "cpu", force: bool = False,
               note: Echo | None = None) -> Written:
    """Seamless cloning into a PNG: paste `src` into `dst` inside `mask` (white = paste, its
    alpha counts too) with its top-left corner at `offset` (default centred); pixels outside the
    mask stay exactly `dst`'s. `backend` "torch" (float64 CG), "gl" (GLSL) or "auto";
    `device` the torch solve's (cpu, cuda, cuda:N, mps, auto)."""
    from imfit.formats.images import check_image_output, save_png
    from imfit.poisson.solve import blend_files
    from imfit.renderers.backends import gl_engine

    check_image_output(output, force)
    solver = gl_engine("gl-poisson", backend, note)
    img, info = blend_files(src, dst, mask, offset, mixed, solver, device=device)
    save_png(img, output, overwrite=force)
    return Written(Path(output), info)
