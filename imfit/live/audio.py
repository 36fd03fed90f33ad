"""Audio analysis per video frame, for audio-reactive renders: band energies and onsets.

`analyse(samples, rate, fps, frames)` windows the signal around each frame's time (a Hann window
two frames long), takes its spectrum and sums the power in each band; each band is then scaled
to 0..1 by its 98th percentile (so one loud hit does not flatten the rest) and smoothed with a
fast-attack, slow-release follower, as VJ tools do. `onset` is the positive spectral flux.
A `--react` spec maps bands onto the live parameters of `imfit.live.params`:
`gain=bass:0.6` multiplies a factor by (1 + 0.6 * bass), `phase=high:2` adds 2 * high.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.live.knobs import KNOBS, Edits, apply_edits
from imfit.live.params import GABOR_PARAMS, LiveParam
from imfit.model.gaborset import GaborSet

BANDS: dict[str, tuple[float, float]] = {
    "bass": (20.0, 250.0),
    "mid": (250.0, 2000.0),
    "high": (2000.0, 16000.0),
    "all": (20.0, 16000.0),
}
SIGNALS = (*BANDS, "onset")
ATTACK, RELEASE = 0.8, 0.5  # follower per frame: rises in ~1 frame, falls in ~2 (33 ms frames)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float samples in -1..1 and the sample rate of a WAV file."""
    from scipy.io import wavfile

    path = Path(path)
    if not path.is_file():
        raise ImfitError(f"{path}: no such file")
    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as e:
        raise ImfitError(f"{path}: not a readable WAV file ({str(e).splitlines()[0]})") from None
    x = np.asarray(data)
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float64) - (info.max + info.min + 1) / 2) / (info.max + 1)
    x = x.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size == 0 or rate <= 0:
        raise ImfitError(f"{path}: the WAV file holds no samples")
    if not np.isfinite(x).all():
        raise ImfitError(f"{path}: the WAV file holds NaN or infinite samples")
    return x, int(rate)


def _follow(v: np.ndarray) -> np.ndarray:
    out = np.empty_like(v)
    level = 0.0
    for i, x in enumerate(v):
        level += (ATTACK if x > level else RELEASE) * (x - level)
        out[i] = level
    return out


