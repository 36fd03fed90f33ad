"""The viewer's live inputs: OSC in/out and the tempo, opened before the window so a busy port
or a bad address is one line before anything else happens; and the adapter that gives the
diffusion scene the same live-parameter face as the Gabor scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imfit.errors import ImfitError
from imfit.live.audio import Reaction, parse_react
from imfit.live.midi import MidiIn, MidiMap
from imfit.live.osc import OscIn, OscOut, parse_host_port
from imfit.live.params import LiveParam, preset_params
from imfit.live.tempo import TapTempo


@dataclass
class LiveInputs:
    """What drives the window besides keys and mouse (all optional)."""

    osc_in: OscIn | None = None
    osc_out: OscOut | None = None
    tempo: TapTempo = field(default_factory=TapTempo)
    seed: int = 0
    midi_in: MidiIn | None = None
    midi_map: MidiMap = field(default_factory=MidiMap)
    midi_map_path: Path | None = None  # where learn mode saves (None: imfit-midi-NNN.json)
    audio_in: Any = None  # imfit.live.audio_in.AudioIn (or anything with levels())
    reactions: list[Reaction] = field(default_factory=list)
    stage: tuple[bool, int] = (False, 0)  # --fullscreen, --monitor

    def close(self) -> None:
        if self.osc_in is not None:
            self.osc_in.close()
        if self.midi_in is not None:
            self.midi_in.close()
        if self.audio_in is not None and hasattr(self.audio_in, "close"):
            self.audio_in.close()


def open_live(osc: int | None = None, osc_host: str = "127.0.0.1", osc_out: str | None = None,
              bpm: float | None = None, seed: int = 0, echo: Any = print,
              midi: str | None = None, midi_map: Path | None = None,
              audio_in: str | None = None, react: str = "gain=bass:0.6") -> LiveInputs:
    """Bind the OSC port, open the MIDI port, read the MIDI map and check the rest now (before
    the window and the input file). A --midi-map that does not exist yet is where learn mode
    will save."""
    out = OscOut(*parse_host_port(osc_out)) if osc_out else None
    live = LiveInputs(None, out, TapTempo(bpm), seed, midi_map_path=midi_map)
    if midi_map is not None and midi_map.exists():
        live.midi_map = MidiMap.load(midi_map)
    elif midi_map is not None and not midi_map.parent.is_dir():  # learn mode could not save
        raise ImfitError(f"--midi-map {midi_map}: folder {midi_map.parent} does not exist")
    if audio_in is not None:
        from imfit.live.audio_in import AudioIn

        live.reactions = parse_react(react)
        live.audio_in = AudioIn(None if audio_in == "default" else audio_in)
        echo(f"audio in: {live.audio_in.name!r} drives {react}")
    if midi is not None:
        live.midi_in = MidiIn(midi)
        echo(f"midi: reading {live.midi_in.name!r} ({len(live.midi_map.bindings)} bindings; "
             "l learns, see docs/live.md)")
    if osc is not None:
        live.osc_in = OscIn(osc, osc_host)
        where = "open to the network" if osc_host not in ("127.0.0.1", "localhost") else \
            "this machine only"
        echo(f"osc: listening on udp {osc_host}:{live.osc_in.port} ({where}); "
             "`imfit view --list-params` lists the addresses")
    return live


class DiffusionControls:
    """`viewer.gl_diffusion.DiffusionScene` as a live target: its preset's live numbers."""

    def __init__(self, scene: Any) -> None:
        self.scene = scene

    def params(self) -> dict[str, LiveParam]:
        return preset_params(self.scene.preset)

    def value(self, name: str) -> Any:
        return self.scene.params[name]

    def set_param(self, name: str, value: Any) -> Any:
        spec = self.params().get(name)
        if spec is None:
            raise ImfitError(f"preset {self.scene.preset.name} has no live parameter {name!r}")
        v = spec.coerce(value)
        self.scene._set(name, v)
        if self.scene.message:  # the scene refused it (e.g. beyond the stable step)
            raise ImfitError(self.scene.message)
        return v

    def reset(self) -> None:
        self.scene.key("r", False)


def target_of(scene: Any) -> Any:
    """The live target of a scene: the scene itself when it has live parameters."""
    if hasattr(scene, "set_param"):
        return scene
    if hasattr(scene, "preset") and hasattr(scene, "params"):
        return DiffusionControls(scene)
    return None
