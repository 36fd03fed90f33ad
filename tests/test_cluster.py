"""Fit modes on Dask distributed (imfit.fitting.distributed, docs/cluster.md).

The independent expectation is the plain single-process loop (`modes.run_fit_jobs`, on one
thread like every worker): a cluster run, a run that loses a worker and a resumed run must
write exactly its parameters (bit for bit) and previews. Frames are tiny (24x16, 8 wavelets, 20
steps) so a fit takes a fraction of a second; the cost is the worker processes (torch imported
in each), so one LocalCluster serves the module, and one test starts its own through
--workers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import distributed  # the `cluster` extra, which `dev` includes: missing means a broken set-up
import numpy as np
import pytest
from PIL import Image

import imfit
from cli import main
from imfit.errors import ImfitError
from imfit.fitting.fitter import FitSettings

SETTINGS = FitSettings(num_gabors=8, size=24, iterations=20, rescales=0, seed=3)
KEYFRAMES = 3
N_FRAMES = 9
CUT = 5  # the clip cuts from the astronaut to the cat at frame 5
# keyframes at 0, 3 (K), 5 (the cut) and 8 (K after the cut): four segments
SEGMENTS = [["f000", "f001", "f002"], ["f003", "f004"], ["f005", "f006", "f007"], ["f008"]]
STEMS = [f"f{i:03d}" for i in range(N_FRAMES)]
CLI_FIT = ["--size", "24", "--num-gabors", "8", "--iterations", "20", "--rescales", "0",
           "--seed", "3", "--keyframes", str(KEYFRAMES), "--mode", "video"]


def make_clip(folder: Path) -> Path:
    """24x16 frames: a slow pan across the astronaut, a cut at frame CUT, a pan across the cat
    (each frame differs, neighbours are alike, as in video)."""
    from clips import pan, save

    save(pan("astronaut.png", CUT, 6, (24, 16)) + pan("chelsea.png", N_FRAMES - CUT, 6, (24, 16)),
         folder)
    return folder


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "frames")


@pytest.fixture(scope="module")
def reference(clip, tmp_path_factory) -> Path:
    """The single-process run on one thread: what every cluster run must reproduce."""
    from imfit.fitting.modes import run_fit_jobs
    from imfit.native import single_thread

    out = tmp_path_factory.mktemp("single")
    with single_thread():
        assert run_fit_jobs(clip, "video", out, None, SETTINGS, keyframes=KEYFRAMES,
                            echo=lambda _: None) == 0
    return out


@pytest.fixture(scope="module")
def local_cluster():
    """One LocalCluster of 2 worker processes (1 thread each) for the module."""
    import logging

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
    yield cluster
    cluster.close()


@pytest.fixture
def scheduler(local_cluster) -> str:
    return local_cluster.scheduler_address


def same_as_reference(out: Path, reference: Path, stems=STEMS) -> None:
    for stem in stems:
        a = imfit.load(reference / f"{stem}.gabor.json")
        b = imfit.load(out / f"{stem}.gabor.json")
        assert np.array_equal(a.params, b.params), f"{stem}: parameters differ"
        assert np.array_equal(a.bias, b.bias), stem
        assert a.meta["warm_start"] == b.meta["warm_start"], stem
        assert b.meta["incomplete"] is False
        pa = np.asarray(Image.open(reference / f"{stem}.png"))
        pb = np.asarray(Image.open(out / f"{stem}.png"))
        assert np.array_equal(pa, pb), f"{stem}: previews differ"
        assert (out / f"{stem}.txt").read_text() == (reference / f"{stem}.txt").read_text()


def run(clip: Path, out: Path, **kw):
    from imfit.fitting.distributed import run_cluster_jobs

    return run_cluster_jobs(clip, "video", out, None, SETTINGS, keyframes=KEYFRAMES,
                            echo=lambda _: None, **kw)


def no_temp_files(folder: Path) -> None:
    from imfit.formats.files import TEMP_RE

    assert not [p.name for p in folder.iterdir() if TEMP_RE.fullmatch(p.name)]


# -- meaning -----------------------------------------------------------------------------------
def test_keyframes_cut_the_clip_into_warm_started_segments(clip, reference):
    """The rule both runs share: a keyframe at the cut and KEYFRAMES frames after the last
    keyframe; the rest warm. Each frame's metadata says which it was."""
    from imfit.fitting.distributed import segments
    from imfit.fitting.modes import plan

    keys = {seg[0] for seg in SEGMENTS}
    metas = [imfit.load(reference / f"{s}.gabor.json").meta for s in STEMS]
    assert [m["warm_start"] for m in metas] == [s not in keys for s in STEMS]
    assert [m["keyframe"] for m in metas] == [s in keys for s in STEMS]
    assert [s for s, m in zip(STEMS, metas) if m["scene_cut"]] == [f"f{CUT:03d}"]
    video = list(plan(clip, "video", reference, None, keyframes=KEYFRAMES))
    assert [[video[i].stem for i in seg] for seg in segments(video)] == SEGMENTS
    jobs = list(plan(clip, "folder", reference, None))
    assert segments(jobs) == [[i] for i in range(len(jobs))]
    off = list(plan(clip, "video", reference, None, keyframes=4, cuts="off"))
    assert segments(off) == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]


