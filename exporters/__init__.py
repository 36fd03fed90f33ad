"""One module per export target, and the registry `imfit export` reads.

No GL imports here (moderngl/glfw): shader text comes from `viewer.shaders` (the one
`gabor.glsl`) plus the small wrappers in `exporters/templates/`.

    export(gs, "isf", "out/")  -> the files written (all or none)
    read("x.tsv")              -> GaborSet (json, tsv, coll, torch-imfit txt, jxf, csv, npz)
"""

from __future__ import annotations

import os
from pathlib import Path

from exporters import (
    blender,
    canonical,
    glsl,
    isf,
    maxmsp,
    shadertoy,
    tables,
    torchimfit,
    touchdesigner,
    web,
)
from exporters.common import Export, Options, Target, write_all
from imfit.errors import ImfitError
from imfit.formats.readers import read
from imfit.model.gaborset import GaborSet

__all__ = ["TARGETS", "Export", "Options", "Target", "build", "describe_targets", "export",
           "export_file", "read", "stem_of"]

TARGETS: dict[str, Target] = {t.name: t for t in (
    canonical.TARGET,
    glsl.TARGET,
    touchdesigner.TARGET,
    maxmsp.TARGET,
    isf.TARGET,
    shadertoy.TARGET,
    blender.TARGET,
    web.TARGET,
    tables.CSV,
    tables.NPZ,
    torchimfit.TARGET,
)}


def stem_of(path: str | os.PathLike[str]) -> str:
    """`out/astronaut.gabor.json` -> `astronaut` (the name every exported file starts with)."""
    name = Path(path).name
    for suffix in (".gabor.json", ".json", ".txt"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "fit"
    return Path(name).stem or "fit"


def build(gs: GaborSet, target: str, stem: str = "fit", max_n: int | None = None,
          variant: str | None = None) -> Export:
    """The files for `target`, in memory (name -> bytes), plus notes for the user."""
    t = TARGETS.get(target)
    if t is None:
        raise ImfitError(f"unknown export target {target!r}; `imfit export --list` shows "
                         f"{', '.join(TARGETS)}")
    if variant is not None and variant not in t.variants:
        have = f"one of {', '.join(t.variants)}" if t.variants else "none"
        raise ImfitError(f"{target} has no variant {variant!r} (it has {have})")
    return t.build(gs, stem, Options(max_n=max_n, variant=variant))


def export(gs: GaborSet, target: str, out_dir: str | os.PathLike[str], stem: str = "fit",
           max_n: int | None = None, variant: str | None = None,
           force: bool = False) -> tuple[list[Path], list[str]]:
    """Build and write a target's files into `out_dir` (all or none); returns (paths, notes)."""
    ex = build(gs, target, stem, max_n, variant)
    return write_all(ex.files, Path(out_dir), force), ex.notes


def export_file(fit_path: str | os.PathLike[str], target: str, out_dir: str | os.PathLike[str],
                max_n: int | None = None, variant: str | None = None,
                force: bool = False) -> tuple[list[Path], list[str]]:
    """`imfit export`: read any wavelet file and write `target`'s files into `out_dir`, named
    after the fit (`astronaut.gabor.json` -> `astronaut.*`), all or none; (paths, notes)."""
    return export(read(fit_path), target, out_dir, stem=stem_of(fit_path), max_n=max_n,
                  variant=variant, force=force)


def describe_targets() -> list[str]:
    """`imfit export --list`: per target, its name and description, then the files it writes."""
    out = []
    for t in TARGETS.values():
        out += [f"{t.name:14} {t.description}", f"{'':14} writes: {', '.join(t.files)}"]
    return out
