"""The core edits the viewer keys use: pure, meaningful on renders, clear on bad input."""

import math

import numpy as np
import pytest
from conftest import random_params

import imfit
from imfit import GaborSet, ImfitError
from imfit.edit import ops as edit


def test_edits_never_mutate_the_input():
    gs = GaborSet(random_params(20), 64, 64)
    before = gs.params.copy()
    for out in (edit.scale(gs, 2, 0.5, 3), edit.rotate_field(gs, 1.0), edit.gain(gs, [1, 0, 2]),
                edit.shift_phase(gs, 0.3), edit.top_k(gs, 5), edit.translate(gs, 0.1, 0.2),
                edit.drift(gs, 0.5, phase=1, theta=0.2, rotate=0.1), edit.with_bias(gs, 0.1)):
        assert isinstance(out, GaborSet)
    assert np.array_equal(gs.params, before)


def test_rotating_the_field_90_degrees_rotates_the_picture():
    gs = GaborSet(random_params(30, seed=2), 64, 64)
    a = imfit.render(gs)
    b = imfit.render(edit.rotate_field(gs, math.pi / 2))
    # y down: +90 degrees sends (x, y) to (-y, x), i.e. the image turns clockwise
    assert np.abs(np.rot90(a, k=-1) - b).max() < 1e-4


def test_top_k_keeps_the_strongest():
    gs = GaborSet(random_params(30, seed=3), 64, 64)
    top = edit.top_k(gs, 4)
    e = gs.energy()
    assert sorted(top.energy().tolist(), reverse=True) == pytest.approx(sorted(e)[-4:][::-1])


def test_full_phase_turn_and_drift_loop_are_identities():
    gs = GaborSet(random_params(10), 64, 64)
    a = imfit.render(gs)
    assert np.abs(imfit.render(edit.shift_phase(gs, 2 * math.pi)) - a).max() < 1e-4
    assert np.abs(imfit.render(edit.drift(gs, 1.0, phase=2, theta=1, rotate=1)) - a).max() < 1e-4


@pytest.mark.parametrize("call, msg", [
    (lambda gs: edit.scale(gs, sigma=-1), "positive"),
    (lambda gs: edit.top_k(gs, 99), "more than"),
    (lambda gs: edit.gain(gs, [1, 2]), "three"),
    (lambda gs: edit.parse_drift("spin=1"), "KEY"),
    (lambda gs: edit.parse_drift("phase=x"), "not a number"),
])
def test_bad_arguments(call, msg):
    with pytest.raises(ImfitError, match=msg):
        call(GaborSet(random_params(5), 64, 64))
