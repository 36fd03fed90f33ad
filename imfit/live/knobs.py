"""The wavelet view's live knobs and the op chain they stand for (GL-free, so the offline
audio-reactive renderer and the viewer share them: one edit model)."""

from __future__ import annotations

from dataclasses import dataclass

from imfit.edit.syntax import Op, apply_ops, make_op
from imfit.model.gaborset import GaborSet

KNOBS = ("sigma", "frequency", "drift", "phase", "rotation", "gain", "bias", "count")


@dataclass(frozen=True)
class Edits:
    """The live knobs (named and ranged in `imfit.live.params.GABOR_PARAMS`); the defaults
    leave the set untouched. They are not a second edit model: `ops` turns them into the same
    `imfit.edit.syntax` records `imfit edit` applies, and that is what is drawn and saved."""

    sigma: float = 1.0  # window width multiplier (sigma and gamma together)
    frequency: float = 1.0  # wavelength divided by this
    drift: float = 0.0  # phase drift speed, turns per second
    phase: float = 0.0  # phase travelled so far, turns (drift integrates into it)
    rotation: float = 0.0  # degrees, whole field about the origin (clockwise on screen)
    gain: float = 1.0
    bias: float = 0.0  # added to the set's own bias
    count: int = 0  # strongest wavelets shown; 0 = all

    def ops(self, gs: GaborSet) -> list[Op]:
        """The op chain these knobs stand for on `gs` (its bias makes `bias` absolute)."""
        out = []
        if 0 < self.count < len(gs):
            out.append(make_op("topk", k=self.count))
        if self.sigma != 1.0 or self.frequency != 1.0:
            out.append(make_op("scale", sigma=self.sigma, gamma=self.sigma,
                               wavelength=1.0 / self.frequency))
        if self.rotation:
            out.append(make_op("rotate", deg=self.rotation))
        if self.gain != 1.0:
            out.append(make_op("gain", x=self.gain))
        if self.phase:
            out.append(make_op("phase", deg=360.0 * self.phase))
        if self.bias:
            r, g, b = (v + self.bias for v in gs.bias)
            out.append(make_op("bias", r=r, g=g, b=b))
        return out


def apply_edits(gs: GaborSet, e: Edits) -> GaborSet:
    """The set the viewer shows for knobs `e` (pure: the same call the headless test makes)."""
    return apply_ops(gs, e.ops(gs))
