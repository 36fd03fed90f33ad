"""Morphs end exactly on their fits, match by similarity; loops close; timelines interpolate."""

import json
import math

import numpy as np
import pytest
from conftest import random_params
from tolerances import EDIT_RENDER, MORPH_NEAR_END

import imfit
from imfit import GaborSet, ImfitError
from imfit.edit import ops as edit
from imfit.edit.animate import animation_sets, load_timeline, loop_rates, parse_timeline
from imfit.edit.morph import match, morph_sets


def _gs(n=40, seed=2):
    return GaborSet(random_params(n, seed=seed), 64, 64)


def _steps(frames):
    """Mean absolute change between neighbours, and from the last frame back to the first."""
    f = np.asarray(frames)
    inner = np.abs(np.diff(f, axis=0)).mean(axis=(1, 2, 3))
    return inner, float(np.abs(f[0] - f[-1]).mean())


@pytest.mark.parametrize("nb", [40, 25, 60])
def test_morph_starts_on_a_and_ends_on_b(nb):
    a, b = _gs(40, 1), _gs(nb, 3)
    sets = list(morph_sets(a, b, 9))
    ra, rb = imfit.render(a), imfit.render(b)
    assert np.array_equal(imfit.render(sets[0], 64, 64), ra)
    assert np.array_equal(imfit.render(sets[-1], 64, 64), rb)
    # ... and the path really arrives there: no jump hidden at either end
    m = match(a, b)
    assert np.abs(imfit.render(m.at(1e-5)) - ra).max() < MORPH_NEAR_END
    assert np.abs(imfit.render(m.at(1 - 1e-5)) - rb).max() < MORPH_NEAR_END
    mid = imfit.render(sets[4])
    assert np.abs(mid - ra).mean() > 0.005 and np.abs(mid - rb).mean() > 0.005


def test_morph_matches_by_similarity_not_index_and_turns_the_short_way():
    a = _gs(30, 4)
    # the same picture written differently: rows reversed, every wavelet as theta + pi with
    # negated phases, amplitudes negated with phases + pi; a good morph does not move at all
    p = a.params.astype(np.float64)[::-1].copy()
    p[:, 2] += math.pi
    p[:, 6:9] = -p[:, 6:9] + math.pi
    p[:, 9:12] = -p[:, 9:12]
    b = GaborSet(p, 64, 64)
    ra = imfit.render(a)
    for s in morph_sets(a, b, 7, ease="linear"):
        assert np.abs(imfit.render(s) - ra).max() < EDIT_RENDER
    # a wavelet at theta 0.1 going to theta pi - 0.05 turns by -0.15, not by 2.99
    q = a.params[:1].astype(np.float64).copy()
    q[0, 2] = 0.1
    r = q.copy()
    r[0, 2] = math.pi - 0.05
    m = match(GaborSet(q), GaborSet(r))
    assert m.end[0, 2] - m.start[0, 2] == pytest.approx(-0.15, abs=1e-6)


def test_morph_bad_input():
    with pytest.raises(ImfitError, match="at least 2"):
        list(morph_sets(_gs(), _gs(), 1))
    with pytest.raises(ImfitError, match="ease"):
        list(morph_sets(_gs(), _gs(), 3, ease="bouncy"))
    with pytest.raises(ImfitError, match="empty"):
        match(GaborSet.empty(), GaborSet.empty())


def test_loop_rates_snap_to_whole_turns_and_never_to_zero():
    r = loop_rates({"phase": 0.55, "theta": 0.01, "rotate": -0.02}, 60, 30)
    assert r == {"phase": 0.5, "theta": 0.5, "rotate": -0.5}
    assert loop_rates({"phase": 1.0}, 90, 30) == {"phase": 1.0}


def test_a_loop_steps_smoothly_from_its_last_frame_into_its_first():
    gs = _gs(30, 5)
    frames, fps = 24, 12.0
    asked = {"phase": 0.3, "theta": 0.07, "rotate": 0.04}
    looped = [imfit.render(s) for s in animation_sets(gs, frames, fps,
                                                      loop_rates(asked, frames, fps), True)]
    inner, wrap = _steps(looped)
    assert wrap <= 1.25 * float(np.median(inner))
    # the same rates without snapping jump visibly at the seam (so the check above can fail)
    plain = [imfit.render(s) for s in animation_sets(gs, frames, fps, asked)]
    inner2, wrap2 = _steps(plain)
    assert wrap2 > 2 * float(np.median(inner2))


TIMELINE = {"ease": "linear", "keys": [
    {"at": 0, "edits": "scale:size=1 hue:deg=0"},
    {"at": 1, "edits": ["scale:size=2", "hue:deg=120"]},
]}


def test_timeline_interpolates_numbers_between_keys():
    tl = parse_timeline(TIMELINE)
    mid = tl.ops_at(0.5)
    assert [o.args["size"] if o.spec.name == "scale" else o.args["deg"] for o in mid] == [
        1.5, 60.0]
    gs = _gs(20, 6)
    sets = list(animation_sets(gs, 5, 4.0, timeline=tl))  # times 0, .25, .5, .75, 1
    assert np.array_equal(imfit.render(sets[0]), imfit.render(edit.hue_rotate(gs, 0)))
    want = edit.hue_rotate(edit.scale(gs, 2, 2, 2), 120)
    assert np.abs(imfit.render(sets[-1]) - imfit.render(want)).max() < EDIT_RENDER


def test_timeline_loop_wraps_back_to_the_first_key():
    gs = _gs(25, 7)
    tl = parse_timeline({"keys": [{"at": 0, "edits": "spin:deg=0 gain:x=1"},
                                  {"at": 1, "edits": "spin:deg=90 gain:x=0.5"}]})
    frames = [imfit.render(s) for s in animation_sets(gs, 20, 10.0, loop=True, timeline=tl)]
    inner, wrap = _steps(frames)
    assert wrap <= 1.25 * float(np.median(inner))


@pytest.mark.parametrize("obj, msg", [
    ({}, "keys"), ({"keys": [{"edits": "hue"}]}, "at"),
    ({"keys": [{"at": 1, "edits": "hue"}, {"at": 0, "edits": "hue"}]}, "increasing"),
    ({"keys": [{"at": 0, "edits": "hue"}, {"at": 1, "edits": "gray"}]}, "same ops"),
    ({"keys": [{"at": 0, "edits": "flip:axis=x"}, {"at": 1, "edits": "flip:axis=y"}]},
     "only numbers"),
    ({"keys": [{"at": 0, "edits": "twirl"}]}, "key 0: unknown op"),
    ({"keys": [{"at": 0}], "speed": 2}, "unknown field"),
])
def test_bad_timelines_are_one_line(obj, msg):
    with pytest.raises(ImfitError, match=msg):
        parse_timeline(obj)


def test_timeline_file_errors(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("{not json")
    with pytest.raises(ImfitError, match="corrupt JSON"):
        load_timeline(p)
    with pytest.raises(ImfitError, match="no such file"):
        load_timeline(tmp_path / "missing.json")
    p.write_text(json.dumps(TIMELINE))
    assert len(load_timeline(p).keys) == 2