def test_the_frame_after_the_cut_is_a_cold_fit(clip, reference, tmp_path):
    """Frame CUT's parameters are those of fitting that picture alone (`--mode image`, same
    seed): nothing of the astronaut's wavelets carried over. The frame before it was warm."""
    from imfit.fitting.modes import run_fit_jobs
    from imfit.native import single_thread

    stem = f"f{CUT:03d}"
    with single_thread():
        assert run_fit_jobs(clip / f"{stem}.png", "image", tmp_path, None, SETTINGS,
                            echo=lambda _: None) == 0
    alone = imfit.load(tmp_path / f"{stem}.gabor.json")
    in_video = imfit.load(reference / f"{stem}.gabor.json")
    assert np.array_equal(alone.params, in_video.params)
    assert np.array_equal(alone.bias, in_video.bias)
    before = imfit.load(reference / f"f{CUT - 1:03d}.gabor.json")
    assert before.meta["warm_start"] is True


def test_the_plan_line_counts_segments_and_cuts(clip, tmp_path):
    from click.testing import CliRunner

    r = CliRunner().invoke(main, ["fit", str(clip), "-o", str(tmp_path / "o"), *CLI_FIT])
    assert r.exit_code == 0, r.output
    assert ("9 frames in 4 segments (1 scene cut found; a keyframe at least every 3 frames)"
            in r.output), r.output
    r = CliRunner().invoke(main, ["fit", str(clip), "-o", str(tmp_path / "p"), *CLI_FIT,
                                  "--cuts", "off"])
    assert r.exit_code == 0, r.output
    assert "9 frames in 3 segments (scene cuts off;" in r.output, r.output


def test_two_local_workers_write_what_one_process_writes(clip, reference, tmp_path):
    """`imfit fit --workers 2`: its own LocalCluster; the files are the single-process run's."""
    from click.testing import CliRunner

    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["fit", str(clip), "-o", str(out), "--workers", "2", *CLI_FIT])
    assert r.exit_code == 0, r.output
    assert "fitted 9 frames (4 segments, 1 at scene cuts)" in r.output, r.output
    assert "on 2 workers" in r.output
    same_as_reference(out, reference)
    no_temp_files(out)


def test_a_worker_killed_mid_run_loses_nothing(clip, reference, tmp_path, local_cluster):
    """SIGKILL the worker process that is fitting once the first frame is written: its tasks
    run again elsewhere and every frame still comes out as in the single-process run."""
    killed: list[int] = []

    def kill_busy(stem: str) -> None:
        if killed:
            return
        state = local_cluster.scheduler.workers  # the scheduler runs in this process
        pids = {n.worker_address: n.process.pid for n in local_cluster.workers.values()}
        busy = [a for a in pids if a in state and state[a].processing]
        victim = pids[(busy or sorted(pids))[0]]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    result = run(clip, tmp_path, address=local_cluster.scheduler_address, on_written=kill_busy)
    assert killed
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    assert sorted(result.fitted) == STEMS
    same_as_reference(tmp_path, reference)


