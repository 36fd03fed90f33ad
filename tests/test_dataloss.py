"""Nothing is lost: a failed or interrupted command leaves the user's files as they were, or
complete, and says which in one line (issue 12, "Data loss" 1-7, and the writers' permissions).

Failures are real where this machine allows: ffmpeg (imageio-ffmpeg's binary) is the encoder,
a full disk is a tiny tmpfs (root or sudo) or a file-size limit on ffmpeg (no privileges
needed), a read-only disk is a read-only tmpfs, Ctrl-C is SIGINT sent to ourselves or a
KeyboardInterrupt raised inside the encoder's write or Pillow's save, as a signal handler would.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import IN_CI, ROOT, random_params

import imfit
import imfit.formats.files as fio
import imfit.formats.gabor_json as io
import imfit.formats.images
import imfit.formats.video as video
from cli import main
from imfit import ImfitError
from imfit.formats.video import Interrupted, read_frames, write_frames
from imfit.model.gaborset import GaborSet

FIT_ARGS = ["--size", "16", "--num-gabors", "8", "--iterations", "5", "--rescales", "0"]


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def frames(n: int, w: int = 24, h: int = 16, seed: int = 0):
    """Distinct noisy frames (so a codec cannot shrink them to nothing)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        yield np.clip(rng.random((h, w, 3), np.float32) * 0.2 + i / max(n, 1) * 0.8, 0, 1)


def frames_then_ctrl_c(n: int, **kw):
    yield from frames(n, **kw)
    raise KeyboardInterrupt


