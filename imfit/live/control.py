"""What a control message means: `/imfit/<name> value` sets a live parameter, `/imfit/<command>`
runs a command. OSC, MIDI and the audio analysis all end here, and set parameters through the
same `set_param` the keys use, so there is one way a value changes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any, Protocol

from imfit.errors import ImfitError
from imfit.live.osc import PREFIX
from imfit.live.params import COMMANDS, LiveParam


class LiveTarget(Protocol):
    """A scene with live parameters (viewer.gabor_scene.GaborScene, the diffusion scene)."""

    def params(self) -> dict[str, LiveParam]: ...
    def value(self, name: str) -> Any: ...
    def set_param(self, name: str, value: Any) -> Any: ...
    def reset(self) -> None: ...


def state(target: LiveTarget) -> dict[str, Any]:
    """Every live parameter's value now (what `--osc-out` mirrors)."""
    return {name: target.value(name) for name in target.params()}


def randomize(target: LiveTarget, rng: random.Random) -> None:
    """New values for the parameters that have a random range (log-uniform for factors)."""
    for name, p in target.params().items():
        if p.rand is None:
            continue
        lo, hi = p.rand
        if p.log and lo > 0:
            v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        else:
            v = rng.uniform(lo, hi)
        target.set_param(name, v)


def dispatch(address: str, args: list[Any], target: LiveTarget,
             commands: dict[str, Callable[..., None]]) -> str:
    """Carry out one message; returns the name it set or ran. Anything unusable (unknown
    address, missing or wrong-typed argument) raises ImfitError and changes nothing."""
    if not isinstance(address, str) or not address.startswith(PREFIX):
        raise ImfitError(f"unknown address {address!r} (imfit's start with {PREFIX})")
    name = address[len(PREFIX):]
    if name in COMMANDS:
        cmd = COMMANDS[name]
        if name not in commands:
            raise ImfitError(f"{address} does nothing in this view")
        if cmd.kind == "":
            commands[name]()
            return name
        if len(args) != 1:
            raise ImfitError(f"{address} takes one {cmd.kind} argument, got {len(args)}")
        arg = args[0]
        if cmd.kind == "str" and not isinstance(arg, str):
            raise ImfitError(f"{address} takes a name, got {arg!r}")
        if cmd.kind == "int":
            if isinstance(arg, bool):
                arg = int(arg)
            if not isinstance(arg, (int, float)) or arg not in (0, 1):
                raise ImfitError(f"{address} takes 1 or 0, got {arg!r}")
            arg = int(arg)
        commands[name](arg)
        return name
    if name not in target.params():
        raise ImfitError(f"unknown address {address!r}; `imfit view --list-params` lists them")
    if len(args) != 1:
        raise ImfitError(f"{address} takes one value, got {len(args)}")
    target.set_param(name, args[0])
    return name
