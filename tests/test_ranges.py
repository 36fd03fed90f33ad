"""Randomise ranges (issue #15 point 6): each preset's own, checked when read, seeded draws
inside them, the rest of the preset untouched, a file `imfit diffuse` replays, and draws that
stay stable and readable on real photos (the bench, bench/ranges.py, measures the whole look
on the large photos)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from imfit.diffusion.engine import (
    FALLBACK_SPREAD,
    diffuse_frames,
    draw_ranges,
    list_presets,
    load_preset,
    parse_preset,
    preset_json,
    randomise_params,
)
from imfit.errors import ImfitError
from imfit.formats.images import fit_size, read_image, resize_area
from imfit.metrics import black_fraction, readability

RANDOMISED = [p for p in list_presets() if p.scheme != "poisson"]


def test_every_shipped_look_has_its_own_ranges_around_its_own_values():
    """One range per scheme would move engrave's negative blur or watercolor's low coupling
    out of their looks: each preset names its ranges, and each holds the preset's value."""
    for p in RANDOMISED:
        assert p.ranges, p.name
        for k, (lo, hi) in p.ranges.items():
            assert lo <= p.params[k] <= hi, (p.name, k)
    assert load_preset("poisson").ranges == {}


@pytest.mark.parametrize("name", [p.name for p in RANDOMISED])
def test_a_draw_is_seeded_inside_the_ranges_and_leaves_the_rest_alone(name):
    base = load_preset(name)
    a, b, c = (randomise_params(base, s) for s in (7, 7, 8))
    assert a.params == b.params and a.params != c.params
    for k, v in a.params.items():
        if k in base.ranges:
            lo, hi = base.ranges[k]
            assert lo <= v <= hi, k
        else:
            assert v == base.params[k], k  # e.g. engrave's blur -0.015, its hatching
    assert a.name == f"{name}-r7" and a.ranges == base.ranges
    assert randomise_params(a, 9).name == f"{name}-r9"  # not NAME-r7-r9
    assert a.description.count("randomised") == 1


def test_a_draw_covers_its_ranges():
    """Uniform draws: over 200 seeds each parameter spans most of its range, both halves."""
    base = load_preset("perona-malik-drugs")
    draws = [randomise_params(base, s).params for s in range(200)]
    for k, (lo, hi) in base.ranges.items():
        v = np.array([d[k] for d in draws])
        assert v.min() < lo + 0.1 * (hi - lo) and v.max() > hi - 0.1 * (hi - lo), k
        assert 0.35 < np.mean(v < (lo + hi) / 2) < 0.65, k


def test_a_saved_draw_reads_back_with_its_ranges(tmp_path):
    a = randomise_params(load_preset("engrave"), 3)
    path = tmp_path / "mine.json"
    path.write_text(preset_json(a))
    back = load_preset(str(path))
    assert back.params == a.params and back.ranges == a.ranges and back.name == "engrave-r3"


def test_a_preset_without_ranges_varies_its_live_numbers_by_five_percent():
    data = {"name": "mine", "scheme": "learned-kernel", "live": ["spin", "saturate", "blur"],
            "parameters": {"spin": 0.2, "saturate": 0.0, "blur": -0.01, "kappa": 0.3}}
    pr = parse_preset(data)
    assert draw_ranges(pr) == {"spin": pytest.approx((0.19, 0.21)),
                               "blur": pytest.approx((-0.0105, -0.0095))}  # 0 stays 0
    assert FALLBACK_SPREAD == 0.05
    d = randomise_params(pr, 1).params
    assert 0.19 <= d["spin"] <= 0.21 and -0.0105 <= d["blur"] <= -0.0095
    assert d["saturate"] == 0.0 and d["kappa"] == 0.3


