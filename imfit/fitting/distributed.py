"""Folder, video and vm fits on Dask distributed: many frames on many processes or machines.

`run_cluster_jobs` fits the same jobs as `imfit.fitting.modes.run_fit_jobs` (the same plan, the
same per-frame rule in `modes.job_inputs`, the same seed for every frame) on a LocalCluster of
`workers` processes or an existing scheduler at `address`, and writes the same files. Why Dask:
pure Python, a LocalCluster for one machine and a scheduler address for many, and it reruns the
tasks of a worker that dies. `dask`/`distributed` are imported here only, lazily (the optional
extra `imfit[cluster]`). docs/cluster.md is the user's guide.

- Keyframes. A video (or vm) sequence is split at its keyframes, at every scene cut and at
  least every `keyframes` frames (`imfit.fitting.cuts`), by the same `modes.plan` the
  single-process run uses: a keyframe is fitted from scratch, the frames after it start from
  the previous frame's fit. Each run of frames from a
  keyframe to the next is a *segment*, submitted as one chain of tasks (frame k+1's task takes
  frame k's result); segments are independent and run in parallel. In folder mode every frame
  is its own segment.
- Determinism. Every frame is fitted with the run's `--seed` (as in the single-process run),
  with one torch thread (a sum's order depends on the thread count), from inputs that depend on
  the frame alone, never on which worker or in which order: the files are bit-for-bit those of
  a single-process run on one thread (`OMP_NUM_THREADS=1 imfit fit ...`).
- Files. Workers send back parameters and preview; the client writes each frame's three files
  as one `imfit.formats.files` transaction as soon as it arrives (so the input has to be
  readable on every worker, the output only on the client).
- Resume. A frame is *complete* when its `.gabor.json` passes the format's validation
  (`gabor_json.load`) with `meta.incomplete` false, and its `.png` and `.txt` read back. A re-run
  skips complete frames; in each segment it refits from the first frame that is not complete
  (a frame after a refitted one would otherwise keep a warm start the refit changed), starting
  from the last complete frame's saved parameters (exact: the format round-trips float32). A
  complete frame fitted with other settings stops the run before any work unless `force`
  (which refits everything).
- Failure. A worker that dies takes its running task and the results it held; the scheduler
  reruns them elsewhere (the same inputs, the same result). Ctrl-C cancels the rest and leaves
  only complete files.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imfit.errors import ImfitError
from imfit.fitting.modes import Job, describe_plan, fit_outputs, job_inputs, plan
from imfit.model.gaborset import GaborSet

if TYPE_CHECKING:
    from imfit.fitting.fitter import FitSettings

CONNECT_TIMEOUT_S = 5.0  # a scheduler that does not answer in this long is not there
WORKER_WAIT_S = 30.0  # how long a scheduler without workers gets for one to join
CLUSTER_MODES = ("folder", "video", "vm")


@dataclass(frozen=True)
class FrameFit:
    """What a worker sends back for one frame: its fit and the preview the client writes."""

    stem: str
    gaborset: GaborSet
    preview: np.ndarray  # (H, W, 3) 0..1, the render at the fitted size
    psnr: float
    seconds: float


@dataclass
class ClusterRun:
    """What a cluster run did: the stems fitted (in arrival order) and those already complete."""

    fitted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    workers: int = 0
    seconds: float = 0.0  # the whole run: connecting, checking workers, fitting, writing
    startup: float = 0.0  # of which connecting and checking the workers
    psnrs: list[float] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)  # each fit's own time on its worker
    segments: int = 0  # warm-start chains in the plan (all frames, fitted or skipped)
    cuts: int = 0  # of whose keyframes this many are at scene cuts

    def summary(self, out_dir: Path) -> str:
        if not self.fitted:
            return f"all {len(self.skipped)} frames in {out_dir} are complete; nothing to fit"
        rate = len(self.fitted) / self.seconds * 60 if self.seconds > 0 else 0.0
        skip = f", {len(self.skipped)} already complete" if self.skipped else ""
        psnr = (f"; PSNR {min(self.psnrs):.2f}..{max(self.psnrs):.2f} dB" if self.psnrs
                else "")
        segs = (f" ({self.segments} segments, {self.cuts} at scene cuts)" if self.segments
                else "")
        return (f"fitted {len(self.fitted)} frames{segs} into {out_dir} on {self.workers} "
                f"workers in {self.seconds:.1f} s ({rate:.1f} frames/min{skip}){psnr}")


# -- segments and resume ------------------------------------------------------------------------
def segments(jobs: list[Job]) -> list[list[int]]:
    """Indices of `jobs` cut into warm-start chains: a new segment at every keyframe (a job that
    is not warm) and wherever the output folder changes (vm mode's sequences)."""
    out: list[list[int]] = []
    for i, job in enumerate(jobs):
        if not out or not job.warm or jobs[i - 1].out_dir != job.out_dir:
            out.append([])
        out[-1].append(i)
    return out


def _plain(obj: Any) -> Any:
    """`obj` as JSON reads it back (tuples become lists), for comparing recorded settings."""
    return json.loads(json.dumps(obj))


def frame_state(job: Job, mode: str, settings: FitSettings) -> tuple[str, GaborSet | None]:
    """('missing' | 'incomplete' | 'complete' | 'other', the saved fit when complete or other).

    'other' is a complete fit of another frame, mode or settings: resuming onto it would mix two
    runs in one folder.
    """
    from imfit.formats import gabor_json
    from imfit.formats.images import read_image

    outs = fit_outputs(job.out_dir, job.stem)
    if not any(os.path.lexists(o) for o in outs):
        return "missing", None
    try:
        gs = gabor_json.load(outs[0])
        gabor_json.load_txt(outs[2], gs.width, gs.height)
        read_image(outs[1])
    except ImfitError:
        return "incomplete", None
    meta = gs.meta
    if meta.get("incomplete", True):
        return "incomplete", None
    same = (meta.get("source") == job.image.name and meta.get("mode") == mode
            and meta.get("settings") == _plain(asdict(settings))
            and (meta.get("weight") == (job.weight.name if job.weight else None)))
    if same and not job.warm and meta.get("warm_start"):
        same = False  # fitted as a warm frame: other keyframes
    if same and "keyframe" in meta and meta["keyframe"] != (not job.warm):
        same = False  # fitted cold where this plan starts warm (other cuts or --keyframes)
    return ("complete" if same else "other"), gs


@dataclass
class _Todo:
    """One segment's work: its frames to fit, in order, and the warm start of the first."""

    jobs: list[Job]
    prev: GaborSet | None


def resume_plan(jobs: list[Job], mode: str, settings: FitSettings, force: bool
                ) -> tuple[list[_Todo], list[str], set[Path]]:
    """(segments' work, stems already complete, outputs that exist and will be replaced)."""
    todos: list[_Todo] = []
    skipped: list[str] = []
    replace_ok: set[Path] = set()
    for seg in segments(jobs):
        prev: GaborSet | None = None
        start = len(seg)
        for k, i in enumerate(seg):
            state, gs = ("missing", None) if force else frame_state(jobs[i], mode, settings)
            if state == "other":
                outs = fit_outputs(jobs[i].out_dir, jobs[i].stem)
                raise ImfitError(f"{outs[0]} holds a fit of another frame, mode or settings; "
                                 "pass --force to refit it, or use another output folder")
            if state != "complete":
                start = k
                break
            prev = gs
        for i in seg[:start]:
            skipped.append(jobs[i].stem)
        rest = [jobs[i] for i in seg[start:]]
        for job in rest:  # what a frame after a refit holds is replaced too (see the docstring)
            if force or frame_state(job, mode, settings)[0] != "missing":
                replace_ok.update(o for o in fit_outputs(job.out_dir, job.stem)
                                  if os.path.lexists(o))
        if rest:
            todos.append(_Todo(rest, prev))
    return todos, skipped, replace_ok


# -- the worker side ----------------------------------------------------------------------------
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imfit")
    except PackageNotFoundError:  # a source tree on sys.path, not installed
        return "unknown"


def probe(first_image: str) -> dict[str, Any]:
    """Run on every worker before the work: its imfit and torch versions and whether it can
    read the input (a worker without the package fails to unpickle this very function).

    It also fits a 2-wavelet 8x8 picture for 2 steps: a fresh process's first fit pays for
    torch's first use of each op (tens of seconds on a loaded machine), which belongs to the
    cluster's start, not to the first frame's time.
    """
    import torch

    from imfit.fitting.fitter import FitSettings, fit_array
    from imfit.native import single_thread

    with single_thread():
        fit_array(np.full((8, 8, 3), 0.5, np.float32),
                  FitSettings(num_gabors=2, size=8, iterations=2, rescales=0))

    return {"imfit": _version(), "torch": torch.__version__,
            "reads_input": os.path.isfile(first_image), "host": os.uname().nodename}


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, run in each LocalCluster worker process as it starts: a terminal's
    Ctrl-C reaches the whole process group, and only the client should act on it (it cancels
    the work and closes the cluster); a worker would print a traceback and die mid-write."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def fit_frame(job: Job, mode: str, settings: FitSettings, alpha: str,
              background: tuple[float, float, float], prev: FrameFit | GaborSet | None
              ) -> FrameFit:
    """One frame, on a worker: `modes.job_inputs`' target and warm start, fitted on one torch
    thread (see the module docstring), its preview rendered here so the client only writes."""
    from imfit.fitting.fitter import fit_array
    from imfit.native import single_thread
    from imfit.renderers.gabor import render

    prev_set = prev.gaborset if isinstance(prev, FrameFit) else prev
    with single_thread():
        target, wmap, init, meta = job_inputs(job, mode, settings, alpha, background, prev_set)
        result = fit_array(target, settings, wmap, init, meta)
        if result.interrupted:  # the worker got Ctrl-C: a partial fit is never sent as done
            raise ImfitError(f"the fit of {job.image.name} was interrupted on its worker")
        preview = render(result.gaborset)
    return FrameFit(job.stem, result.gaborset, preview.astype(np.float32),
                    float(result.gaborset.meta["psnr"]), result.seconds)


