"""MIDI control: mido message objects through the map (CC travel -> the parameter's range,
notes -> triggers), the mapping file, learn mode in the real window, and the port.

The expectations are numbers worked out by hand from the binding's range (a geometric sweep for
factors, linear otherwise) and the edit record those numbers describe, rendered headless.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from click.testing import CliRunner
from tolerances import WINDOW_VS_HEADLESS

import cli
import imfit
from imfit.errors import ImfitError
from imfit.formats.images import read_image
from imfit.live.midi import ALSA_SEQ, Binding, MidiIn, MidiMap, cc_to_value
from imfit.live.params import GABOR_PARAMS
from viewer.gabor_scene import Edits, apply_edits

ROOT = Path(__file__).resolve().parent.parent


def cc(num, value, channel=0):
    return mido.Message("control_change", control=num, value=value, channel=channel)


def note(num, velocity=100, channel=0):
    return mido.Message("note_on", note=num, velocity=velocity, channel=channel)


def test_cc_travel_covers_the_bindings_range():
    sigma, bias, strategy = GABOR_PARAMS["sigma"], GABOR_PARAMS["bias"], GABOR_PARAMS["strategy"]
    # a factor sweeps geometrically: 0.25 * 16 ** (v / 127)
    assert cc_to_value(sigma, 0, 0.25, 4.0) == pytest.approx(0.25)
    assert cc_to_value(sigma, 127, 0.25, 4.0) == pytest.approx(4.0)
    assert cc_to_value(sigma, 32, 0.25, 4.0) == pytest.approx(0.25 * 16 ** (32 / 127))
    # an offset linearly; without a range, the parameter's own (-1..1 for bias)
    assert cc_to_value(bias, 0) == pytest.approx(-1.0)
    assert cc_to_value(bias, 127) == pytest.approx(1.0)
    assert cc_to_value(bias, 100, -0.5, 0.5) == pytest.approx(-0.5 + 100 / 127)
    # a range wider than the table is clamped by the table; a choice picks by position
    assert cc_to_value(bias, 127, 0.0, 5.0) == 1.0
    assert cc_to_value(strategy, 0) == "billboard" and cc_to_value(strategy, 127) == "loop"


def test_messages_become_the_same_calls_as_osc():
    m = MidiMap()  # the default map: CC 20.. knobs, notes 36.. pads
    assert m.translate(cc(24, 127), GABOR_PARAMS) == [("/imfit/gain", [3.0])]
    assert m.translate(cc(20, 0, channel=9), GABOR_PARAMS) == [("/imfit/sigma", [0.25])]
    assert m.translate(cc(99, 10), GABOR_PARAMS) == []  # unbound
    assert m.translate(note(36), GABOR_PARAMS) == [("/imfit/randomize", [])]
    assert m.translate(note(36, velocity=0), GABOR_PARAMS) == []  # a release
    assert m.translate(mido.Message("note_off", note=36), GABOR_PARAMS) == []
    # record toggles on each press
    assert m.translate(note(40), GABOR_PARAMS) == [("/imfit/record", [1])]
    assert m.translate(note(40), GABOR_PARAMS) == [("/imfit/record", [0])]
    assert m.translate(mido.Message("clock"), GABOR_PARAMS) == []
    # channel-bound; a CC trigger fires once as it crosses 64 upwards
    m = MidiMap([Binding("cc", 7, "gain", channel=2, lo=0.0, hi=2.0),
                 Binding("cc", 64, "tap"), Binding("note", 50, "preset", arg="cartoon")])
    assert m.translate(cc(7, 127, channel=1), GABOR_PARAMS) == []
    assert m.translate(cc(7, 127, channel=2), GABOR_PARAMS) == [("/imfit/gain", [2.0])]
    fired = [bool(m.translate(cc(64, v), GABOR_PARAMS)) for v in (0, 70, 90, 10, 127)]
    assert fired == [False, True, False, False, True]
    assert m.translate(note(50), GABOR_PARAMS) == [("/imfit/preset", ["cartoon"])]


def test_learn_rebinds_and_the_map_round_trips(tmp_path):
    m = MidiMap()
    assert m.learn(mido.Message("clock"), "sigma") is None
    assert m.learn(note(60, velocity=0), "reset") is None  # releases are no choice
    b = m.learn(cc(7, 33, channel=3), "sigma")
    assert b == Binding("cc", 7, "sigma", 3)
    assert m.translate(cc(20, 127), GABOR_PARAMS) == []  # sigma's old knob is free now
    v = m.translate(cc(7, 127, channel=3), GABOR_PARAMS)
    assert v == [("/imfit/sigma", [20.0])]  # learned: the parameter's whole range
    path = m.save(tmp_path / "map.json")
    again = MidiMap.load(path)
    assert again.bindings == m.bindings
    data = json.loads(path.read_text())
    assert data["imfit_midi_map"] == 1 and {"kind": "cc", "number": 7, "target": "sigma",
                                            "channel": 3} in data["bindings"]


@pytest.mark.parametrize("content, says", [
    ("{", "corrupt JSON"),
    ('{"bindings": []}', "not an imfit MIDI map"),
    ('{"imfit_midi_map": 1, "bindings": [{"kind": "cc", "number": 200, "target": "gain"}]}',
     "number must be a whole number 0..127"),
    ('{"imfit_midi_map": 1, "bindings": [{"kind": "cc", "number": 2, "target": "volume"}]}',
     "unknown target 'volume'"),
    ('{"imfit_midi_map": 1, "bindings": [{"kind": "pb", "number": 2, "target": "gain"}]}',
     "kind must be"),
    ('{"imfit_midi_map": 1, "bindings": [{"kind": "cc", "number": 2, "target": "gain", '
     '"lo": "low"}]}', "lo must be a number"),
])
def test_bad_map_files_are_one_line(tmp_path, content, says, fit_file, monkeypatch):
    bad = tmp_path / "m.json"
    bad.write_text(content)
    with pytest.raises(ImfitError, match=says):
        MidiMap.load(bad)
    monkeypatch.setenv("DISPLAY", ":4242")
    r = CliRunner().invoke(cli.main, ["view", str(fit_file), "--midi-map", str(bad)])
    assert r.exit_code == 2 and says in r.output and r.output.count("\n") == 1, r.output


def test_the_port_here(tmp_path, fit_file):
    """Where an ALSA sequencer exists, a virtual port round trip; where it does not (this
    container: no /dev/snd/seq, and no module can be loaded into its kernel) the documented
    one line, exit 2, before anything heavy."""
    if ALSA_SEQ.exists():
        out = mido.open_output("imfit-test-out", virtual=True)
        port = MidiIn("imfit-test-out")
        out.send(cc(24, 127))
        for _ in range(200):
            msgs = port.poll()
            if msgs:
                break
            import time

            time.sleep(0.01)
        assert MidiMap().translate(msgs[0], GABOR_PARAMS) == [("/imfit/gain", [3.0])]
        return
    code = ("import sys, cli\ntry:\n    cli.main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, 'torch' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": ":4242"}
    r = subprocess.run([sys.executable, "-c", code, "view", str(fit_file), "--midi", "nano"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "exit 2 False" in r.stdout, (r.stdout, r.stderr)
    assert r.stderr == ("Error: no MIDI here: the ALSA sequencer (/dev/snd/seq) does not exist "
                        "(a container without sound devices?); use --osc instead\n")


@pytest.mark.gl
def test_midi_and_learn_drive_the_window(xvfb_display, gl_ctx, fit_file, tmp_path):
    """In the real window: a mapped CC sets gain through the map file; then `l` six times
    (sigma, frequency, drift, phase, rotation, gain) learns gain onto CC 9 on channel 4, the
    map is saved, and that knob at 0 gives gain -8 (the whole range, linear: gain crosses 0)."""
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"imfit_midi_map": 1, "bindings": [
        {"kind": "cc", "number": 7, "target": "bias", "lo": -0.5, "hi": 0.5}]}))
    events = ("1 midi cc 0 7 127; 2 key l; 2 key l; 2 key l; 2 key l; 2 key l; 2 key l; "
              "3 midi cc 3 9 50; 4 midi cc 3 9 0")
    shot = tmp_path / "shot.png"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": xvfb_display}
    r = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "view", str(fit_file),
                        "--size", "96x72", "--test-frames", "6", "--events", events,
                        "--midi-map", str(mapping), "--screenshot", str(shot)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "midi learn: cc 9 (channel 4) -> gain" in r.stdout, r.stdout
    saved = json.loads(mapping.read_text())["bindings"]
    assert {"kind": "cc", "number": 9, "target": "gain", "channel": 3} in saved
    assert {"kind": "cc", "number": 7, "target": "bias", "lo": -0.5, "hi": 0.5} in saved
    gs = imfit.load(fit_file)
    want = imfit.render(apply_edits(gs, Edits(bias=0.5, gain=-8.0)), 96, 72, backend="gl")
    got = read_image(shot)[0]
    assert np.abs(got - np.clip(want, 0, 1)).max() <= WINDOW_VS_HEADLESS
    untouched = imfit.render(gs, 96, 72, backend="gl")
    assert np.abs(got - np.clip(untouched, 0, 1)).max() > 0.2
    assert math.isfinite(got.sum())


def test_midi_test_events_are_checked(fit_file, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")
    for ev in ("1 midi cc 0 200 1", "1 midi cc 16 1 1", "1 midi pb 0 1 1", "1 midi cc 0 1"):
        r = CliRunner().invoke(cli.main, ["view", str(fit_file), "--test-frames", "2",
                                          "--events", ev])
        assert r.exit_code == 2 and r.output.count("\n") == 1 and ev in r.output, r.output


def test_a_map_that_learn_mode_could_not_save_is_refused_first(fit_file, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")
    where = tmp_path / "no-such-folder" / "m.json"
    r = CliRunner().invoke(cli.main, ["view", str(fit_file), "--midi-map", str(where)])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "does not exist" in r.output
