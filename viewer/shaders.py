"""Assemble GLSL from the `.glsl` files in `viewer/glsl/` (the one source of truth).

No GL import here: exporters use this module to embed the same Gabor evaluation the viewer runs.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

GLSL_DIR = Path(__file__).parent / "glsl"
_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$', re.M)


@cache
def read(name: str) -> str:
    """The text of `viewer/glsl/<name>` with `#include "x.glsl"` lines expanded."""
    text = (GLSL_DIR / name).read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda m: read(m.group(1)).rstrip() + "\n", text)


def gabor_source() -> str:
    """The shared Gabor evaluation (`imfit_gabor`, `imfit_plane`)."""
    return read("gabor.glsl")


def assemble(name: str, version: str | None = "#version 330",
             defines: dict[str, str] | None = None) -> str:
    """`#version`, then `#define`s, then the file with its includes expanded."""
    head = [version] if version else []
    head += [f"#define {k} {v}" for k, v in (defines or {}).items()]
    return "\n".join(head) + ("\n" if head else "") + read(name)
