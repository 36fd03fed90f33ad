"""MIDI control (`imfit view --midi PORT`): controllers and notes mapped onto the live parameters.

A `MidiMap` turns a mido message into the same `(address, args)` pairs an OSC message carries,
which the window hands to `imfit.live.control.dispatch`, so a knob, a key and an OSC message
change a value through one call. A CC's travel 0..127 covers the binding's range (by default
the parameter's range in `imfit.live.params`), geometrically for factors (sigma 0.25..4 has
its middle at 1), linearly otherwise; a note (or a CC crossing 64 upwards) triggers a command
(randomize, reset, screenshot, tap, record toggles, preset NAME).

Mappings are JSON (`--midi-map FILE`, read with the one safe JSON loader, written through the
one atomic writer); learn mode (key `l` in the viewer) binds the next control moved to the
parameter being learned and saves the map.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from imfit.errors import ImfitError
from imfit.live.osc import PREFIX
from imfit.live.params import COMMANDS, GABOR_PARAMS, LiveParam

TRIGGERS = ("randomize", "reset", "screenshot", "tap", "record", "preset")
MAP_VERSION = 1


@dataclass(frozen=True)
class Binding:
    """One control: CC `number` (or note `number`) on `channel` (0..15; None: any) drives
    `target` (a live parameter or a command). `lo`/`hi`: the range a CC's travel covers
    (None: the parameter's own). `arg`: the preset a `preset` trigger starts."""

    kind: str  # "cc" | "note"
    number: int
    target: str
    channel: int | None = None
    lo: float | None = None
    hi: float | None = None
    arg: str | None = None

    def matches(self, kind: str, number: int, channel: int) -> bool:
        return (self.kind == kind and self.number == number
                and (self.channel is None or self.channel == channel))


def cc_to_value(p: LiveParam, value: int, lo: float | None = None,
                hi: float | None = None) -> Any:
    """A CC value 0..127 as a value of parameter `p` over [lo, hi] (default: p's range)."""
    x = min(127, max(0, int(value))) / 127.0
    if p.kind == "str":
        return p.choices[min(len(p.choices) - 1, int(x * len(p.choices)))]
    a = p.lo if lo is None else lo
    b = p.hi if hi is None else hi
    assert a is not None and b is not None
    if p.log and a > 0 and b > 0:
        return p.coerce(a * (b / a) ** x)
    return p.coerce(a + (b - a) * x)


# A knob bank on CC 20..28 and pads on notes 36..41 (a common controller layout), with ranges a
# performer can use (a full 0.05..20 sweep of sigma on one knob is unplayable).
DEFAULT_BINDINGS: tuple[Binding, ...] = (
    Binding("cc", 20, "sigma", lo=0.25, hi=4.0),
    Binding("cc", 21, "frequency", lo=0.25, hi=4.0),
    Binding("cc", 22, "drift", lo=-1.0, hi=1.0),
    Binding("cc", 23, "rotation"),
    Binding("cc", 24, "gain", lo=0.0, hi=3.0),
    Binding("cc", 25, "bias", lo=-0.5, hi=0.5),
    Binding("cc", 26, "zoom", lo=0.25, hi=8.0),
    Binding("cc", 27, "phase"),
    Binding("note", 36, "randomize"),
    Binding("note", 37, "reset"),
    Binding("note", 38, "tap"),
    Binding("note", 39, "screenshot"),
    Binding("note", 40, "record"),
)


def _control(msg: Any) -> tuple[str, int, int, int] | None:
    """(kind, number, value, channel) of a mido message, or None for any other message.
    A note-on with velocity 0 is a note-off (running status), as MIDI says."""
    t = getattr(msg, "type", None)
    if t == "control_change":
        return "cc", int(msg.control), int(msg.value), int(msg.channel)
    if t in ("note_on", "note_off"):
        vel = int(msg.velocity) if t == "note_on" else 0
        return "note", int(msg.note), vel, int(msg.channel)
    return None


class MidiMap:
    """The bindings of one session, plus what triggers remember (CC edges, record on/off)."""

    def __init__(self, bindings: list[Binding] | tuple[Binding, ...] = DEFAULT_BINDINGS) -> None:
        self.bindings = list(bindings)
        self._cc_high: dict[tuple[int, int], bool] = {}
        self._recording = False

    def translate(self, msg: Any, params: dict[str, LiveParam]) -> list[tuple[str, list[Any]]]:
        """The control messages `msg` stands for: [(address, args)]; [] when unbound."""
        c = _control(msg)
        if c is None:
            return []
        kind, number, value, channel = c
        out: list[tuple[str, list[Any]]] = []
        for b in self.bindings:
            if not b.matches(kind, number, channel):
                continue
            if b.target in params and kind == "cc":
                p = params[b.target]
                out.append((PREFIX + b.target, [cc_to_value(p, value, b.lo, b.hi)]))
            elif b.target in COMMANDS and self._fires(kind, number, value, channel):
                out.append(self._command(b))
        return out

    def _fires(self, kind: str, number: int, value: int, channel: int) -> bool:
        if kind == "note":
            return value > 0
        key = (channel, number)  # a CC trigger fires once as it crosses 64 upwards
        high, self._cc_high[key] = self._cc_high.get(key, False), value >= 64
        return value >= 64 and not high

    def _command(self, b: Binding) -> tuple[str, list[Any]]:
        if b.target == "record":
            self._recording = not self._recording
            return PREFIX + "record", [int(self._recording)]
        if b.target == "preset":
            return PREFIX + "preset", [b.arg or "none"]
        return PREFIX + b.target, []

    def learn(self, msg: Any, target: str, arg: str | None = None) -> Binding | None:
        """Bind the control `msg` came from to `target` (replacing what it drove before, and
        any other control that drove `target`); None when `msg` is no control (clock...)."""
        c = _control(msg)
        if c is None:
            return None
        kind, number, _value, channel = c
        if kind == "note" and _value == 0:
            return None  # a release is no choice: wait for a press
        b = Binding(kind, number, target, channel, arg=arg)
        self.bindings = [x for x in self.bindings
                         if not x.matches(kind, number, channel) and x.target != target]
        self.bindings.append(b)
        return b

    # -- the mapping file --------------------------------------------------------------------
    def to_json(self) -> str:
        rows = [{k: v for k, v in asdict(b).items() if v is not None} for b in self.bindings]
        return json.dumps({"imfit_midi_map": MAP_VERSION, "bindings": rows}, indent=1) + "\n"

    def save(self, path: Path) -> Path:
        from imfit.formats.files import atomic_write_text

        return atomic_write_text(path, self.to_json(), overwrite=True)

    @staticmethod
    def load(path: Path) -> MidiMap:
        from imfit.formats.gabor_json import load_json

        data = load_json(path, "MIDI map")
        return MidiMap(parse_bindings(data, str(path)))


def _whole(v: Any, lo: int, hi: int, what: str, src: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ImfitError(f"{src}: {what} must be a whole number {lo}..{hi}, got {v!r}")
    return v


def preset_param_names() -> set[str]:
    """Every live parameter any preset has (a map may drive kappa while a preset runs)."""
    from imfit.diffusion.engine import list_presets
    from imfit.live.params import preset_params

    return {name for p in list_presets() for name in preset_params(p)}


def parse_bindings(data: Any, src: str) -> list[Binding]:
    """The bindings of a MIDI map file, every field checked (one line per problem)."""
    if not isinstance(data, dict) or data.get("imfit_midi_map") != MAP_VERSION \
            or not isinstance(data.get("bindings"), list):
        raise ImfitError(f"{src}: not an imfit MIDI map "
                         f'({{"imfit_midi_map": {MAP_VERSION}, "bindings": [...]}})')
    known = set(GABOR_PARAMS) | set(COMMANDS) | preset_param_names()
    out = []
    for i, row in enumerate(data["bindings"]):
        where = f"{src}: binding {i}"
        if not isinstance(row, dict):
            raise ImfitError(f"{where}: not an object")
        extra = set(row) - {"kind", "number", "target", "channel", "lo", "hi", "arg"}
        if extra:
            raise ImfitError(f"{where}: unknown field {sorted(extra)[0]!r}")
        kind = row.get("kind")
        if kind not in ("cc", "note"):
            raise ImfitError(f"{where}: kind must be 'cc' or 'note', got {kind!r}")
        target = row.get("target")
        if not isinstance(target, str) or target not in known:
            raise ImfitError(f"{where}: unknown target {target!r} (`imfit view --list-params` "
                             "lists them)")
        number = _whole(row.get("number"), 0, 127, "number", where)
        ch = row.get("channel")
        ch = None if ch is None else _whole(ch, 0, 15, "channel", where)
        lo, hi = row.get("lo"), row.get("hi")
        for name, v in (("lo", lo), ("hi", hi)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ImfitError(f"{where}: {name} must be a number, got {v!r}")
        arg = row.get("arg")
        if arg is not None and not isinstance(arg, str):
            raise ImfitError(f"{where}: arg must be a preset name")
        out.append(Binding(kind, number, target, ch, None if lo is None else float(lo),
                           None if hi is None else float(hi), arg))
    return out


def learnable(params: dict[str, LiveParam]) -> list[str]:
    """What learn mode offers, in order: the view's numbers, then the triggers."""
    return [n for n, p in params.items() if p.kind != "str" or p.choices] + \
        [c for c in TRIGGERS if c != "preset"]


# -- the port ----------------------------------------------------------------------------------
ALSA_SEQ = Path("/dev/snd/seq")


def check_backend() -> None:
    """One line when no MIDI input can exist here (before rtmidi prints ALSA's own errors)."""
    try:
        import mido  # noqa: F401
        import rtmidi  # noqa: F401
    except ImportError as e:
        raise ImfitError(f"--midi needs mido and python-rtmidi ({e}); "
                         "pip install 'imfit[live]'") from None
    if sys.platform.startswith("linux") and not ALSA_SEQ.exists():
        raise ImfitError(f"no MIDI here: the ALSA sequencer ({ALSA_SEQ}) does not exist "
                         "(a container without sound devices?); use --osc instead")


class MidiIn:
    """An open MIDI input: `poll()` gives the messages that arrived since the last call."""

    def __init__(self, port: str) -> None:
        check_backend()
        import mido

        try:
            names = mido.get_input_names()
        except Exception as e:  # noqa: BLE001 - rtmidi's SystemError: no usable backend
            raise ImfitError(f"no MIDI backend ({str(e).splitlines()[0]})") from None
        name = _pick(port, names)
        try:
            self.port = mido.open_input(name)
        except Exception as e:  # noqa: BLE001 - busy or gone between listing and opening
            raise ImfitError(f"MIDI port {name!r} cannot be opened "
                             f"({str(e).splitlines()[0]})") from None
        self.name = name
        self.received = 0

    def poll(self, budget: int = 256) -> list[Any]:
        out = []
        for msg in self.port.iter_pending():
            out.append(msg)
            self.received += 1
            if len(out) >= budget:
                break
        return out

    def close(self) -> None:
        self.port.close()


def _pick(port: str, names: list[str]) -> str:
    """A port by exact name, by number in the list, or by a unique part of its name."""
    if not names:
        raise ImfitError("no MIDI input ports (is the controller plugged in?)")
    if port in names:
        return port
    if port.isdigit() and int(port) < len(names):
        return names[int(port)]
    hits = [n for n in names if port.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    raise ImfitError(f"no MIDI input {port!r}; ports: {', '.join(names)}")
