"""Video and camera in: the two live scenes a clip or a camera drives (`imfit view --video`).

`VideoPresetScene` runs a diffusion preset on the live frames: each new frame is mixed into
the running state (`new_frame`, the preset's `video_mix`, as `imfit diffuse` does for videos),
then the preset steps, so the look evolves with the picture instead of restarting.
`LiveFitScene` fits the frames as wavelets (`imfit.fitting.live.LiveFit`): one set that is moved
a few steps towards the frame on screen at every drawn frame, shown as it converges; the
viewer's knobs (keys, OSC, MIDI) act on it as on any fit.

Both ask their source for the frame on at the window's time t, so a clip plays at its own speed
whatever the window's frame rate, and in test mode (t = frame / 30) frame k of a 30 fps clip
is on at window frame k.
"""

from __future__ import annotations

from typing import Any

from imfit.model.gaborset import GaborSet
from viewer.gabor_scene import GaborScene
from viewer.gl_diffusion import DiffusionScene


class VideoPresetScene(DiffusionScene):
    """A preset on a video source (`imfit.live.video.VideoSource` or `CameraSource`)."""

    def __init__(self, preset: Any, source: Any, steps_per_frame: int = 1) -> None:
        self.source = source
        self.shown, first = source.frame_at(0.0)
        super().__init__(preset, first, steps_per_frame)

    def draw(self, ctx: Any, width: int, height: int, t: float) -> None:
        index, frame = self.source.frame_at(t)
        if index != self.shown:
            self.shown = index
            self.image0 = frame  # what r (reset) and a rebuilt engine start from
            if self.engine is not None and ctx is self.ctx:
                target = ctx.fbo  # the caller's framebuffer: the mix pass binds its own
                self.engine.new_frame(frame)
                target.use()
        super().draw(ctx, width, height, t)

    def status(self) -> str:
        return f"frame {self.shown} | {super().status()}"



class LiveFitScene(GaborScene):
    """The frames fitted live as `fit.n` wavelets, `steps` Adam steps per drawn frame."""

    def __init__(self, source: Any, fit: Any, steps: int = 4) -> None:
        self.video, self.fit, self.steps = source, fit, max(1, int(steps))
        self.shown, first = source.frame_at(0.0)
        fit.set_frame(first)
        h, w = first.shape[:2]
        super().__init__(GaborSet.empty(w, h))
        self.base = fit.current()

    def draw(self, ctx: Any, width: int, height: int, t: float) -> None:
        index, frame = self.video.frame_at(t)
        if index != self.shown:
            self.shown = index
            self.fit.set_frame(frame)
        self.fit.step(self.steps)
        self.base = self.fit.current()
        super().draw(ctx, width, height, t)

    def key(self, key: str, shift: bool) -> bool:
        if key == "w":  # saving a set that changes every frame is a screenshot's job
            return False
        return super().key(key, shift)

    def status(self) -> str:
        return f"live fit frame {self.shown} | {super().status()}"
