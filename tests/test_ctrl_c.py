"""Ctrl-C during a fit keeps the latest parameters, wherever the second press lands (issue 12).

Deterministic: no timing. The first Ctrl-C is a real SIGINT sent from the progress callback at
step 10; the second is injected once at one hook point of what follows (the result building,
the progress bar's close, the preview render, the three writers, the commit, the report), in
two ways: a real SIGINT raised from inside the patched step (what a user's second press is),
and a KeyboardInterrupt raised there directly (what a handler other than ours would do). The
expectation is independent of the code under test: the parameters a snapshot took right after
step 10's update, read back from the saved .gabor.json, and the three outputs complete.
A real `imfit fit` subprocess then gets SIGINT after SIGINT until it ends: no traceback.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT

import imfit
import imfit.fitting.fitter as fitter
import imfit.formats.files as files
import imfit.formats.gabor_json as gabor_json
import imfit.formats.images as images
import imfit.renderers.gabor as gabor
from cli import main

STOP_AT = 10


class Presses:
    """The first Ctrl-C at step STOP_AT (a real SIGINT), then one more at the hook."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.first = False
        self.second = False
        self.snap: np.ndarray | None = None

    def first_press(self) -> None:
        self.first = True
        signal.raise_signal(signal.SIGINT)

    def second_press(self) -> None:
        if not self.first or self.second:
            return
        self.second = True
        if self.how == "signal":
            signal.raise_signal(signal.SIGINT)
        else:
            raise KeyboardInterrupt


def hook(monkeypatch, presses: Presses, owner: object, name: str, after: bool = False) -> None:
    real = getattr(owner, name)

    def patched(*a, **kw):
        if not after:
            presses.second_press()
        out = real(*a, **kw)
        if after:
            presses.second_press()
        return out

    monkeypatch.setattr(owner, name, patched)


def png_writer_hook(monkeypatch, presses: Presses) -> None:
    real = images.image_writer

    def image_writer(img, path):
        write = real(img, path)

        def w(f):
            presses.second_press()
            write(f)
        return w

    monkeypatch.setattr(images, "image_writer", image_writer)


HOOKS = {
    "to_gaborset": lambda mp, p: hook(mp, p, fitter._Params, "to_gaborset"),
    "psnr_render": lambda mp, p: hook(mp, p, gabor, "render"),
    "psnr": lambda mp, p: hook(mp, p, fitter, "psnr"),
    "result_set_end": lambda mp, p: hook(mp, p, fitter.Fitter, "result_set", after=True),
    "bar_close": lambda mp, p: hook(mp, p, __import__("tqdm").tqdm, "close"),
    "json": lambda mp, p: hook(mp, p, gabor_json, "to_json_text"),
    "png": png_writer_hook,
    "txt": lambda mp, p: hook(mp, p, gabor_json, "txt_text"),
    "make_folder": lambda mp, p: hook(mp, p, files.Transaction, "make_folder"),
    "commit": lambda mp, p: hook(mp, p, files.Transaction, "commit"),
    "link": lambda mp, p: hook(mp, p, files.os, "link"),
    "report": None,  # the echo after the files are in place (set in the test)
}


def fit_with_presses(monkeypatch, presses: Presses) -> None:
    real = fitter.fit_array

    def fit_array(target, settings, wmap, init, meta, progress, snapshot):
        def prog(step, total, psnr):
            progress(step, total, psnr)
            if step == STOP_AT:
                presses.first_press()

        def snap(gs):  # every 10 steps, after the step's update: the latest parameters
            presses.snap = np.array(gs.params)
        return fitter.Fitter(target, settings, wmap, init, meta).run(prog, snap, 1)

    monkeypatch.setattr(fitter, "fit_array", fit_array)
    assert real is not fit_array


