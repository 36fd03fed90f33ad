import numpy as np
import pytest
from conftest import random_params

from imfit import COLUMNS, GaborSet, ImfitError


def test_columns_are_the_seeds_twelve():
    assert COLUMNS == ("x", "y", "theta", "sigma", "gamma", "wavelength", "phase_r", "phase_g",
                       "phase_b", "amp_r", "amp_g", "amp_b")


def test_views_are_slices_not_copies():
    gs = GaborSet(random_params(5), 64, 32)
    assert np.shares_memory(gs.amplitude, gs.params)
    assert gs.phase.shape == (5, 3) and gs.xy.shape == (5, 2)
    assert gs.aspect == 2.0


def test_params_are_read_only_and_replace_leaves_input_alone():
    p = random_params(4)
    gs = GaborSet(p, 64, 64)
    with pytest.raises(ValueError):
        gs.params[0, 0] = 1.0
    gs2 = gs.replace(bias=(0.1, 0.2, 0.3))
    assert gs.bias == (0.5, 0.5, 0.5) and gs2.bias == pytest.approx((0.1, 0.2, 0.3))


def test_the_callers_array_stays_writable_and_separate():
    """A set freezes its own copy: the array passed in is neither made read-only nor shared."""
    p = random_params(4)
    gs = GaborSet(p, 64, 64)
    p[0, 0] = 7.0
    assert gs.params[0, 0] != 7.0
    frozen = GaborSet(gs.params, 64, 64)  # an already frozen array is shared, not copied
    assert np.shares_memory(frozen.params, gs.params)


def test_indexing_returns_the_same_type():
    gs = GaborSet(random_params(10), 64, 64)
    assert isinstance(gs[3], GaborSet) and len(gs[3]) == 1
    assert len(gs[2:5]) == 3 and len(gs[np.array([0, 9])]) == 2
    assert len(gs[gs.sigma > 0]) == 10


@pytest.mark.parametrize("bad, msg", [
    (np.zeros((3, 11)), "shape"),
    (np.zeros(12), "shape"),
])
def test_bad_shapes(bad, msg):
    with pytest.raises(ImfitError, match=msg):
        GaborSet(bad)


def test_non_finite_and_non_positive_widths():
    p = random_params(3)
    p[1, 4] = np.nan
    with pytest.raises(ImfitError, match="wavelet 1 has a non-finite gamma"):
        GaborSet(p)
    p = random_params(3)
    p[2, 3] = -0.1
    with pytest.raises(ImfitError, match="sigma"):
        GaborSet(p)
    with pytest.raises(ImfitError, match="width"):
        GaborSet(random_params(2), 0, 10)


def test_energy_orders_strongest_first():
    p = random_params(3)
    p[:, 3:5] = 0.1
    p[:, 9:12] = [[0.1, 0.1, 0.1], [0.5, 0.5, 0.5], [0.2, 0.2, 0.2]]
    assert list(GaborSet(p).order_by_energy()) == [1, 2, 0]
