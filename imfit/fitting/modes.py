"""torch-imfit's four modes (image, folder, video, vm) as one generator of fit jobs.

The CLI iterates over `plan(...)`, fits each job, and writes its outputs; video jobs carry the
previous frame's result as a warm start, with a fresh keyframe at every scene cut
(`imfit.fitting.cuts`, found before any fit) and at least every `keyframes` frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imfit.errors import ImfitError
from imfit.formats.images import list_images
from imfit.model.gaborset import GaborSet

if TYPE_CHECKING:
    from imfit.fitting.fitter import FitSettings

MODES = ("image", "folder", "video", "vm")


@dataclass
class Job:
    image: Path
    weight: Path | None
    out_dir: Path
    stem: str
    warm: bool  # start from the previous job's result (video frames between keyframes)
    cut: bool = False  # a keyframe because a scene cut starts here (video modes)


def find_weight(weight: Path | None, image: Path) -> Path | None:
    """A weight file, or in a weight folder `<stem>-wt.png` (or `<stem>.png`, torch-imfit)."""
    if weight is None:
        return None
    if weight.is_file():
        return weight
    if weight.is_dir():
        for name in (f"{image.stem}-wt.png", f"{image.stem}.png"):
            if (weight / name).is_file():
                return weight / name
        return None
    raise ImfitError(f"{weight}: weight path does not exist")


def plan(path: Path, mode: str, out_dir: Path, weight: Path | None,
         keyframes: int = 10, cuts: str = "auto") -> Iterator[Job]:
    """The fit jobs for `path` in `mode`, in order.

    A video (or each vm) sequence gets a keyframe (a job that is not warm) at its first frame,
    at every scene cut when `cuts` is "auto" (every frame is read as a thumbnail first, so an
    unreadable one stops here) and wherever `keyframes` frames passed since the last one;
    `cuts` "off" gives frames 0, K, 2K... (`imfit.fitting.cuts.keyframe_flags`)."""
    from imfit.fitting.cuts import CUT_MODES, keyframe_flags

    if mode not in MODES:
        raise ImfitError(f"unknown mode {mode!r} (use one of {', '.join(MODES)})")
    if not path.exists():
        raise ImfitError(f"{path}: no such file or folder")
    if keyframes < 1:
        raise ImfitError(f"--keyframes must be at least 1, got {keyframes}")
    if cuts not in CUT_MODES:
        raise ImfitError(f"unknown --cuts {cuts!r} (use one of {', '.join(CUT_MODES)})")
    if mode == "image":
        if path.is_dir():
            raise ImfitError(f"{path} is a folder; use --mode folder (or video) for folders")
        if weight is not None and weight.is_dir():
            weight = find_weight(weight, path)
        yield Job(path, weight if weight is None else find_weight(weight, path), out_dir,
                  path.stem, False)
        return
    if not path.is_dir():
        raise ImfitError(f"{path}: --mode {mode} needs a folder")
    if mode == "folder":
        for img in list_images(path):
            yield Job(img, find_weight(weight, img), out_dir, img.stem, False)
        return
    if mode == "video":
        seqs = [(list_images(path), weight, out_dir)]
    else:
        subs = sorted(d for d in path.iterdir() if d.is_dir() and (d / "images").is_dir())
        if not subs:
            raise ImfitError(f"{path}: --mode vm needs subfolders that each hold an images/ "
                             "folder")
        seqs = [(list_images(d / "images"), d / "weights" if (d / "weights").is_dir() else None,
                 out_dir / d.name) for d in subs]
    flags = [keyframe_flags(images, keyframes, cuts) for images, _, _ in seqs]  # reads all first
    for (images, wpath, folder), (key, cut) in zip(seqs, flags):
        for img, k, c in zip(images, key, cut):
            yield Job(img, find_weight(wpath, img), folder, img.stem, not k, c)


def describe_plan(jobs: list[Job], mode: str, keyframes: int, cuts: str) -> str | None:
    """One line for the user: how the video frames were cut into segments and why (None in
    the other modes)."""
    if mode not in ("video", "vm"):
        return None
    n_cut = sum(j.cut for j in jobs)
    n_seg = sum(not j.warm for j in jobs)
    why = (f"{n_cut} scene cut{'s' if n_cut != 1 else ''} found" if cuts == "auto"
           else "scene cuts off")
    return (f"{len(jobs)} frames in {n_seg} segment{'s' if n_seg != 1 else ''} ({why}; a "
            f"keyframe at least every {keyframes} frames)")


FIT_EXTS = (".gabor.json", ".png", ".txt")


def fit_outputs(folder: Path, stem: str) -> list[Path]:
    """A fit's three outputs: the wavelets, a preview render, torch-imfit's weights."""
    return [folder / f"{stem}{ext}" for ext in FIT_EXTS]


def write_fit(gs: GaborSet, outs: list[Path], force: bool, partial: bool,
              render: Callable[[GaborSet], np.ndarray]
              ) -> tuple[np.ndarray, list[Path], bool]:
    """Render the preview and write a fit's three outputs as one transaction: all new or all
    as they were.

    Ctrl-C is held back meanwhile (a fraction of a second): it usually comes as the second
    press after the one that stopped the fit, and must not lose the parameters that press
    was meant to keep. A KeyboardInterrupt raised inside the work itself (no signal, which
    would wait) throws that attempt's temps away and the set is written once more, so the
    parameters are kept then too; only a second such raise gives up, with nothing written.
    A partial fit never replaces a complete earlier one: with `force` and earlier outputs
    present it goes beside them as `<stem>.partial.*`. Returns the preview, the paths
    written and whether a Ctrl-C came meanwhile.
    """
    from imfit.formats.files import Interrupted, Transaction, free_stem, interrupts_deferred
    from imfit.formats.gabor_json import to_json_text, txt_text
    from imfit.formats.images import image_writer

    if partial and force and any(o.exists() for o in outs):
        stem = free_stem(outs[0].parent, outs[0].name[: -len(FIT_EXTS[0])], FIT_EXTS)
        outs = fit_outputs(outs[0].parent, stem)
    raised = False
    for _attempt in range(2):
        tx = Transaction(overwrite=force)
        try:
            with interrupts_deferred(reraise=False) as got, tx:
                preview = render(gs)
                tx.make_folder(outs[0].parent)
                tx.add_bytes(outs[0], to_json_text(gs).encode("utf-8"))
                tx.add(outs[1], image_writer(preview, outs[1]))
                tx.add_bytes(outs[2], txt_text(gs).encode("utf-8"))
                tx.commit()
            return preview, outs, bool(got) or raised
        except KeyboardInterrupt:  # raised inside (not a signal): this attempt left nothing
            raised = True
    raise Interrupted(0, f"stopped while writing {outs[0]}: none of the fit's three files "
                      "were written; earlier files are as they were")


def job_inputs(job: Job, mode: str, settings: FitSettings, alpha: str,
               background: tuple[float, float, float], prev: GaborSet | None
               ) -> tuple[np.ndarray, np.ndarray | None, GaborSet | None, dict[str, object]]:
    """A job's target (H, W, 3), weight (H, W) or None, warm start and metadata: the one rule
    the single-process loop and the cluster's workers share, so both fit the same frame alike.

    `prev` is the previous frame's fit in the same output folder (or None); a video frame
    between keyframes starts from it when the two have the same size.
    """
    from imfit.formats.images import load_target, load_weight

    target, wmap = load_target(job.image, settings.size, alpha, background)
    h, w = target.shape[:2]
    if job.weight is not None:
        wfile = load_weight(job.weight, w, h)
        wmap = wfile if wmap is None else wmap * wfile
    init = prev if (job.warm and prev is not None
                    and (prev.width, prev.height) == (w, h)) else None
    meta: dict[str, object] = {"source": job.image.name,
                               "weight": job.weight.name if job.weight else None,
                               "mode": mode, "warm_start": init is not None}
    if mode in ("video", "vm"):  # why the frame started where it did (resume checks it)
        meta["keyframe"] = not job.warm
        meta["scene_cut"] = job.cut
    return target, wmap, init, meta


def run_fit_jobs(path: Path, mode: str, out_dir: Path, weight: Path | None,
                 settings: FitSettings, keyframes: int = 10, alpha: str = "composite",
                 background: tuple[float, float, float] = (0.0, 0.0, 0.0), force: bool = False,
                 echo: Callable[[str], None] = print,
                 snapshot: Callable[[GaborSet], None] | None = None,
                 workers: int | None = None, address: str | None = None,
                 cuts: str = "auto") -> int:
    """Fit every job of `plan(...)`, writing <stem>.gabor.json, .png and .txt atomically.

    `snapshot` (a live viewer) gets each fit's parameters every few steps and its final set.
    With `workers` (a local cluster of that many processes) or `address` (a Dask scheduler)
    the jobs run on Dask distributed instead (`imfit.fitting.distributed`, docs/cluster.md).

    Returns the exit status: 0, or 130 when Ctrl-C stopped a fit (its latest parameters are
    still written, marked incomplete in the metadata).

    Ctrl-C stops the work once (`ctrl_c_once`): the guard is armed while a job loads and
    trains; the fitter disarms it when training ends (or inside the handler, at the press
    that ended it), so from then until the job's three files are in place any later press
    is counted, never raised, and the parameters that first press meant to keep cannot be
    lost. A counted press ends the command (130) once the files are written.
    """
    if workers is not None or address is not None:
        from imfit.fitting.distributed import run_cluster_jobs

        run = run_cluster_jobs(path, mode, out_dir, weight, settings, keyframes=keyframes,
                               alpha=alpha, background=background, force=force,
                               workers=workers, address=address, echo=echo, cuts=cuts)
        echo(run.summary(out_dir))
        return 0
    from tqdm import tqdm

    from imfit.fitting.fitter import fit_array
    from imfit.formats.files import Interrupted, check_output_folder, ctrl_c_once, refuse_existing
    from imfit.renderers.gabor import render

    jobs = list(plan(path, mode, out_dir, weight, keyframes, cuts))
    for folder in {job.out_dir for job in jobs}:  # a read-only disk fails now, not after a fit
        check_output_folder(folder, create=True)
    refuse_existing([o for job in jobs for o in fit_outputs(job.out_dir, job.stem)], force)
    line = describe_plan(jobs, mode, keyframes, cuts)
    if line:
        echo(line)
    prev: GaborSet | None = None
    prev_dir: Path | None = None
    # video modes report flicker: frame-to-frame change of the renders vs of the sources
    seq: dict[Path, tuple[list, list]] = {}
    with ctrl_c_once() as once:
        seen = len(once.got)
        for n, job in enumerate(jobs):
            once.armed = True
            outs = fit_outputs(job.out_dir, job.stem)
            target, wmap, init, meta = job_inputs(job, mode, settings, alpha, background,
                                                  prev if prev_dir == job.out_dir else None)
            h, w = target.shape[:2]
            label = f"{job.stem}" + (f" [{n + 1}/{len(jobs)}]" if len(jobs) > 1 else "")
            bar = tqdm(total=1, desc=label, unit="step", dynamic_ncols=True, leave=True)

            def progress(step: int, total: int, psnr: float, bar: tqdm = bar) -> None:
                bar.total = total
                bar.n = step
                bar.set_postfix_str(f"PSNR {psnr:.2f} dB", refresh=False)
                bar.refresh()

            try:
                result = fit_array(target, settings, wmap, init, meta, progress, snapshot)
            except KeyboardInterrupt:  # before training began: nothing to keep
                bar.close()
                raise Interrupted(0, f"stopped before {outs[0]} was written; earlier "
                                  "files are as they were") from None
            try:
                bar.close()
            except KeyboardInterrupt:  # the parameters are in hand: write them first
                once.got.append(2)
            gs = result.gaborset
            preview, written, late = write_fit(gs, outs, force, bool(gs.meta["incomplete"]),
                                               render)
            if mode in ("video", "vm"):
                r_list, s_list = seq.setdefault(job.out_dir, ([], []))
                r_list.append(preview)
                s_list.append(target)
            if snapshot is not None and not result.interrupted:
                snapshot(gs)
            state = "INTERRUPTED, latest parameters" if gs.meta["incomplete"] else "fit"
            kept = f"; the earlier {outs[0]} was kept" if written[0] != outs[0] else ""
            psnr = gs.meta.get("psnr")
            measured = "not measured" if psnr is None else f"{psnr:.2f} dB"
            echo(f"{state}: {written[0]}  ({len(gs)} wavelets, {w}x{h}, PSNR {measured}, "
                 f"{result.seconds:.1f} s)  preview {written[1]}{kept}")
            if result.interrupted or late or len(once.got) > seen:
                return 130
            prev, prev_dir = gs, job.out_dir
        once.armed = True
    from imfit.metrics import flicker, flicker_ratio

    for folder, (renders, sources) in seq.items():
        if len(renders) > 1 and all(r.shape == renders[0].shape for r in renders):
            echo(f"flicker in {folder}: renders {flicker(renders):.4f}, source "
                 f"{flicker(sources):.4f} (ratio {flicker_ratio(renders, sources):.2f}; "
                 "lower is steadier)")
    return 0