# -- the client side ----------------------------------------------------------------------------
def check_cluster_args(mode: str, workers: int | None, address: str | None,
                       view: bool = False) -> None:
    """The options' own checks, before any import or connection."""
    if view:
        raise ImfitError("--view watches one local fit; drop it with --workers/--cluster")
    if workers is not None and address is not None:
        raise ImfitError("give either a number of local workers or a scheduler address, not both")
    if workers is not None and workers < 1:
        raise ImfitError(f"--workers must be at least 1, got {workers}")
    if address is not None:
        from urllib.parse import urlsplit

        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("tcp", "tls", "ws", "wss") or not parts.hostname or not port:
            raise ImfitError(f"{address!r} is not a scheduler address like tcp://host:8786")
    if mode not in CLUSTER_MODES:
        raise ImfitError(f"a cluster fits folder, video and vm modes, not --mode {mode}")


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ImfitError("fitting on a cluster needs Dask: pip install 'imfit[cluster]'") from None
    return distributed


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask logs every restarted worker and closed connection; the user sees one bar and one
    summary line (failures come back as errors)."""
    names = ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.worker",
             "distributed.core", "distributed.client", "distributed.comm", "tornado")
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


def _target(address: str) -> str:
    return address if "://" in address else f"tcp://{address}"


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """One Dask `identity` request to `address`, bounded by `timeout` seconds (default
    CONNECT_TIMEOUT_S) as a whole: nothing there, a host that never answers, or another kind
    of server (Dask's client reads an HTTP reply as a frame length of exabytes and runs out of
    memory; a silent listener holds it past its own timeout) is one line, before the clip is
    read or a client started."""
    import asyncio

    _import_distributed()
    from distributed.comm import connect as comm_connect

    wait = CONNECT_TIMEOUT_S if timeout is None else timeout

    async def ask() -> Any:
        comm = await comm_connect(_target(address), timeout=wait)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def in_own_loop() -> Any:  # a thread of its own: the caller may run a loop (Jupyter)
        return asyncio.run(asyncio.wait_for(ask(), wait))

    from concurrent.futures import ThreadPoolExecutor

    with _quiet_dask(), ThreadPoolExecutor(1) as pool:
        try:
            who = pool.submit(in_own_loop).result()
        except (OSError, TimeoutError, asyncio.TimeoutError):
            who = None
            reached = False
        except Exception:  # noqa: BLE001 - garbage from another protocol, in any form
            who, reached = None, True
        else:
            reached = True
    if not reached:
        raise ImfitError(f"cannot reach the Dask scheduler at {address} within {wait:g} s "
                         "(is `dask scheduler` running there?)")
    if not isinstance(who, dict) or who.get("type") != "Scheduler":
        raise ImfitError(f"what answers at {address} is not a Dask scheduler (another "
                         "program has that port?)")


@contextmanager
def connect(workers: int | None, address: str | None,
            connect_timeout: float | None = None) -> Iterator[Any]:
    """A dask Client: on a new LocalCluster of `workers` processes with one thread each, or on
    the scheduler at `address` (fails within `connect_timeout` seconds, default
    CONNECT_TIMEOUT_S, when it is not there)."""
    distributed = _import_distributed()
    if connect_timeout is None:
        connect_timeout = CONNECT_TIMEOUT_S
    cluster = None
    with _quiet_dask():
        try:
            if address is None:
                cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=logging.CRITICAL,  # :0 no clash
                    preload=[__name__])  # dask_setup: Ctrl-C is the client's
                client = distributed.Client(cluster, timeout=max(connect_timeout, 30))
            else:
                client = distributed.Client(_target(address), timeout=connect_timeout)
        except (OSError, TimeoutError) as e:
            if cluster is not None:
                cluster.close()
                raise ImfitError(f"cannot start a local Dask cluster ({e})") from None
            raise ImfitError(f"cannot reach the Dask scheduler at {address} within "
                             f"{connect_timeout:g} s (is `dask scheduler` running there?)"
                             ) from None
        try:
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def check_workers(client: Any, first_image: Path, echo: Callable[[str], None] = print,
                  wait_s: float = WORKER_WAIT_S) -> int:
    """Every worker can run imfit (the same version as here) and read the input: one line on
    the first that cannot; a worker with another torch is a warning (its fits are valid but
    not bit-identical). Returns the number of workers."""
    import torch

    try:
        client.wait_for_workers(1, timeout=wait_s)
    except (TimeoutError, OSError):
        raise ImfitError(f"the Dask scheduler has no workers after {wait_s:g} s; start some "
                         "with `dask worker <scheduler address>`") from None
    answers = client.run(probe, str(first_image), on_error="return")
    here = _version()
    for addr, got in sorted(answers.items()):
        if isinstance(got, BaseException):
            why = str(got).splitlines()[0] if str(got) else type(got).__name__
            raise ImfitError(f"worker {addr} cannot run imfit ({type(got).__name__}: {why}); "
                             "install imfit[cluster] there")
        if got["imfit"] != here:
            raise ImfitError(f"worker {addr} runs imfit {got['imfit']}, this machine {here}; "
                             "install the same version on every worker")
        if got["torch"] != torch.__version__:
            echo(f"warning: worker {addr} runs torch {got['torch']}, this machine "
                 f"{torch.__version__}; its frames will not be bit-identical to a local run")
        if not got["reads_input"]:
            raise ImfitError(f"worker {addr} ({got['host']}) cannot read {first_image}: every "
                             "worker needs the frames at the same path (a shared or copied "
                             "folder)")
    return len(answers)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def run_cluster_jobs(path: Path, mode: str, out_dir: Path, weight: Path | None,
                     settings: FitSettings, keyframes: int = 10, alpha: str = "composite",
                     background: tuple[float, float, float] = (0.0, 0.0, 0.0),
                     force: bool = False, workers: int | None = None,
                     address: str | None = None, echo: Callable[[str], None] = print,
                     connect_timeout: float | None = None,
                     on_written: Callable[[str], None] | None = None,
                     cuts: str = "auto") -> ClusterRun:
    """Fit every job of `modes.plan(...)` on Dask and write its files as results arrive.

    Checks everything it can before any fit: the options, the frames, the output folders,
    what earlier runs left (see `resume_plan`), the scheduler, every worker. `on_written(stem)`
    is called after each frame's files are in place. Ctrl-C raises
    `imfit.formats.files.Interrupted` after cancelling the rest: only complete files remain.
    """
    from tqdm import tqdm

    from imfit.formats.files import Interrupted, check_output_folder, refuse_existing

    check_cluster_args(mode, workers, address)
    _import_distributed()
    if address is not None:  # seconds, not after the clip is read and the cuts are found
        check_scheduler(address, connect_timeout)
    jobs = list(plan(path, mode, out_dir, weight, keyframes, cuts))  # the single run's plan
    for folder in {job.out_dir for job in jobs}:
        check_output_folder(folder, create=True)
    jobs = [replace(j, image=j.image.resolve(),
                    weight=None if j.weight is None else j.weight.resolve()) for j in jobs]
    todos, skipped, replaced = resume_plan(jobs, mode, settings, force)
    refuse_existing([o for t in todos for j in t.jobs for o in fit_outputs(j.out_dir, j.stem)
                     if o not in replaced], force)
    run = ClusterRun(skipped=skipped)
    if mode in ("video", "vm"):
        run.segments, run.cuts = len(segments(jobs)), sum(j.cut for j in jobs)
    total = sum(len(t.jobs) for t in todos)
    if total == 0:
        return run
    t0 = time.time()
    with connect(workers, address, connect_timeout) as client:  # None: CONNECT_TIMEOUT_S
        run.workers = check_workers(client, todos[0].jobs[0].image, echo)
        run.startup = time.time() - t0
        line = describe_plan(jobs, mode, keyframes, cuts)
        if line:
            echo(line)
        distributed = _import_distributed()
        tag = uuid.uuid4().hex[:8]
        futures = []
        for t in todos:
            prev: Any = t.prev
            for job in t.jobs:
                prev = client.submit(fit_frame, job, mode, settings, alpha, background, prev,
                                     key=f"fit-{job.out_dir.name}/{job.stem}-{tag}",
                                     pure=False)
                futures.append(prev)
        by_key = {f.key: j for f, j in zip(futures, [j for t in todos for j in t.jobs])}
        pending = {f.key: f for f in futures}  # not yet written (the ones to cancel on a stop)
        bar = tqdm(total=len(jobs), initial=len(skipped), unit="frame", dynamic_ncols=True,
                   desc=f"fit on {run.workers} workers")
        try:
            for fut in distributed.as_completed(futures):
                job = by_key[fut.key]
                try:
                    frame = fut.result()
                except ImfitError:
                    raise
                except Exception as e:  # a worker's own failure, or one that could not start
                    name = type(e).__name__
                    if name == "KilledWorker":
                        raise ImfitError(f"{job.image.name}: each worker that fitted it died "
                                         "(out of memory?); stopped") from None
                    raise ImfitError(f"{job.image.name}: {_one_line(e)} on a worker") from None
                _write(frame, job, force or any(o in replaced for o in
                                                fit_outputs(job.out_dir, job.stem)))
                run.fitted.append(job.stem)
                run.psnrs.append(frame.psnr)
                run.fit_seconds.append(frame.seconds)
                bar.set_postfix_str(f"PSNR {frame.psnr:.2f} dB", refresh=False)
                bar.update(1)
                del pending[fut.key]
                fut.release()
                if on_written is not None:
                    on_written(job.stem)
        except KeyboardInterrupt:
            client.cancel(list(pending.values()))
            raise Interrupted(len(run.fitted), f"{len(run.fitted)} of {total} frames written "
                              f"to {out_dir}, all complete; run the same command again to fit "
                              "the rest") from None
        except BaseException:
            client.cancel(list(pending.values()))
            raise
        finally:
            bar.close()
    run.seconds = time.time() - t0
    return run


def _write(frame: FrameFit, job: Job, overwrite: bool) -> None:
    """A frame's three files as one transaction (modes.write_fit, with the worker's preview).
    A Ctrl-C meanwhile is held back until they are in place, then stops the run."""
    from imfit.fitting.modes import write_fit

    _, _, late = write_fit(frame.gaborset, fit_outputs(job.out_dir, job.stem), overwrite,
                           False, lambda _: frame.preview)
    if late:
        raise KeyboardInterrupt


__all__ = ["CLUSTER_MODES", "ClusterRun", "FrameFit", "check_cluster_args", "check_scheduler",
           "connect", "fit_frame", "frame_state", "probe", "resume_plan", "run_cluster_jobs",
           "segments"]
