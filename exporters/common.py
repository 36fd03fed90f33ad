"""What every exporter shares: the conventions header, float formatting, the strongest-first cap,
templates, and the all-or-nothing multi-file write.

No GL here (moderngl/glfw): shader text comes from `viewer.shaders` and `exporters/templates/`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.formats.files import Transaction, check_output_folder, refuse_existing
from imfit.formats.gabor_json import f32_str
from imfit.model.gaborset import COLUMNS, GaborSet

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Options:
    """What `imfit export` passes to a target: the cap asked for and a target-specific variant."""

    max_n: int | None = None
    variant: str | None = None


@dataclass
class Export:
    """Files a target produced, in memory until `write_all` commits them together."""

    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def text(self, name: str, text: str) -> None:
        self.files[name] = text.encode("utf-8")


# -- conventions -------------------------------------------------------------------------------
def conventions(gs: GaborSet, plane_note: str = "") -> list[str]:
    """The lines every export states (origin, y direction, aspect, radians, bias)."""
    b = ", ".join(f32_str(v) for v in gs.bias)
    lines = [
        f"{len(gs)} Gabor wavelets fitted on a {gs.width}x{gs.height} image (aspect "
        f"{gs.aspect:.6g}).",
        "Plane: origin at the image centre, x right, y DOWN (image rows); the fitted image spans "
        f"y in [-1, 1] and x in [-{gs.aspect:.6g}, {gs.aspect:.6g}]: one unit is half the image "
        "height.",
        "GL targets have y UP with the origin bottom-left: imfit_plane() flips it.",
        "Angles (theta, phases) in radians; theta from +x towards +y.",
        f"Pixel = clamp(bias + sum of wavelets, 0, 1) with bias = ({b}): the model has no DC "
        "term, the bias is the grey level everything adds to.",
        "Per wavelet, 12 floats = 3 vec4: w0 = (x, y, theta, sigma), "
        "w1 = (gamma, wavelength, phase_r, phase_g), w2 = (phase_b, amp_r, amp_g, amp_b).",
    ]
    if plane_note:
        lines.append(plane_note)
    return lines


def comment_block(lines: list[str], prefix: str = "// ") -> str:
    return "".join(f"{prefix}{ln}".rstrip() + "\n" for ln in lines)


# -- numbers -----------------------------------------------------------------------------------
def glsl_float(v: float | np.floating[Any]) -> str:
    """A GLSL float literal that reads back to the same float32 (shortest such decimal)."""
    s = f32_str(v)
    if "e" in s:
        mant, exp = s.split("e")
        return (mant if "." in mant else mant + ".0") + "e" + exp
    return s if "." in s else s + ".0"


def vec4_rows(gs: GaborSet) -> list[list[str]]:
    """Per wavelet, its three vec4 constructors as GLSL text."""
    out = []
    for row in gs.params:
        out.append([f"vec4({', '.join(glsl_float(v) for v in row[4 * k:4 * k + 4])})"
                    for k in range(3)])
    return out


def bias_vec3(gs: GaborSet) -> str:
    return f"vec3({', '.join(glsl_float(b) for b in gs.bias)})"


# -- caps ---------------------------------------------------------------------------------------
def capped(gs: GaborSet, target: str, opts: Options, default_max: int | None,
           hard_max: int | None, why: str, instead: str) -> tuple[GaborSet, list[str]]:
    """The set a target embeds: refuse empty sets and asks beyond `hard_max`; keep the strongest
    `default_max` (or `--max`) wavelets, strongest first, and say so."""
    if len(gs) == 0:
        raise ImfitError("the fit has no wavelets; nothing to export")
    if opts.max_n is not None and opts.max_n < 1:
        raise ImfitError(f"--max must be at least 1, got {opts.max_n}")
    limit = opts.max_n if opts.max_n is not None else default_max
    if hard_max is not None and limit is not None and limit > hard_max:
        raise ImfitError(f"{target} holds at most {hard_max} wavelets ({why}); use --max "
                         f"{hard_max} or {instead}")
    notes = []
    if limit is not None and len(gs) > limit:
        order = gs.order_by_energy()[:limit]
        notes.append(f"{target}: kept the {limit} strongest of {len(gs)} wavelets "
                     f"({why}; --max changes it)")
        gs = gs[np.sort(order)]
    return gs, notes


def nonempty(gs: GaborSet) -> GaborSet:
    if len(gs) == 0:
        raise ImfitError("the fit has no wavelets; nothing to export")
    return gs


# -- templates ----------------------------------------------------------------------------------
def template(name: str, **values: Any) -> str:
    """`exporters/templates/<name>` with `${key}` placeholders filled (all must be given)."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    try:
        return string.Template(text).substitute({k: str(v) for k, v in values.items()})
    except KeyError as e:  # pragma: no cover - a programming error, caught by the tests
        raise RuntimeError(f"template {name}: no value for {e}") from None


def readme(gs: GaborSet, target: str, files: dict[str, str], how: list[str]) -> str:
    """README-<target>.txt: what each file is, how to load it, the conventions."""
    lines = [f"imfit export --to {target}", ""]
    lines += [f"{name}: {what}" for name, what in files.items()]
    lines += ["", "How to load:"] + [f"  {h}" for h in how] + ["", "Conventions:"]
    lines += [f"  {c}" for c in conventions(gs)]
    lines += ["", "Columns: " + " ".join(COLUMNS), ""]
    return "\n".join(lines)


# -- all-or-nothing writes --------------------------------------------------------------------
def write_all(files: dict[str, bytes], out_dir: Path, force: bool = False) -> list[Path]:
    """Write every file into `out_dir` or none of them (one `imfit.formats.files.Transaction`).

    Every file is written to a temp file first; only when all are written are they put in
    place, and a rename that fails then (a name that is a folder, a full directory) takes back
    the ones already renamed. So an unwritable folder, a full disk or Ctrl-C leaves the user's
    files as they were. Existing files are refused before anything is written unless `force`.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ImfitError(f"{out_dir} is a file; -o names a folder for the exported files")
    targets = [out_dir / name for name in files]
    for p in targets:
        if p.is_dir():
            raise ImfitError(f"{p} is a directory, expected a file path; nothing was written")
    refuse_existing(targets, force)
    # the folder itself is made if missing, not a chain of them (a typo in -o stays visible)
    check_output_folder(out_dir if out_dir.exists() else out_dir.parent, create=False)
    with Transaction(overwrite=force) as tx:
        tx.make_folder(out_dir)
        try:
            for p, data in zip(targets, files.values(), strict=True):
                tx.add_bytes(p, data)
        except ImfitError as e:
            raise ImfitError(f"{e}; nothing was written" if "nothing was" not in str(e)
                             else str(e)) from None
        tx.commit()
    return targets


@dataclass(frozen=True)
class Target:
    """One export target: its name on the command line, what it is for, what it writes."""

    name: str
    description: str
    files: tuple[str, ...]  # file names, `{stem}` replaced by the fit's name
    build: Any  # (gs, stem, Options) -> Export
    variants: tuple[str, ...] = ()