def test_resume_skips_complete_frames_and_refits_the_rest(clip, reference, tmp_path,
                                                          scheduler):
    """Start from the single-process files, damaged three ways: a fit marked incomplete (what
    Ctrl-C writes), a truncated .txt, a missing frame. Only the damaged frames and those after
    them in their segment (SEGMENTS) are refitted (from the saved previous frame); the rest
    keep their files untouched."""
    for p in reference.iterdir():
        shutil.copy2(p, tmp_path / p.name)
    gs = imfit.load(tmp_path / "f001.gabor.json")
    imfit.save(gs.replace(meta={**gs.meta, "incomplete": True}), tmp_path / "f001.gabor.json",
               overwrite=True)
    txt = tmp_path / "f003.txt"
    txt.write_text(txt.read_text()[:40])
    for ext in (".gabor.json", ".png", ".txt"):
        (tmp_path / f"f008{ext}").unlink()
    kept = ["f000", "f005", "f006", "f007"]
    mtimes = {s: (tmp_path / f"{s}.gabor.json").stat().st_mtime_ns for s in kept}
    time.sleep(0.01)

    result = run(clip, tmp_path, address=scheduler)
    assert sorted(result.skipped) == kept
    assert sorted(result.fitted) == ["f001", "f002", "f003", "f004", "f008"]
    assert {s: (tmp_path / f"{s}.gabor.json").stat().st_mtime_ns for s in kept} == mtimes
    same_as_reference(tmp_path, reference)
    again = run(clip, tmp_path, address=scheduler)  # nothing left to do
    assert again.fitted == [] and sorted(again.skipped) == STEMS


def test_ctrl_c_leaves_complete_files_and_a_rerun_finishes(clip, reference, tmp_path,
                                                           scheduler):
    """A Ctrl-C after two frames: only complete files remain (each reads back, none marked
    incomplete, no temp files), and the same command fits exactly the missing frames."""
    from imfit.formats.files import Interrupted

    written: list[str] = []

    def stop_after_two(stem: str) -> None:
        written.append(stem)
        if len(written) == 2:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as stop:
        run(clip, tmp_path, address=scheduler, on_written=stop_after_two)
    assert "2 of 9 frames written" in stop.value.message
    on_disk = sorted(p.name[: -len(".gabor.json")] for p in tmp_path.glob("*.gabor.json"))
    assert on_disk == sorted(written)
    same_as_reference(tmp_path, reference, written)
    no_temp_files(tmp_path)
    result = run(clip, tmp_path, address=scheduler)
    assert sorted(result.skipped) == sorted(written)
    assert sorted(result.fitted + result.skipped) == STEMS
    same_as_reference(tmp_path, reference)


def _no_fit(*args, **kwargs):
    raise AssertionError("a frame was submitted")


def test_other_settings_in_the_output_folder_stop_before_any_work(clip, reference, tmp_path,
                                                                  scheduler, monkeypatch):
    """A complete fit made with other settings is not silently mixed into this run."""
    for p in reference.iterdir():
        shutil.copy2(p, tmp_path / p.name)
    from imfit.fitting import distributed as engine

    monkeypatch.setattr(engine, "connect", _no_fit)
    other = FitSettings(num_gabors=9, size=24, iterations=20, rescales=0, seed=3)
    with pytest.raises(ImfitError, match="another frame, mode or settings; pass --force"):
        engine.run_cluster_jobs(clip, "video", tmp_path, None, other, keyframes=KEYFRAMES,
                                address=scheduler)


