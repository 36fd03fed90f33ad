"""The one set of easings shared by morphs and timelines: how a move from 0 to 1 is paced."""

from __future__ import annotations

from imfit.errors import ImfitError

EASES = ("linear", "smooth", "hold")


def check_ease(name: str, what: str = "ease") -> str:
    if name not in EASES:
        raise ImfitError(f"{what} must be one of {', '.join(EASES)}, got {name!r}")
    return name


def ease(t: float, name: str) -> float:
    """Progress at time t in 0..1: linear; smooth (smoothstep, zero speed at both ends);
    hold (stays at the start and jumps at the end, like a cut)."""
    if name == "linear":
        return t
    if name == "smooth":
        return t * t * (3 - 2 * t)
    if name == "hold":
        return 1.0 if t >= 1.0 else 0.0
    raise ImfitError(f"ease must be one of {', '.join(EASES)}, got {name!r}")
