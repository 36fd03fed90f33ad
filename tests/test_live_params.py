"""The live parameter table, the message dispatcher and the tempo maths, without a window."""

import json
import random
from importlib import resources

import pytest

from imfit.errors import ImfitError
from imfit.live.control import dispatch, randomize
from imfit.live.params import GABOR_PARAMS, list_params
from imfit.live.tempo import TapTempo, snap_frames, snap_rate, step_rate


class Target:
    """A stand-in scene: records what was set, through the table's coercion."""

    def __init__(self) -> None:
        self.values = {n: p.default for n, p in GABOR_PARAMS.items()}
        self.resets = 0

    def params(self):
        return GABOR_PARAMS

    def value(self, name):
        return self.values[name]

    def set_param(self, name, value):
        self.values[name] = GABOR_PARAMS[name].coerce(value)
        return self.values[name]

    def reset(self):
        self.resets += 1


def test_list_params_names_every_knob_and_every_live_preset_parameter():
    text = list_params()
    for name in GABOR_PARAMS:
        assert f"/imfit/{name} " in text
    for cmd in ("preset", "randomize", "reset", "record", "screenshot", "tap"):
        assert f"/imfit/{cmd} " in text
    folder = resources.files("imfit.diffusion") / "presets"
    for f in folder.iterdir():
        data = json.loads(f.read_text())
        for name in data.get("live", []):
            if isinstance(data["parameters"].get(name, 0.0), (bool, str)):
                continue
            assert f"/imfit/{name} " in text, (f.name, name)
    row = next(ln for ln in text.splitlines() if ln.startswith("/imfit/gain "))
    assert "-8..8" in row and "float" in row


def test_dispatch_sets_clamps_runs_commands_and_refuses_nonsense():
    t = Target()
    ran = []
    cmds = {"reset": t.reset, "record": ran.append, "screenshot": lambda: ran.append("shot")}
    assert dispatch("/imfit/gain", [0.5], t, cmds) == "gain" and t.values["gain"] == 0.5
    dispatch("/imfit/sigma", [1e9], t, cmds)
    assert t.values["sigma"] == 20.0
    dispatch("/imfit/count", [7], t, cmds)
    assert t.values["count"] == 7
    dispatch("/imfit/record", [1], t, cmds)
    dispatch("/imfit/record", [0.0], t, cmds)
    dispatch("/imfit/screenshot", [], t, cmds)
    dispatch("/imfit/reset", [], t, cmds)
    assert ran == [1, 0, "shot"] and t.resets == 1
    before = dict(t.values)
    for address, args in (("/other/gain", [1.0]), ("/imfit/volume", [1.0]),
                          ("/imfit/gain", []), ("/imfit/gain", [1.0, 2.0]),
                          ("/imfit/gain", ["x"]), ("/imfit/gain", [float("inf")]),
                          ("/imfit/record", [2]), ("/imfit/record", ["on"]),
                          ("/imfit/preset", [3]), ("/imfit/tap", [])):
        with pytest.raises(ImfitError):
            dispatch(address, args, t, cmds)
    assert t.values == before


def test_randomize_stays_in_the_random_ranges_and_repeats_with_the_seed():
    a, b = Target(), Target()
    randomize(a, random.Random(3))
    randomize(b, random.Random(3))
    assert a.values == b.values
    for name, p in GABOR_PARAMS.items():
        if p.rand is None:
            assert a.values[name] == p.default
        else:
            assert p.rand[0] <= a.values[name] <= p.rand[1]
    assert a.values["gain"] != 1.0


def test_tempo_snaps_to_bars():
    # 120 bpm: a bar is 2 s. 0.3 turns/s = 0.6 turns a bar -> half a turn a bar = 0.25 turns/s
    assert snap_rate(0.3, 120) == pytest.approx(0.25)
    assert snap_rate(-1.3, 120) == pytest.approx(-1.5)  # 2.6 turns a bar -> 3, sign kept
    assert snap_rate(1.3, 120) * 2 == pytest.approx(3.0)
    assert snap_rate(0.001, 120) == 0.0
    assert step_rate(0.25, 120, up=True) == pytest.approx(0.5)  # 1/2 -> 1 turn a bar
    assert step_rate(0.0, 120, up=False) == pytest.approx(-1 / 32)  # -1/16 turn a bar
    assert snap_frames(100, 30, 120) == 120  # 3.3 s -> 2 bars = 4 s
    tap = TapTempo()
    for t in (10.0, 10.5, 11.0, 11.5):
        tap.tap(t)
    assert tap.bpm == pytest.approx(120)
    tap.tap(20.0)  # a long pause starts a new count; the tempo stays until the next pair
    assert tap.bpm == pytest.approx(120) and tap.taps == [20.0]
    with pytest.raises(ImfitError):
        TapTempo(1000)


def test_view_list_params_and_docs_show_the_same_table():
    from pathlib import Path

    from click.testing import CliRunner

    import cli

    r = CliRunner().invoke(cli.main, ["view", "--list-params"])
    assert r.exit_code == 0 and r.output.strip() == list_params()
    docs = (Path(__file__).resolve().parent.parent / "docs" / "live.md").read_text()
    for line in list_params().splitlines():
        assert line in docs, f"docs/live.md is out of date: {line}"


def test_knobs_wrap_step_and_round():
    """Angles and phases wrap (190 degrees is -170), factor keys multiply and divide by their
    step, integer knobs round to the nearest whole number, the rest clamp."""
    p = GABOR_PARAMS
    assert p["rotation"].coerce(190.0) == pytest.approx(-170.0)
    assert p["rotation"].coerce(-200.0) == pytest.approx(160.0)
    assert p["phase"].coerce(1.25) == pytest.approx(0.25)
    assert p["sigma"].stepped(1.0, up=True) == pytest.approx(1.1)
    assert p["sigma"].stepped(1.0, up=False) == pytest.approx(1 / 1.1)
    assert p["drift"].stepped(0.0, up=False) == pytest.approx(-0.05)
    assert p["count"].coerce(2.6) == 3 and p["count"].coerce(-5) == 0
    assert p["zoom"].coerce(1e9) == pytest.approx(1e4)


def test_slow_taps_still_count():
    """Taps 1.5 s apart (40 bpm) are one count: the tempo is 40 bpm, not lost between taps."""
    tap = TapTempo()
    for t in (0.0, 1.5, 3.0):
        tap.tap(t)
    assert tap.bpm == pytest.approx(40)


def test_loop_length_rounds_to_the_nearest_bar():
    """120 bpm at 30 fps: a bar is 60 frames; 114 frames (1.9 bars) -> 2 bars, 80 -> 1 bar."""
    from imfit.live.tempo import bar_seconds

    assert bar_seconds(120) == pytest.approx(2.0)  # 4 beats of 0.5 s
    assert snap_frames(114, 30, 120) == 120
    assert snap_frames(80, 30, 120) == 60