@pytest.mark.parametrize("keyframes,cuts", [(5, "off"), (3, "off")])
def test_other_keyframes_in_the_output_folder_stop_before_any_work(
        clip, reference, tmp_path, scheduler, monkeypatch, keyframes, cuts):
    """The reference was cut at 0, 3, 5, 8. Resuming it with keyframes 0, 5 (a frame fitted
    cold, f003, would now be warm) or 0, 3, 6 (f005 fitted cold would be warm, f006 fitted warm
    would be cold) would keep fits this plan does not make."""
    for p in reference.iterdir():
        shutil.copy2(p, tmp_path / p.name)
    from imfit.fitting import distributed as engine

    monkeypatch.setattr(engine, "connect", _no_fit)
    with pytest.raises(ImfitError, match="another frame, mode or settings; pass --force"):
        engine.run_cluster_jobs(clip, "video", tmp_path, None, SETTINGS, keyframes=keyframes,
                                cuts=cuts, address=scheduler)


# -- bad input: one line, exit 2 ----------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line_exit_2(args: list[str], *needles: str):
    from click.testing import CliRunner

    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    assert "Traceback" not in r.output
    for n in needles:
        assert n in lines[0], r.output
    return lines[0]


def test_unreachable_scheduler_fails_fast(clip, tmp_path, monkeypatch):
    from imfit.fitting import distributed as engine

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1.0)
    t0 = time.monotonic()
    addr = f"tcp://127.0.0.1:{_free_port()}"
    one_line_exit_2(["fit", str(clip), "-o", str(tmp_path / "o"), "--cluster", addr, *CLI_FIT],
                    "cannot reach the Dask scheduler", addr)
    assert time.monotonic() - t0 < 15
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.fixture
def listener():
    """A TCP port on loopback held by something that is not a Dask scheduler: `reply` bytes
    once a request comes (an HTTP server's answer), or None: never a word (a hung service)."""
    import socket
    import threading

    socks: list[socket.socket] = []

    def start(reply: bytes | None) -> str:
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        socks.append(srv)

        def serve() -> None:
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                socks.append(conn)
                if reply is not None:
                    try:
                        conn.recv(256)
                        conn.sendall(reply)
                    except OSError:
                        pass

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{srv.getsockname()[1]}"

    yield start
    for s in socks:
        s.close()


@pytest.mark.parametrize("reply,needle", [
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "is not a Dask scheduler"),
    (b"\xff" * 64, "is not a Dask scheduler"),
    (None, "cannot reach the Dask scheduler"),
])
def test_a_port_that_is_not_a_scheduler_fails_fast(clip, tmp_path, monkeypatch, listener,
                                                   reply, needle):
    """An HTTP server at the address made Dask's client read its reply as an exabyte frame
    ('out of memory'); a listener that never answers held it for as long as the socket
    lived. Both are one line now, within the connect timeout."""
    from imfit.fitting import distributed as engine

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1.0)
    addr = listener(reply)
    t0 = time.monotonic()
    one_line_exit_2(["fit", str(clip), "-o", str(tmp_path / "o"), "--cluster", addr, *CLI_FIT],
                    needle, addr)
    assert time.monotonic() - t0 < 15
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("extra,needle", [
    (["--workers", "0"], "--workers must be at least 1, got 0"),
    (["--workers", "-1"], "--workers must be at least 1, got -1"),
    (["--workers", "2", "--cluster", "tcp://127.0.0.1:8786"], "not both"),
    (["--cluster", "tcp://nohost"], "is not a scheduler address"),
    (["--cluster", "http://127.0.0.1:8786"], "is not a scheduler address"),
])
def test_bad_cluster_options(clip, tmp_path, extra, needle):
    one_line_exit_2(["fit", str(clip), "-o", str(tmp_path / "o"), *CLI_FIT, *extra], needle)


def test_image_mode_is_refused(clip, tmp_path):
    one_line_exit_2(["fit", str(clip / "f000.png"), "-o", str(tmp_path / "o"), "--workers", "2",
                     "--mode", "image"], "folder, video and vm modes")