@pytest.mark.parametrize("ranges, says", [
    ({"nope": [0, 1]}, "'nope' is not a numeric parameter"),
    ({"g": [0, 1]}, "'g' is not a numeric parameter"),
    ({"look_size": [64, 512]}, "'look_size' is not a numeric parameter"),
    ({"kappa": [0.1]}, "must be [LO, HI]"),
    ({"kappa": [0.1, "x"]}, "must be [LO, HI]"),
    ({"kappa": [True, 0.2]}, "must be [LO, HI]"),
    ({"kappa": [0.2, 0.1]}, "LO 0.2 must be below HI 0.1"),
    ({"kappa": [0.05, 0.09]}, "does not hold the preset's own value 0.1"),
    ({"kappa": [1e-9, 0.2]}, "kappa must be in"),
    ([1, 2], "'ranges' must be an object"),
])
def test_bad_ranges_are_one_line_naming_the_field(ranges, says):
    data = {"name": "x", "scheme": "perona-malik", "parameters": {"kappa": 0.1},
            "ranges": ranges}
    with pytest.raises(ImfitError, match=None) as e:
        parse_preset(data)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_cli_writes_a_draw_that_diffuse_replays_and_never_overwrites(tmp_path):
    out = tmp_path / "e.json"
    r = CliRunner().invoke(cli.main, ["presets", "engrave", "--randomise", "5", "-o", str(out)])
    assert r.exit_code == 0, r.output
    saved = json.loads(out.read_text())
    base = load_preset("engrave")
    assert saved["name"] == "engrave-r5"
    for k, (lo, hi) in base.ranges.items():
        assert lo <= saved["parameters"][k] <= hi
    assert saved["parameters"]["blur"] == base.params["blur"]
    assert saved["parameters"] == randomise_params(base, 5).params  # the viewer's 5th x press
    before = out.read_bytes()
    r = CliRunner().invoke(cli.main, ["presets", "engrave", "--randomise", "6", "-o", str(out)])
    assert r.exit_code == 2 and "exists" in r.output and out.read_bytes() == before
    r = CliRunner().invoke(cli.main, ["presets", "poisson", "--randomise", "1", "-o",
                                      str(tmp_path / "p.json")])
    assert r.exit_code == 2 and "nothing to randomise" in r.output
    assert not (tmp_path / "p.json").exists()
    r = CliRunner().invoke(cli.main, ["presets", "engrave"])
    assert r.exit_code == 0 and "ink_hue" in r.output and "randomise [40, 70]" in r.output


def _photo(assets, name, size=96):
    rgb, _ = read_image(assets / name)
    h, w = rgb.shape[:2]
    return np.ascontiguousarray(resize_area(rgb, *fit_size(w, h, size)), np.float32)


def _worst(pr, src):
    """Worst readability and new-black fraction over the clip (every 5th frame written), and
    whether every frame was finite and in 0..1."""
    reads, blacks, ok = [], [], True
    for f in diffuse_frames(pr, [src], pr.steps, pr.every * 5):
        ok &= bool(np.isfinite(f).all() and f.min() >= 0 and f.max() <= 1)
        reads.append(readability(f, src))
        blacks.append(black_fraction(f, src))
    return min(reads), max(blacks), ok


@pytest.mark.parametrize("name", [p.name for p in RANDOMISED])
def test_draws_stay_stable_and_readable_on_two_photos(name, assets):
    """Two draws per preset, the whole default clip at 96 px on the face and the night photo:
    every frame finite and in 0..1, at most 2 % new black, and readable: edge correlation
    >= 0.5, or where the preset's own values read lower (classic perona-malik smooths the
    cat's fur away: 0.28 here), at least 3/4 of theirs. A range wide enough to throw a look
    into runaway or mush fails here."""
    base = load_preset(name)
    for photo in ("chelsea.png", "hubble_deep_field.jpg"):
        src = _photo(assets, photo)
        own, _, _ = _worst(base, src)
        for seed in (1, 2):
            read, black, ok = _worst(randomise_params(base, seed), src)
            assert ok, (photo, seed)
            assert read >= min(0.5, 0.75 * own), (photo, seed, read, own)
            assert black <= 0.02, (photo, seed, black)