def said(output: str) -> list[str]:
    """What a command said, without its progress bar."""
    return [ln for ln in output.replace("\r", "\n").splitlines() if ln.strip()
            and "step/s" not in ln and "it/s" not in ln]


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (hidden temps included: none may be left)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size, ro=False) -> a fresh tmpfs folder of that size (a real full/read-only disk)."""
    mounted: list[Path] = []
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]

    def mount(size: str = "64k", ro: bool = False) -> Path:
        d = tmp_path / f"disk{len(mounted)}"
        d.mkdir()
        opts = f"size={size},mode=0777" + (",ro" if ro else "")
        r = subprocess.run([*sudo, "mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            why = f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})"
            if IN_CI:
                pytest.fail(f"CI=true: {why}")
            pytest.skip(why)
        mounted.append(d)
        return d

    yield mount
    for d in reversed(mounted):
        subprocess.run([*sudo, "umount", "-l", str(d)], capture_output=True)


# -- 1. a frames folder with --force only ever loses imfit's frame files ------------------------
@pytest.mark.parametrize("command", ["render", "animate", "morph", "diffuse"])
def test_force_into_a_folder_holding_other_files_is_refused(command, fit_file, tmp_path,
                                                             monkeypatch, assets):
    work = tmp_path / "work"
    work.mkdir()
    photo = work / "photo.png"
    shutil.copy(assets / "chelsea.png", photo)
    fit = work / "a.gabor.json"
    shutil.copy(fit_file, fit)
    (work / "notes.txt").write_text("mine")
    before = listing(work)
    monkeypatch.chdir(work)
    args = {"render": ["render", fit, "--frames", "2", "-o", "."],
            "animate": ["animate", fit, "--drift", "phase=1", "--frames", "2", "-o", "."],
            "morph": ["morph", fit, fit, "--frames", "2", "-o", "."],
            "diffuse": ["diffuse", photo, "--steps", "2", "--size", "16", "-o", "."]}[command]
    r = run(*args, "--force")
    assert r.exit_code == 2, r.output
    assert "imfit did not write" in r.output and "Traceback" not in r.output
    assert listing(work) == before  # `-o . --force` never empties the working directory
    # the input's own folder, named explicitly, is refused the same way
    r = run(*[a if a != "." else work for a in args], "--force")
    assert r.exit_code == 2 and listing(work) == before


def test_force_replaces_frames_and_only_frames(tmp_path):
    out = tmp_path / "frames"
    assert write_frames(frames(5), out) == 5
    (out / ".frame_00009.png.abcdef12.part").write_bytes(b"a killed run's temp")
    with pytest.raises(ImfitError, match="exists; pass --force"):
        write_frames(frames(2), out)
    assert write_frames(frames(3, seed=7), out, force=True) == 3
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]  # stale 3, 4 gone
    want = [imfit.formats.images.to_uint8(f) for f in frames(3, seed=7)]
    got = [imfit.formats.images.to_uint8(f) for f in read_frames(out)]
    assert all(np.array_equal(a, b) for a, b in zip(want, got, strict=True))
    (out / "keep.txt").write_text("x")
    with pytest.raises(ImfitError, match="keep.txt"):
        write_frames(frames(2), out, force=True)
    assert (out / "keep.txt").read_text() == "x" and len(list(out.glob("frame_*.png"))) == 3


# -- 2. an encoder that fails never replaces the old video ------------------------------------
def _old_video(path: Path) -> bytes:
    write_frames(frames(4), path, fps=10)
    return path.read_bytes()


def test_mp4_fps_ffmpeg_refuses_keeps_the_old_file(tmp_path):
    out = tmp_path / "a.mp4"
    old = _old_video(out)
    with pytest.raises(ImfitError, match=r"ffmpeg could not write .*a\.mp4 was left as it was"):
        write_frames(frames(3), out, fps=1e-6, force=True)
    assert out.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]  # no temp left
    assert len(read_frames(out)) == 4


def test_mp4_file_size_limit_is_a_failed_write(tmp_path, monkeypatch):
    """ffmpeg itself hits a write error (EFBIG under RLIMIT_FSIZE, no privileges needed)."""
    out = tmp_path / "a.mp4"
    old = _old_video(out)
    real = subprocess.Popen

    def limited(*a, **k):
        def pre():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
        return real(*a, preexec_fn=pre, **k)

    monkeypatch.setattr(video.subprocess, "Popen", limited)
    r = run_cli_frames(out, ["--force"], lambda: frames(20, 64, 64))
    assert r.exit_code == 2 and len(said(r.output)) == 1 and "File too large" in r.output
    assert out.read_bytes() == old


def run_cli_frames(out: Path, extra: list[str], make_frames):
    """`imfit diffuse` on a tiny image with the diffusion replaced by `make_frames()`."""
    import imfit.diffusion.engine

    mp = pytest.MonkeyPatch()
    mp.setattr(imfit.diffusion.engine, "diffuse_frames", lambda *a, **k: make_frames())
    try:
        return run("diffuse", ROOT / "assets" / "chelsea.png", "--size", "16", "-o", out, *extra)
    finally:
        mp.undo()


def test_mp4_disk_full_keeps_the_old_file(tmpfs):
    disk = tmpfs("48k")
    out = disk / "a.mp4"
    old = _old_video(out)
    r = run_cli_frames(out, ["--force"], lambda: frames(30, 96, 96))
    assert r.exit_code == 2, r.output
    assert "No space left on device" in r.output and "a.mp4 was left as it was" in r.output
    assert len(said(r.output)) == 1
    assert out.read_bytes() == old and sorted(p.name for p in disk.iterdir()) == ["a.mp4"]


@pytest.mark.parametrize("name", ["a.gif", "frames", "b.png"])
def test_disk_full_in_gif_folder_and_png(tmpfs, name, fit_file):
    disk = tmpfs("32k")
    out = disk / name
    if name == "b.png":
        r = run("render", fit_file, "--size", "400x400", "-o", out)
    else:
        r = run_cli_frames(out, [], lambda: frames(40, 96, 96))
    assert r.exit_code == 2, r.output
    assert "No space left on device" in r.output and "nothing was written" in r.output
    assert "Traceback" not in r.output and list(disk.iterdir()) == []


def test_read_only_output_fails_before_the_work(tmpfs, assets, monkeypatch):
    ro = tmpfs("64k", ro=True)
    import imfit.fitting.fitter

    def never(*a, **k):
        raise AssertionError("the fit ran before the output folder was checked")

    monkeypatch.setattr(imfit.fitting.fitter, "fit_array", never)
    for out in (ro, ro / "new" / "deeper"):
        r = run("fit", assets / "chelsea.png", "-o", out, "--size", "16")
        assert r.exit_code == 2 and "read-only file system" in r.output, r.output
    r = run_cli_frames(ro / "a.mp4", [], lambda: never())
    assert r.exit_code == 2 and "not writable" in r.output


def test_a_write_failing_midway_leaves_the_old_file(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"old")

    def write(fh):
        fh.write(b"half of the new")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ImfitError, match=r"No space left on device\); .*a\.png was left as it"):
        fio.atomic_write(f, write)
    assert listing(tmp_path) == {"a.png": b"old"}  # and no temp beside it


# -- 3. concurrent writers: the final write refuses a file that appeared meanwhile -------------
def test_atomic_write_refuses_a_file_that_appeared_meanwhile(tmp_path):
    f = tmp_path / "a.gabor.json"

    def write(fh):
        f.write_text("the other fit's file")  # another process finished first
        fh.write(b"ours")

    with pytest.raises(ImfitError, match="appeared while this command ran"):
        fio.atomic_write(f, write, overwrite=False)
    assert f.read_text() == "the other fit's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gabor.json"]


def test_concurrent_fits_into_one_folder_do_not_overwrite(tmp_path, assets, monkeypatch):
    import imfit.formats.images

    out = tmp_path / "out"
    real = imfit.formats.images.image_writer

    def while_another_fit_finishes(img, path):
        # our .gabor.json is staged; the other fit now puts its own in place
        (out / "chelsea.gabor.json").write_text("the other fit")
        return real(img, path)

    monkeypatch.setattr(imfit.formats.images, "image_writer", while_another_fit_finishes)
    r = run("fit", assets / "chelsea.png", "-o", out, *FIT_ARGS)
    assert r.exit_code == 2 and "appeared while this command ran" in r.output, r.output
    assert listing(out) == {"chelsea.gabor.json": b"the other fit"}  # and no half set of ours


# -- 4 + 5. Ctrl-C inside the encoder or a PNG save keeps the frames made so far --------------
class _StdinCutAtFrame:
    """ffmpeg's stdin, raising KeyboardInterrupt half-way through frame `k` (a Ctrl-C landing
    inside the write to the encoder)."""

    def __init__(self, raw, k: int) -> None:
        self.raw, self.k, self.n = raw, k, 0

    def write(self, b: bytes) -> int:
        if self.n == self.k:
            self.raw.write(b[: len(b) // 2])
            raise KeyboardInterrupt
        self.n += 1
        return self.raw.write(b)

    def close(self) -> None:
        self.raw.close()


def test_ctrl_c_inside_the_encoder_keeps_the_frames(tmp_path, monkeypatch):
    real = subprocess.Popen

    def popen(*a, **k):
        p = real(*a, **k)
        p.stdin = _StdinCutAtFrame(p.stdin, 3)
        return p

    monkeypatch.setattr(video.subprocess, "Popen", popen)
    out = tmp_path / "a.mp4"
    with pytest.raises(Interrupted) as e:
        write_frames(frames(8), out, fps=10)
    assert e.value.written == 3 and "3 frames made so far were written" in e.value.message
    assert len(read_frames(out)) == 3


@pytest.mark.parametrize("name", ["frames", "a.gif"])
def test_ctrl_c_inside_pillow_save_keeps_the_frames(tmp_path, monkeypatch, name):
    from PIL import Image

    real = Image.Image.save
    calls = []

    def save(self, *a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Image.Image, "save", save)
    out = tmp_path / name
    with pytest.raises(Interrupted) as e:  # every frame is its own save: the 4th is lost
        write_frames(frames(6), out)
    assert e.value.written == 3 and len(read_frames(out)) == 3
    assert not [p for p in tmp_path.rglob(".*")]  # no temps left


def test_sigint_while_ffmpeg_finishes_is_held_back(tmp_path, monkeypatch):
    """A real SIGINT arriving while the encoder closes: the complete video is still written."""
    real = video._Mp4.finish

    def finish(self):
        signal.raise_signal(signal.SIGINT)
        return real(self)

    monkeypatch.setattr(video._Mp4, "finish", finish)
    out = tmp_path / "a.mp4"
    with pytest.raises(Interrupted) as e:
        write_frames(frames(5), out, fps=10)
    assert e.value.written == 5 and len(read_frames(out)) == 5


@pytest.mark.parametrize("name", ["a.mp4", "a.gif", "frames"])
def test_force_and_ctrl_c_keep_the_complete_earlier_output(tmp_path, name):
    out = tmp_path / name
    write_frames(frames(6), out, fps=10)
    before = listing(tmp_path)
    with pytest.raises(Interrupted) as e:
        write_frames(frames_then_ctrl_c(2, seed=3), out, fps=10, force=True)
    partial = tmp_path / ("a.partial" + out.suffix if out.suffix else "frames.partial")
    assert e.value.written == 2
    assert f"written to {partial}; {out} was kept as it was" in e.value.message
    assert {k: v for k, v in listing(tmp_path).items() if k in before} == before
    assert len(read_frames(out)) == 6 and len(read_frames(partial)) == 2


def test_cli_ctrl_c_message_names_the_partial_file(tmp_path):
    out = tmp_path / "d.gif"
    write_frames(frames(4), out)
    r = run_cli_frames(out, ["--force"], lambda: frames_then_ctrl_c(2))
    assert r.exit_code == 130
    assert f"interrupted: the 2 frames made so far were written to {tmp_path / 'd.partial.gif'}"\
        f"; {out} was kept as it was" in r.output


def test_fit_force_and_ctrl_c_keeps_the_complete_fit(tmp_path, assets, monkeypatch):
    import imfit.fitting.fitter

    out = tmp_path / "out"
    args = ["fit", assets / "chelsea.png", "-o", out, "--size", "16", "--num-gabors", "8",
            "--iterations", "30", "--rescales", "0", "--force"]
    assert run(*args).exit_code == 0
    before = listing(out)
    real = imfit.fitting.fitter.fit_array

    def ctrl_c_at_step_10(target, settings, wmap, init, meta, progress, snapshot):
        def prog(step, total, psnr):
            if step >= 10:
                raise KeyboardInterrupt
            progress(step, total, psnr)
        return real(target, settings, wmap, init, meta, prog, snapshot)

    monkeypatch.setattr(imfit.fitting.fitter, "fit_array", ctrl_c_at_step_10)
    r = run(*args)
    assert r.exit_code == 130
    assert f"the earlier {out / 'chelsea.gabor.json'} was kept" in r.output
    after = listing(out)
    assert {k: after[k] for k in before} == before
    part = imfit.load(out / "chelsea.partial.gabor.json")
    assert part.meta["incomplete"] is True and part.meta["steps"] == 10
    assert {"chelsea.partial.png", "chelsea.partial.txt"} <= set(after)


# -- 6. export is all-or-nothing ------------------------------------------------------------------
def test_export_with_a_target_name_that_is_a_folder_replaces_nothing(tmp_path):
    import exporters

    gs = GaborSet(random_params(5), 32, 32)
    out = tmp_path / "max"
    first = exporters.export(gs, "max", out, stem="fit")[0]
    assert len(first) == 6  # coll, dict, jxf, jxs, maxpat, README
    for p in first:
        p.write_bytes(b"user's edit of " + p.name.encode())
    victim = first[-1]
    victim.unlink()
    victim.mkdir()
    before = listing(out)
    with pytest.raises(ImfitError, match="is a directory.*nothing was written"):
        exporters.export(GaborSet(random_params(9), 32, 32), "max", out, stem="fit", force=True)
    assert listing(out) == before


def test_export_rename_failure_midway_is_undone(tmp_path, monkeypatch):
    import exporters

    out = tmp_path / "isf"
    paths = exporters.export(GaborSet(random_params(5), 32, 32), "isf", out, stem="fit")[0]
    before = listing(out)
    assert len(paths) == 2
    real = os.replace
    calls = []

    def replace(src, dst):
        if str(src).endswith(".part"):
            calls.append(dst)
            if len(calls) == 2:  # the second file cannot be put in place
                raise OSError(errno.EACCES, "Permission denied")
        return real(src, dst)

    monkeypatch.setattr(fio.os, "replace", replace)
    with pytest.raises(ImfitError, match="Permission denied.*nothing was replaced"):
        exporters.export(GaborSet(random_params(9), 32, 32), "isf", out, stem="fit", force=True)
    assert listing(out) == before  # the first file, already renamed, was put back


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_files_honour_the_umask(tmp_path, umask, fit_file):
    import exporters

    old = os.umask(umask)
    try:
        paths = exporters.export(imfit.load(fit_file), "isf", tmp_path / "x", stem="fit")[0]
        write_frames(frames(2), tmp_path / "f")
        write_frames(frames(2), tmp_path / "v.mp4")
        io.save(GaborSet(random_params(2), 8, 8), tmp_path / "a.gabor.json")
    finally:
        os.umask(old)
    files = [*paths, *(tmp_path / "f").iterdir(), tmp_path / "v.mp4", tmp_path / "a.gabor.json"]
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o666 & ~umask)}
    assert oct((tmp_path / "f").stat().st_mode & 0o777) == oct(0o777 & ~umask)


# -- 7. a fit's three outputs are one transaction -----------------------------------------------
def test_disk_full_after_the_first_fit_output_writes_none(tmp_path, assets, monkeypatch):
    import imfit.formats.images

    out = tmp_path / "out"
    real = imfit.formats.images.image_writer

    def full_disk(img, path):
        def write(f):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write

    monkeypatch.setattr(imfit.formats.images, "image_writer", full_disk)
    r = run("fit", assets / "chelsea.png", "-o", out, *FIT_ARGS)
    assert r.exit_code == 2 and "No space left on device" in r.output, r.output
    assert not out.exists()  # no half set, not even the folder
    monkeypatch.setattr(imfit.formats.images, "image_writer", real)
    r = run("fit", assets / "chelsea.png", "-o", out, *FIT_ARGS)
    assert r.exit_code == 0, r.output  # a rerun is not told "exists; pass --force"
    before = listing(out)
    monkeypatch.setattr(imfit.formats.images, "image_writer", full_disk)
    r = run("fit", assets / "chelsea.png", "-o", out, *FIT_ARGS, "--seed", "3", "--force")
    assert r.exit_code == 2 and listing(out) == before  # all three old ones remain


def test_fit_on_a_full_disk_keeps_the_old_set(tmpfs, assets):
    disk = tmpfs("40k")
    out = disk / "o"
    args = ["fit", assets / "chelsea.png", "-o", out, "--size", "32", "--num-gabors", "40",
            "--iterations", "5", "--rescales", "0"]
    assert run(*args).exit_code == 0
    before = listing(out)
    ballast = disk / "ballast"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    ballast.write_bytes(b"\0" * max(0, free - 6000))  # room for the first file, not all three
    r = run(*args, "--num-gabors", "60", "--force")
    assert r.exit_code == 2 and "No space left on device" in r.output, r.output
    ballast.unlink()
    assert listing(out) == before


def test_sigint_while_files_go_in_place_completes_the_set(tmp_path, monkeypatch):
    files = {tmp_path / n: n.encode() * 3 for n in ("a.gabor.json", "a.png", "a.txt")}
    for p in files:
        p.write_text("old")
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("a.gabor.json"):
            signal.raise_signal(signal.SIGINT)  # Ctrl-C right after the first rename began
        return real(src, dst)

    monkeypatch.setattr(fio.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        with fio.Transaction(overwrite=True) as tx:
            for p, data in files.items():
                tx.add_bytes(p, data)
            tx.commit()
    assert {p: p.read_bytes() for p in files} == files  # all new, none old
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files)
