"""`imfit view` in one call, light to import: the live inputs (OSC port, MIDI port and map,
audio device) are opened and checked before the viewer's modules load torch (seconds), so a
busy port or a missing MIDI sequencer is one line at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from imfit.errors import ImfitError
from viewer.live import open_live


def run_view(fit_path: Path | None, *, video: Path | None = None, camera: int | None = None,
             preset: str | None = None, preset_size: int = 512, live_fit: int | None = None,
             steps_per_frame: int | None = None, size: tuple[int, int] | None = None,
             strategy: str = "billboard", test_frames: int | None = None, events: str = "",
             screenshot: Path | None = None, force: bool = False, source: Path | None = None,
             mask: Path | None = None, seed: int = 0, echo: Callable[[str], Any] = print,
             live_options: dict[str, Any] | None = None) -> None:
    """`imfit view`: the one dispatch between a fit, a preset on a fit or picture, and live
    frames (a clip or a camera, through a preset or a live fit), with the live inputs (OSC,
    MIDI, audio in, tempo, stage output) opened around the window and closed after it, even
    when the window fails. The caller has checked the display (cheap) before importing this
    module (seconds of torch)."""

    opts = dict(live_options or {})
    stage = opts.pop("stage", (False, 0))
    live = open_live(opts.get("osc_port"), opts.get("osc_host", "127.0.0.1"),
                     opts.get("osc_out"), opts.get("bpm"), seed, echo, opts.get("midi"),
                     opts.get("midi_map"), opts.get("audio_in"),
                     opts.get("react", "gain=bass:0.6"))
    live.stage = stage
    try:
        from viewer.app import view_file, view_preset, view_video

        if video is not None or camera is not None:
            view_video(video, camera, preset, live_fit, preset_size if preset else 128,
                       steps_per_frame or (4 if live_fit else 1), size, test_frames, events,
                       screenshot, force, seed, echo, live)
            return
        if fit_path is None:
            raise ImfitError("give FIT (or --video, --camera, --list-params)")
        if preset is not None:
            view_preset(fit_path, preset, preset_size, steps_per_frame or 1, size, test_frames,
                        events, screenshot, force, source, mask, echo=echo, live=live)
            return
        view_file(fit_path, size, strategy, test_frames, events, screenshot, force, echo=echo,
                  live=live)
    finally:
        live.close()
