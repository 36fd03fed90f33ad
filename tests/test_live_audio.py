"""Audio-reactive animation: a generated WAV with a 2 Hz bass pulse drives the picture; ffmpeg
(the real one, imageio-ffmpeg's binary) is the judge of the muxed stream."""

import re
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.io import wavfile

import cli
from imfit.errors import ImfitError
from imfit.formats.video import read_frames
from imfit.live.audio import analyse, parse_react

RATE, SECONDS, FPS = 22050, 3.0, 30


def pulse(t: np.ndarray) -> np.ndarray:
    """The bass envelope: a 2 Hz pulse, loud at t = 0, 0.5, 1.0 ... s."""
    return (0.5 + 0.5 * np.cos(2 * np.pi * 2.0 * t)) ** 4


def bass_wav(path) -> None:
    t = np.arange(int(RATE * SECONDS)) / RATE
    hiss = 0.02 * np.random.default_rng(0).standard_normal(t.size)  # a little of every band
    x = 0.8 * pulse(t) * np.sin(2 * np.pi * 60.0 * t) + hiss
    wavfile.write(path, RATE, (x * 32767).astype(np.int16))


def test_bands_follow_the_pulse_and_stay_apart():
    t = np.arange(int(RATE * SECONDS)) / RATE
    x = pulse(t) * np.sin(2 * np.pi * 60.0 * t)
    s = analyse(x, RATE, FPS, int(SECONDS * FPS))
    env = pulse(np.arange(int(SECONDS * FPS)) / FPS)
    assert np.corrcoef(s["bass"], env)[0, 1] >= 0.9
    assert s["bass"].max() == pytest.approx(1.0, abs=0.05)


def test_audio_drives_the_frames_and_is_muxed_in_sync(fit_file, tmp_path):
    wav = tmp_path / "bass.wav"
    bass_wav(wav)
    out = tmp_path / "out.mp4"
    r = CliRunner().invoke(cli.main, ["animate", str(fit_file), "--audio", str(wav), "--react",
                                      "bias=bass:0.5", "--size", "48x48", "--fps", str(FPS),
                                      "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert_reacts_in_sync(out)


@pytest.mark.parametrize("command", ["render", "morph", "diffuse"])
def test_every_renderer_reacts_to_the_track(command, fit_file, tmp_path):
    """`render --audio`, `morph --audio` (A morphing into itself: only the audio moves it) and
    `diffuse FIT --audio` (the reacting fit diffused as a video) share animate's path: the
    same pulse, the same sync and the same muxed stream."""
    wav = tmp_path / "bass.wav"
    bass_wav(wav)
    out = tmp_path / "out.mp4"
    argv = {"render": ["render", str(fit_file), "--size", "48x48"],
            "morph": ["morph", str(fit_file), str(fit_file), "--frames", str(int(SECONDS * FPS)),
                      "--size", "48x48"],
            # video_mix=1: each frame starts from its own picture (the default 0.5 trails the
            # pulse by design, which is the preset's smoothing, not a sync error)
            "diffuse": ["diffuse", str(fit_file), "--size", "48", "--steps", "2", "--set",
                        "video_mix=1"]}[command]
    r = CliRunner().invoke(cli.main, [*argv, "--audio", str(wav), "--react", "bias=bass:0.5",
                                      "--fps", str(FPS), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert_reacts_in_sync(out)


def assert_reacts_in_sync(out) -> None:
    """The MP4 has the track (decoded by the real ffmpeg, 3 s) and its frames' brightness
    follows the 2 Hz bass pulse (r >= 0.8)."""
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)],
                           capture_output=True, text=True).stderr
    assert re.search(r"Stream #0:\d.*Audio: aac", probe), probe
    # decode the audio stream alone: its length is the track's (within one AAC frame)
    dec = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(out), "-map", "0:a",
                          "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"],
                         capture_output=True)
    seconds = len(dec.stdout) / 2 / RATE
    assert seconds == pytest.approx(SECONDS, abs=0.05), seconds
    frames = read_frames(out)
    assert len(frames) == SECONDS * FPS
    brightness = np.array([f.mean() for f in frames])
    env = pulse(np.arange(len(frames)) / FPS)
    r = np.corrcoef(brightness, env)[0, 1]
    assert r >= 0.8, r


def test_bad_audio_inputs_are_one_line(fit_file, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    for args, msg in ((["--audio", str(tmp_path / "none.wav")], "no such file"),
                      (["--audio", str(bad)], "WAV"),
                      (["--audio", str(bad), "--react", "volume=bass"], "PARAM"),
                      (["--audio", str(bad), "--react", "gain=treble"], "band"),
                      (["--audio", str(bad), "-o", str(tmp_path / "x.gif")], ".mp4")):
        argv = ["animate", str(fit_file), "-o", str(tmp_path / "o.mp4"), *args]
        r = CliRunner().invoke(cli.main, argv)
        assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output, r.output
    with pytest.raises(ImfitError):
        parse_react("gain=bass:lots")


def test_bpm_makes_the_loop_whole_bars(fit_file, tmp_path):
    out = tmp_path / "bars.mp4"
    r = CliRunner().invoke(cli.main, ["animate", str(fit_file), "--drift", "phase=0.3", "--loop",
                                      "--bpm", "120", "--frames", "100", "--size", "16x16",
                                      "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert len(read_frames(out)) == 120  # 3.3 s -> 2 bars of 2 s at 120 bpm, 30 fps
    assert "phase 0.25 turn/s (1 turns per loop)" in r.output  # half a turn a bar