def test_folder_without_frames(tmp_path):
    (tmp_path / "empty").mkdir()
    one_line_exit_2(["fit", str(tmp_path / "empty"), "-o", str(tmp_path / "o"), "--workers",
                     "2", "--mode", "video"], "no images in folder")


def test_a_worker_without_the_package_is_one_line(clip, tmp_path):
    """A `dask worker` whose Python cannot import imfit joins a scheduler: the run stops at the
    probe with that worker's address, before any frame is submitted."""
    import logging

    cluster = distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp",
                                       dashboard_address=":0",
                                       silence_logs=logging.CRITICAL)
    code = ("import sys; sys.modules['imfit'] = None; "
            "from distributed.cli.dask_worker import main; "
            f"sys.argv = ['dask-worker', '{cluster.scheduler_address}', '--nthreads', '1', "
            "'--no-nanny', '--no-dashboard']; main()")
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        with distributed.Client(cluster) as c:
            c.wait_for_workers(1, timeout=120)
        line = one_line_exit_2(["fit", str(clip), "-o", str(tmp_path / "o"), "--cluster",
                                cluster.scheduler_address, *CLI_FIT],
                               "cannot run imfit", "install imfit[cluster] there")
        assert "tcp://" in line
        assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    finally:
        worker.terminate()
        worker.wait(30)
        cluster.close()


def test_a_worker_stopped_mid_fit_sends_no_partial_frame(clip, monkeypatch):
    """Ctrl-C reaching a worker's fit (a terminal's Ctrl-C goes to the whole process group)
    ends the fit early with its latest parameters; the task must fail rather than send those
    back as a finished frame, which the client would write as complete."""
    from imfit.fitting import distributed as engine
    from imfit.fitting import fitter
    from imfit.fitting.modes import plan

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fitter, "_loss", interrupted)
    job = next(iter(plan(clip, "video", clip, None, KEYFRAMES)))
    with pytest.raises(ImfitError, match="interrupted on its worker"):
        engine.fit_frame(job, "video", SETTINGS, "composite", (0.0, 0.0, 0.0), None)


def test_a_real_ctrl_c_stops_the_command_cleanly(clip, tmp_path, scheduler):
    """`imfit fit --workers 2` in its own process group, SIGINT to the group (what a terminal's
    Ctrl-C does) once two frames are written: exit 130, one 'interrupted' line and no worker
    traceback, only complete files, and the same settings then resume from them."""
    import signal as sig

    out = tmp_path / "out"
    args = [*CLI_FIT[:4], "--iterations", "60", *CLI_FIT[6:]]
    proc = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "fit", str(clip),
                             "-o", str(out), "--workers", "2", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: sig.signal(sig.SIGINT, sig.SIG_DFL))
    deadline = time.monotonic() + 240
    while len(list(out.glob("*.gabor.json"))) < 2 and proc.poll() is None:
        assert time.monotonic() < deadline, "no frames written in 240 s"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, text
    assert "Traceback" not in text, text
    assert [ln for ln in text.replace("\r", "\n").splitlines()
            if ln.startswith("interrupted:")], text
    done = sorted(p.name[: -len(".gabor.json")] for p in out.glob("*.gabor.json"))
    assert 2 <= len(done) < N_FRAMES
    for stem in done:  # complete: all three files, each reads back, none marked incomplete
        assert imfit.load(out / f"{stem}.gabor.json").meta["incomplete"] is False
        assert Image.open(out / f"{stem}.png").size == (24, 16)
        assert (out / f"{stem}.txt").read_text().count("\n") == 8
    no_temp_files(out)
    from imfit.fitting.distributed import run_cluster_jobs

    again = run_cluster_jobs(clip, "video", out, None, replace(SETTINGS, iterations=60),
                             keyframes=KEYFRAMES, address=scheduler)
    assert set(again.skipped) <= set(done) and sorted(again.fitted + again.skipped) == STEMS
