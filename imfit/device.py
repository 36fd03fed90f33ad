"""Which torch device a command runs on, and the random generator that lives there.

One resolver for every torch path (fit, render, diffuse, ...): `resolve("auto" | "cpu" |
"cuda" | "cuda:1" | "mps")`. It fails with one ImfitError line when the device is absent, and
is called before any expensive work (loading frames, building kernels), so a wrong `--device`
costs nothing. Random draws come from `generator(device, seed)`, which lives on the same device
as the tensors it fills: torch refuses a CPU generator for CUDA tensors, and a generator on the
wrong device is exactly the crash this module exists to prevent.

Determinism: on CPU a seeded fit is bit-for-bit reproducible (same torch, same thread count).
On CUDA the random draws are reproducible for a seed on the same GPU model and torch version
(but differ from the CPU draws), while the renderer's scatter-adds (`index_add_`, atomic adds)
sum in a varying order, so two CUDA runs agree to float32 rounding, not bit for bit.
"""

from __future__ import annotations

import torch

from imfit.errors import ImfitError

NAMES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve(name: str | torch.device | None = "auto") -> torch.device:
    """The torch device for `name`; `auto` (or None) is the best one present: CUDA, then Apple
    Metal, then the CPU. An absent or unknown device raises ImfitError (one line)."""
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ImfitError(f"device {name}: no CUDA GPU is available to torch here "
                             f"(torch {torch.__version__}); use cpu or auto")
        if name != "cuda":
            idx = name.split(":", 1)[1]
            if not idx.isdigit():
                raise ImfitError(f"device {name!r}: expected cuda or cuda:N")
            count = torch.cuda.device_count()
            if int(idx) >= count:
                raise ImfitError(f"device {name}: torch sees {count} CUDA GPU(s), numbered "
                                 f"0..{count - 1}")
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise ImfitError("device mps: Apple Metal is not available to torch here; use cpu "
                             "or auto")
        return torch.device("mps")
    raise ImfitError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)")


def generator(device: torch.device, seed: int) -> torch.Generator:
    """A seeded generator on `device`: every random draw for tensors there must use one."""
    return torch.Generator(device=device).manual_seed(int(seed))


def synchronize(device: torch.device) -> None:
    """Wait for queued work on `device` (for honest timings; a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
