"""Build and load the fused C kernels (`_gabor_kernel.c`, `_diffusion_kernel.c`) with the
system C compiler.

Why C through ctypes and not a torch extension: it compiles in about a second with no torch
headers and no ninja, and a machine without a compiler simply keeps the pure-torch code (each
kernel's tested twin: the tiled renderer, `TorchDiffusion`'s banded Perona-Malik step). The
shared libraries are cached per source hash in `$IMFIT_CACHE` (default `~/.cache/imfit`).
`IMFIT_NO_CKERNEL=1` turns them off.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import torch

# sources live with the capability that owns them; keys are paths relative to imfit/
GABOR = "renderers/_gabor_kernel.c"
DIFFUSION = "diffusion/_diffusion_kernel.c"
_FLAGS = [  # first that compiles wins; -fopenmp-simd only enables the `omp simd` hints
    ["-O3", "-fopenmp-simd", "-march=native"],
    ["-O3", "-fopenmp-simd"],
    ["-O3"],
]
_f, _i, _p = ctypes.c_float, ctypes.c_int, ctypes.c_void_p
# Per source: flags added after -O3, and each exported function's (argtypes, restype).
# -ffast-math lets the Gabor sums call vectorised libm. The diffusion kernel must not have it:
# reassociation undoes its exp's exact range reduction (measured 3.7e-6 relative error instead
# of 8.5e-8); it takes only the two parts of fast-math that let gcc 12 vectorise the clamp
# `x < -87 ? -87 : x` (a max; its inputs are finite).
_KERNELS: dict[str, tuple[list[str], dict[str, tuple[list[Any], Any]]]] = {
    GABOR: (["-ffast-math"], {
        "imfit_forward": ([_i, _p, _p, _i, _i, _f, _f, _f, _f, _p], None),
        "imfit_backward": ([_i, _p, _p, _i, _i, _f, _f, _f, _f, _p, _p, _p], None),
    }),
    DIFFUSION: (["-ffinite-math-only", "-fno-signed-zeros"], {
        "imfit_pm_rows": ([_p, _p, _p, _i, _i, _i, _i, _i, _f, _f, _i, _f], _i),
        "imfit_exp_neg": ([_i, _p, _p], None),
    }),
}


def _cache_dir() -> Path:
    return Path(os.environ.get("IMFIT_CACHE", Path.home() / ".cache" / "imfit"))


def _compiler() -> str | None:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


@cache
def load(source: str = GABOR) -> ctypes.CDLL | None:
    """The compiled kernel `source` (a key of `_KERNELS`), or None when disabled or no compiler
    works (never raises)."""
    if os.environ.get("IMFIT_NO_CKERNEL"):
        return None
    path = Path(__file__).parent / source
    cc = _compiler()
    if cc is None or not path.exists():
        return None
    extra, signatures = _KERNELS[source]
    src = path.read_bytes()
    suffix = ".dll" if sys.platform == "win32" else ".so"
    for base in _FLAGS:
        flags = [base[0], *extra, *base[1:]]
        key = hashlib.sha256(src + " ".join([cc, *flags]).encode()).hexdigest()[:16]
        lib = _cache_dir() / f"{path.stem.lstrip('_')}_{key}{suffix}"
        if not lib.exists():
            try:
                lib.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(suffix=suffix, dir=lib.parent)
                os.close(fd)
                r = subprocess.run([cc, *flags, "-shared", "-fPIC", "-o", tmp, str(path),
                                    "-lm"], capture_output=True, timeout=120)
                if r.returncode != 0:
                    os.unlink(tmp)
                    continue
                os.replace(tmp, lib)
            except (OSError, subprocess.SubprocessError):
                continue
        try:
            dll = ctypes.CDLL(str(lib))
        except OSError:
            continue
        for name, (argtypes, restype) in signatures.items():
            fn = getattr(dll, name)
            fn.argtypes, fn.restype = argtypes, restype
        return dll
    return None


def available(source: str = GABOR) -> bool:
    return load(source) is not None


def usable(*tensors: torch.Tensor) -> bool:
    """The kernel handles contiguous float32 CPU tensors."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors) and \
        available()


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1),
                              thread_name_prefix="imfit-kernel")


def _run_each(run: Callable[[int], None], n: int) -> None:
    """run(0) ... run(n - 1), on the pool's threads when there is more than one (ctypes calls
    release the GIL)."""
    if n > 1:
        list(_pool().map(run, range(n)))
    else:
        run(0)


def _ranges(geom: torch.Tensor, parts: int) -> list[tuple[int, int]]:
    """Split wavelets into contiguous ranges of about equal work (window area in the view)."""
    n = len(geom)
    if parts <= 1 or n < 64:
        return [(0, n)]
    cost = (geom[:, 3] * geom[:, 4]).double().clamp(min=1e-12).cumsum(0)
    cuts = torch.searchsorted(cost, cost[-1] * torch.arange(1, parts, dtype=torch.float64)
                              / parts).tolist()
    bounds = [0, *sorted(set(min(max(int(c), 0), n) for c in cuts)), n]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


# set by `kernel_threads_only`: the kernel's thread count while torch itself runs on one
_kernel_threads: int | None = None
_threads_lock = threading.Lock()
_inside = 0  # blocks of kernel_threads_only open now (in any thread)
_saved: list[int] = []