@pytest.mark.parametrize("how", ["signal", "raise"])
@pytest.mark.parametrize("where", sorted(HOOKS))
def test_second_ctrl_c_anywhere_keeps_the_latest_parameters(tmp_path, assets, monkeypatch,
                                                            where, how):
    presses = Presses(how)
    fit_with_presses(monkeypatch, presses)
    if where == "report":
        import imfit.fitting.modes as modes
        real_run = modes.run_fit_jobs

        def run_fit_jobs(*a, **kw):
            echo = kw["echo"]

            def said(line):
                echo(line)
                presses.second_press()
            kw["echo"] = said
            return real_run(*a, **kw)
        monkeypatch.setattr(modes, "run_fit_jobs", run_fit_jobs)
    else:
        HOOKS[where](monkeypatch, presses)
    out = tmp_path / "new folder"
    r = CliRunner().invoke(main, ["fit", str(assets / "chelsea.png"), "-o", str(out),
                                  "--size", "16", "--num-gabors", "8", "--iterations", "60",
                                  "--rescales", "0"])
    assert presses.first and presses.second, (where, r.output)
    assert r.exit_code == 130, r.output
    assert "Traceback" not in r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["chelsea.gabor.json", "chelsea.png", "chelsea.txt"], names
    gs = imfit.load(out / "chelsea.gabor.json")
    assert gs.meta["incomplete"] is True and gs.meta["steps"] == STOP_AT
    assert presses.snap is not None
    np.testing.assert_allclose(gs.params, presses.snap, rtol=1e-6, atol=1e-6)
    txt = np.loadtxt(out / "chelsea.txt", delimiter=",", ndmin=2)
    assert txt.shape[0] == 8
    png = images.read_image(out / "chelsea.png")[0]
    assert png.shape == (gs.height, gs.width, 3)


def test_first_ctrl_c_while_the_result_is_built_keeps_the_whole_fit(tmp_path, assets,
                                                                     monkeypatch):
    """Training finished; Ctrl-C during the PSNR render: the complete fit is written (not
    marked incomplete), and the command still ends as interrupted."""
    calls = []
    real = gabor.render

    def render(*a, **kw):
        if not calls:
            calls.append(1)
            signal.raise_signal(signal.SIGINT)
        return real(*a, **kw)

    monkeypatch.setattr(gabor, "render", render)
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["fit", str(assets / "chelsea.png"), "-o", str(out),
                                  "--size", "16", "--num-gabors", "8", "--iterations", "20",
                                  "--rescales", "0"])
    assert r.exit_code == 130, r.output
    gs = imfit.load(out / "chelsea.gabor.json")
    assert gs.meta["incomplete"] is False and gs.meta["steps"] == gs.meta["steps_planned"]
    assert gs.meta["psnr"] > 10


def test_stop_once_counts_every_press_after_the_first():
    with files.ctrl_c_once() as once:
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
            time.sleep(1)  # never reached: the handler raised
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        assert once.got == [signal.SIGINT, signal.SIGINT]
        assert not once.armed
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_interrupts_deferred_inside_an_armed_guard_raises_after_the_step():
    with files.ctrl_c_once() as once:
        done = []
        with pytest.raises(KeyboardInterrupt):
            with files.interrupts_deferred():
                signal.raise_signal(signal.SIGINT)
                done.append("step finished")
        assert done == ["step finished"] and not once.armed and once.got == []


def test_repeated_ctrl_c_on_a_real_fit_prints_no_traceback(tmp_path, assets):
    """SIGINT after SIGINT (every 15 ms, so presses land in the result building, the writes,
    the report and the interpreter's exit) to a real `imfit fit`: exit 130, no traceback
    (torch's exit handlers included), and the three outputs hold the latest parameters."""
    out = tmp_path / "o"
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as err_file:  # a file, not a pipe: a full pipe would stall the child
        p = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "fit",
                              str(assets / "chelsea.png"), "-o", str(out), "--size", "24",
                              "--num-gabors", "16", "--iterations", "100000", "--rescales",
                              "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=err_file)
        deadline = time.monotonic() + 120
        while b"PSNR" not in log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)  # the fit is training
        presses = 0
        while p.poll() is None and presses < 2000:
            p.send_signal(signal.SIGINT)
            presses += 1
            time.sleep(0.015)
        o, _ = p.communicate(timeout=120)
    err = log.read_text()
    assert presses >= 2
    assert p.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "Exception ignored" not in err, err[-2000:]
    names = sorted(x.name for x in Path(out).iterdir())
    assert names == ["chelsea.gabor.json", "chelsea.png", "chelsea.txt"], err[-2000:]
    gs = imfit.load(out / "chelsea.gabor.json")
    assert len(gs) == 16 and gs.meta["incomplete"] is True and gs.meta["steps"] > 0
    assert len((out / "chelsea.txt").read_text().splitlines()) == 16
    assert "INTERRUPTED, latest parameters" in o.decode()