def analyse(samples: np.ndarray, rate: int, fps: float, frames: int) -> dict[str, np.ndarray]:
    """Per-frame signals in 0..1: each band of BANDS, and `onset`. Frame i is at i / fps s."""
    n = max(64, int(2 * rate / fps))
    nfft = 1 << (n - 1).bit_length()
    win = np.hanning(n)
    freqs = np.fft.rfftfreq(nfft, 1.0 / rate)
    pad = np.concatenate([np.zeros(n // 2), samples, np.zeros(n)])
    starts = (np.arange(frames) / fps * rate).astype(np.int64)
    starts = np.minimum(starts, len(pad) - n)
    spec = np.abs(np.fft.rfft(pad[starts[:, None] + np.arange(n)] * win, nfft)) ** 2
    out: dict[str, np.ndarray] = {}
    for name, (lo, hi) in BANDS.items():
        e = np.sqrt(spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1))
        out[name] = _follow(_unit(e))
    mag = np.sqrt(spec)
    flux = np.maximum(np.diff(mag, axis=0, prepend=mag[:1]), 0).sum(axis=1)
    out["onset"] = _follow(_unit(flux))
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    top = float(np.percentile(v, 98)) if v.size else 0.0
    return np.clip(v / top, 0.0, 1.0) if top > 0 else np.zeros_like(v)


@dataclass(frozen=True)
class Reaction:
    param: str
    signal: str
    amount: float


def parse_react(spec: str) -> list[Reaction]:
    """'gain=bass:0.6,phase=high:2' -> reactions (parameters of the wavelet view's knobs)."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, eq, rest = part.partition("=")
        signal, colon, amount = rest.partition(":")
        name, signal = name.strip(), signal.strip()
        if not eq or name not in KNOBS or name == "count":
            raise ImfitError(f"react {part!r}: use PARAM=BAND[:AMOUNT] with PARAM one of "
                             f"{', '.join(k for k in KNOBS if k != 'count')}")
        if signal not in SIGNALS:
            raise ImfitError(f"react {part!r}: band must be one of {', '.join(SIGNALS)}")
        try:
            a = float(amount) if colon else 1.0
        except ValueError:
            raise ImfitError(f"react {part!r}: amount {amount!r} is not a number") from None
        if not math.isfinite(a):
            raise ImfitError(f"react {part!r}: amount must be finite")
        out.append(Reaction(name, signal, a))
    if not out:
        raise ImfitError("--react is empty: e.g. gain=bass:0.6,phase=high:2")
    return out


def modulate(p: LiveParam, base: float, amount: float, s: float) -> Any:
    """THE reaction rule (offline and live): a factor scales by (1 + amount * s), any other
    number gets amount * s added; the table clamps."""
    return p.coerce(base * (1 + amount * s) if p.log else base + amount * s)


def knobs_at(reactions: list[Reaction], signals: dict[str, np.ndarray], i: int) -> Edits:
    """The knobs of frame i: factors scale by (1 + amount * signal), the rest add to it."""
    values = {k: getattr(Edits(), k) for k in KNOBS}
    for r in reactions:
        p = GABOR_PARAMS[r.param]
        s = float(signals[r.signal][i])
        values[r.param] = modulate(p, values[r.param], r.amount, s)
    return replace(Edits(), **values)


def react_sets(sets: Iterator[GaborSet], reactions: list[Reaction],
               signals: dict[str, np.ndarray]) -> Iterator[GaborSet]:
    """Each frame's set with that frame's audio knobs applied (the viewer's own edit model)."""
    for i, gs in enumerate(sets):
        yield apply_edits(gs, knobs_at(reactions, signals, i))


def mux_audio(video: Path, audio: Path, output: Path, seconds: float, force: bool) -> None:
    """`video` (an MP4 without sound) plus `audio`, cut to `seconds`, written to `output`
    (through the one atomic writer: a failed mux leaves any old output as it was)."""
    import subprocess

    import imageio_ffmpeg

    from imfit.formats.files import atomic_write

    tmp = video.with_name(video.name + ".mux.mp4")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(video),
           "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac",
           "-t", f"{seconds:.6f}", str(tmp)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 or not tmp.is_file():
            msg = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise ImfitError(f"ffmpeg could not add the audio to {output}: {msg}")
        atomic_write(output, lambda f: f.write(tmp.read_bytes()), overwrite=force)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class AudioPlan:
    """An audio-reactive animation: the track, its signals per frame, and the reactions."""

    path: Path
    frames: int
    seconds: float
    signals: dict[str, np.ndarray]
    reactions: list[Reaction]


def plan_audio(path: str | Path, react: str, fps: float, frames: int | None,
               output: Path) -> AudioPlan:
    """Read and analyse the track (all inputs checked before any frame is drawn). Without
    `frames`, the animation lasts as long as the track."""
    if output.suffix.lower() != ".mp4":
        raise ImfitError(f"{output}: audio needs an .mp4 output")
    reactions = parse_react(react)
    if not (math.isfinite(fps) and fps > 0):
        raise ImfitError(f"fps must be positive, got {fps:g}")
    samples, rate = read_wav(path)
    seconds = len(samples) / rate
    n = frames if frames is not None else max(1, round(seconds * fps))
    return AudioPlan(Path(path), n, n / fps, analyse(samples, rate, fps, n), reactions)


def write_with_audio(frames: Iterator[np.ndarray], plan: AudioPlan, output: Path, fps: float,
                     force: bool) -> int:
    """Encode `frames` to `output` (.mp4) with the plan's track muxed in, in sync from 0 s."""
    from imfit.formats.video import check_output, write_frames

    check_output(output, force)
    silent = output.with_name(f".{output.name}.video.mp4")
    try:
        n = write_frames(frames, silent, fps=fps, force=True)
        mux_audio(silent, plan.path, output, n / fps, force)
    finally:
        silent.unlink(missing_ok=True)
    return n


def render_with_audio(sets: Iterator[GaborSet], plan: AudioPlan, render: Any, output: Path,
                      fps: float, force: bool) -> int:
    """The offline audio-reactive path every command shares (animate, render --frames, morph):
    each frame's set gets that frame's reactions, is drawn by `render(gs)`, and the MP4 gets
    the track muxed in from 0 s."""
    frames = (render(s) for s in react_sets(sets, plan.reactions, plan.signals))
    return write_with_audio(frames, plan, output, fps, force)


def reacting_fit_frames(gs: GaborSet, plan: AudioPlan, render: Any) -> list[np.ndarray]:
    """`imfit diffuse FIT --audio`: the fit drawn once per video frame with that frame's
    reactions (the frames a preset then runs on as on a video)."""
    return [np.asarray(render(s), np.float32)
            for s in react_sets((gs for _ in range(plan.frames)), plan.reactions, plan.signals)]
