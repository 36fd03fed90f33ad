"""Live audio in: the causal analysis fed a buffer frame by frame (as the sounddevice callback
feeds it), the runner's reactions around the performer's values, and the no-device line."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imfit.live.audio import parse_react
from imfit.live.audio_in import LiveAnalyser
from viewer.gabor_scene import GaborScene
from viewer.live import LiveInputs
from viewer.window import WindowRunner

ROOT = Path(__file__).resolve().parent.parent
RATE, FPS, SECONDS = 22050, 30, 4.0


def pulse(t):
    return (0.5 + 0.5 * np.cos(2 * np.pi * 2.0 * t)) ** 4


def run_live(x: np.ndarray) -> dict[str, np.ndarray]:
    """Feed `x` one video frame's worth at a time, reading the levels after each."""
    a = LiveAnalyser(RATE)
    hop = RATE // FPS
    out: dict[str, list[float]] = {}
    for i in range(len(x) // hop):
        a.feed(x[i * hop:(i + 1) * hop])
        for k, v in a.levels().items():
            out.setdefault(k, []).append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def test_live_bass_follows_a_fed_pulse_and_the_highs_do_not():
    t = np.arange(int(RATE * SECONDS)) / RATE
    hiss = 0.02 * np.random.default_rng(0).standard_normal(t.size)
    x = 0.8 * pulse(t) * np.sin(2 * np.pi * 60.0 * t) + hiss
    s = run_live(x)
    # the analysis window ends at the newest sample: it lags the pulse by half a window
    lag = 2048 / 2 / RATE
    env = pulse(np.arange(1, len(s["bass"]) + 1) / FPS - lag)
    assert np.corrcoef(s["bass"], env)[0, 1] >= 0.8
    assert abs(np.corrcoef(s["high"], env)[0, 1]) < 0.3  # steady hiss: no pulse up there
    assert 0.0 <= s["bass"].min() and s["bass"].max() <= 1.0
    assert s["bass"].max() > 0.9


def test_silence_reads_zero_and_a_loud_hit_does_not_deafen_for_good():
    a = LiveAnalyser(RATE)
    a.feed(np.zeros(4096))
    assert a.levels()["bass"] == 0.0
    hop = RATE // FPS
    t = np.arange(400 * hop) / RATE
    a.feed(0.9 * np.sin(2 * np.pi * 60 * t[:4096]))  # one loud hit, 18x the rest
    a.levels()
    quiet = 0.05 * np.sin(2 * np.pi * 60 * t)
    levels = []
    for i in range(400):  # 13 s of a quiet tone: the running peak decays towards it
        a.feed(quiet[i * hop:(i + 1) * hop])
        levels.append(a.levels()["bass"])
    assert levels[5] < 0.3  # just after the hit the quiet tone reads quiet
    assert min(levels[-30:]) > 0.9  # ... and within ~10 s it is the loudest there is again


class FakeAudio:
    def __init__(self, **levels):
        self.values = {"bass": 0.0, "mid": 0.0, "high": 0.0, "all": 0.0, "onset": 0.0,
                       **levels}

    def levels(self):
        return dict(self.values)


def test_the_runner_reacts_around_the_performers_values(small_fit):
    scene = GaborScene(small_fit)
    live = LiveInputs(audio_in=FakeAudio(bass=0.5, high=1.0),
                      reactions=parse_react("gain=bass:0.6,phase=high:0.2"))
    runner = WindowRunner(scene, live=live)
    scene.set_param("gain", 2.0)  # a key or a knob set it
    undo = runner.react()
    assert scene.value("gain") == pytest.approx(2.0 * (1 + 0.6 * 0.5))
    assert scene.value("phase") == pytest.approx(0.2)
    scene.set_param("phase", 0.25)  # the draw's drift moved the phase on by 0.05
    undo()
    assert scene.value("gain") == pytest.approx(2.0)
    assert scene.value("phase") == pytest.approx(0.05)


def test_no_audio_device_is_one_line_at_once(fit_file, tmp_path):
    code = ("import sys, cli\ntry:\n    cli.main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, 'torch' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": ":4242"}
    for device in ("imfit-no-such-device", None):
        args = ["view", str(fit_file), "--audio-in"] + ([device] if device else [])
        r = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert "exit 2 False" in r.stdout, (r.stdout, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        if device:
            assert lines[0].startswith("Error: no audio input device imfit-no-such-device ("), \
                lines
        else:  # this container has no sound card: PortAudio lists no inputs
            import sounddevice as sd

            if not any(d["max_input_channels"] for d in sd.query_devices()):
                assert lines[0] == ("Error: no audio input device (default) (Error querying "
                                    "device -1; PortAudio lists no inputs)")
