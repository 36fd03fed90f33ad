"""Live audio in (`imfit view --audio-in [DEVICE] --react gain=bass:0.6`): an input device's
band energies drive the same reactions as the offline renders.

`LiveAnalyser` is the offline analysis (imfit.live.audio.analyse) made causal: at each drawn
frame it takes the newest `window` samples (Hann), sums the power in the same BANDS, computes
the positive spectral flux against the previous frame (`onset`), and scales each signal to 0..1
by a running peak that decays slowly (the live stand-in for the offline 98th percentile: a
quiet passage is lifted back up within seconds, one loud hit does not flatten the rest for
good), then smooths it with the same fast-attack, slow-release follower. It is fed samples by
the sounddevice callback, or by a test, through `feed`.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.live.audio import ATTACK, BANDS, RELEASE

PEAK_DECAY = 0.99  # per frame: the running peak halves in about 69 frames (2.3 s at 30 fps)
FLOOR = 1e-4  # below this band energy the signal is silence, not a peak to scale up to


class LiveAnalyser:
    """Band energies of the newest samples, per drawn frame, in 0..1 (see the module doc)."""

    def __init__(self, rate: int, window: int = 2048) -> None:
        self.rate = int(rate)
        self.n = int(window)
        self._buf: deque[float] = deque([0.0] * self.n, maxlen=self.n)
        self._lock = threading.Lock()
        self._win = np.hanning(self.n)
        self._freqs = np.fft.rfftfreq(self.n, 1.0 / self.rate)
        self._masks = {k: (self._freqs >= lo) & (self._freqs < hi)
                       for k, (lo, hi) in BANDS.items()}
        self._prev: np.ndarray | None = None
        self._peak: dict[str, float] = {}
        self.level: dict[str, float] = {k: 0.0 for k in (*BANDS, "onset")}

    def feed(self, samples: np.ndarray) -> None:
        """Append mono (or (n, channels), averaged) samples in -1..1; thread-safe."""
        x = np.asarray(samples, np.float64)
        if x.ndim == 2:
            x = x.mean(axis=1)
        with self._lock:
            self._buf.extend(np.nan_to_num(x.ravel()).tolist())

    def levels(self) -> dict[str, float]:
        """This frame's signals (each band of BANDS and `onset`), 0..1, smoothed."""
        with self._lock:
            x = np.fromiter(self._buf, np.float64, self.n)
        mag = np.abs(np.fft.rfft(x * self._win))
        raw = {k: float(np.sqrt((mag[m] ** 2).sum())) for k, m in self._masks.items()}
        raw["onset"] = 0.0 if self._prev is None else float(
            np.maximum(mag - self._prev, 0).sum())
        self._prev = mag
        for k, v in raw.items():
            peak = max(v, self._peak.get(k, 0.0) * PEAK_DECAY)
            self._peak[k] = peak
            unit = min(1.0, v / peak) if peak > FLOOR else 0.0
            level = self.level[k]
            self.level[k] = level + (ATTACK if unit > level else RELEASE) * (unit - level)
        return dict(self.level)


class AudioIn:
    """An open input device feeding a LiveAnalyser (sounddevice, PortAudio)."""

    def __init__(self, device: str | None) -> None:
        sd = _sounddevice()
        dev: Any = None if device in (None, "", "default") else \
            (int(device) if str(device).isdigit() else device)
        try:
            info = sd.query_devices(dev, kind="input")
        except (ValueError, sd.PortAudioError) as e:
            names = [d["name"] for d in sd.query_devices() if d["max_input_channels"] > 0]
            listed = f"inputs: {', '.join(names)}" if names else "PortAudio lists no inputs"
            raise ImfitError(f"no audio input device {device or '(default)'} ({e}; "
                             f"{listed})") from None
        rate = int(info["default_samplerate"]) or 44100
        self.name = str(info["name"])
        self.analyser = LiveAnalyser(rate)
        try:
            self.stream = sd.InputStream(device=dev, channels=1, samplerate=rate,
                                         callback=lambda data, *_: self.analyser.feed(data))
            self.stream.start()
        except Exception as e:  # noqa: BLE001 - busy, unplugged, unsupported rate
            raise ImfitError(f"audio input {self.name!r} cannot be opened "
                             f"({str(e).splitlines()[0]})") from None

    def levels(self) -> dict[str, float]:
        return self.analyser.levels()

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


def _sounddevice() -> Any:
    try:
        import sounddevice as sd
    except ImportError:
        raise ImfitError("--audio-in needs sounddevice: pip install 'imfit[live]'") from None
    except OSError as e:  # sounddevice raises this when libportaudio is not there
        raise ImfitError(f"--audio-in needs the PortAudio library ({e}; apt-get install "
                         "libportaudio2)") from None
    return sd