def _threads() -> int:
    return max(1, _kernel_threads or torch.get_num_threads())


# The kernel's images are planar (3 planes of H*W floats) with PAD floats after the last plane:
# it walks row spans in whole 8-pixel blocks, whose lanes past a span add zeros or read zeros.
PAD = 16


def _planar(n_pixels: int) -> torch.Tensor:
    return torch.zeros(3 * n_pixels + PAD, dtype=torch.float32)


def forward(geom: torch.Tensor, coef: torch.Tensor, width: int, height: int, x0: float,
            y0: float, scale: float, radius: float) -> torch.Tensor:  # -> (H*W, 3)
    """The truncated sum; wavelet ranges run in parallel threads, each into its own buffer."""
    dll = load()
    assert dll is not None
    geom, coef = geom.contiguous(), coef.contiguous()
    ranges = _ranges(geom, _threads())
    hw = height * width
    outs = [_planar(hw) for _ in ranges]

    def run(k: int) -> None:
        a, b = ranges[k]
        dll.imfit_forward(b - a, geom.data_ptr() + a * 24, coef.data_ptr() + a * 24, width,
                          height, x0, y0, scale, radius, outs[k].data_ptr())

    _run_each(run, len(ranges))
    out = outs[0]
    for o in outs[1:]:
        out += o
    return out[:3 * hw].view(3, hw).t().contiguous()


def backward(geom: torch.Tensor, coef: torch.Tensor, grad_out: torch.Tensor, width: int,
             height: int, x0: float, y0: float, scale: float,
             radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Analytic gradients; disjoint wavelet ranges write disjoint rows, so threads never clash."""
    dll = load()
    assert dll is not None
    geom, coef = geom.contiguous(), coef.contiguous()
    hw = height * width
    go = _planar(hw)
    go[:3 * hw].view(3, hw).copy_(grad_out.reshape(hw, 3).t())
    ggeom = torch.empty_like(geom)
    gcoef = torch.empty_like(coef)
    ranges = _ranges(geom, _threads())

    def run(k: int) -> None:
        a, b = ranges[k]
        dll.imfit_backward(b - a, geom.data_ptr() + a * 24, coef.data_ptr() + a * 24, width,
                           height, x0, y0, scale, radius, go.data_ptr(),
                           ggeom.data_ptr() + a * 24, gcoef.data_ptr() + a * 24)

    _run_each(run, len(ranges))
    return ggeom, gcoef


def pm_step(src: torch.Tensor, dst: torch.Tensor, orig: torch.Tensor, dt: float, kappa: float,
            rational: bool, fidelity: float, threads: int = 1) -> None:
    """One Perona-Malik substep, src -> dst's interior; the buffers are padded (C, H+2, W+2)
    contiguous float32 CPU tensors (`TorchDiffusion`'s). Disjoint row ranges run in `threads`
    threads; every edge is computed by the same code whatever the split, so the result does not
    depend on the thread count."""
    dll = load(DIFFUSION)
    if dll is None:
        raise RuntimeError("pm_step needs the diffusion C kernel; check available(DIFFUSION)")
    c, hp, wp = src.shape
    h, w = hp - 2, wp - 2
    cuts = [h * k // max(1, threads) for k in range(max(1, threads) + 1)]
    ranges = [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    inv_k2 = 1.0 / kappa ** 2  # as the torch twin computes it
    codes = []

    def run(k: int) -> None:
        a, b = ranges[k]
        codes.append(dll.imfit_pm_rows(src.data_ptr(), dst.data_ptr(), orig.data_ptr(), c, h, w,
                                       a, b, dt, inv_k2, int(rational), fidelity))

    _run_each(run, len(ranges))
    if any(codes):
        raise MemoryError("the diffusion kernel could not allocate its row buffers")


@contextmanager
def kernel_threads_only() -> Any:
    """Inside the block the Gabor kernel keeps torch's thread count and torch runs on one.

    A fit step is one kernel call (the work, split over the threads here) and ~100 small
    elementwise ops (Adam, the loss, clamps on 4096 x 12 values): torch's second OpenMP
    thread buys nothing on those, and its barriers cost more than the ops (measured at 4096
    wavelets, 256 px, loaded 2-core box: 0.20-0.30 CPU s per step on two torch threads, 0.05 on
    one with the kernel still on two).
    torch's thread count is process-wide: while any block is open (fits in several threads at
    once), torch is on one thread everywhere; the last block to close restores it.
    """
    global _kernel_threads, _inside
    with _threads_lock:  # fits in several threads at once: the first saves, the last restores
        if _inside == 0:
            _kernel_threads = _threads()
            _saved.append(torch.get_num_threads())
            torch.set_num_threads(1)
        _inside += 1
    try:
        yield
    finally:
        with _threads_lock:
            _inside -= 1
            if _inside == 0:
                torch.set_num_threads(_saved.pop())
                _kernel_threads = None


@contextmanager
def single_thread() -> Any:
    """Run torch on one thread inside the block (restored after).

    The engines issue many small ops (bands of ~64k values, CG vectors): a second OpenMP
    thread buys little there, and on a busy machine its spin-waits made runs 10x slower.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
