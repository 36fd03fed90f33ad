"""`json`: the canonical `.gabor.json` (the same dialect `imfit fit` writes), for any tool."""

from __future__ import annotations

from exporters.common import Export, Options, Target, capped
from imfit.formats.gabor_json import to_json_text
from imfit.model.gaborset import GaborSet


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "json", opts, None, None, "", "")
    ex = Export(notes=notes)
    # the conventions travel inside the file ("conventions" object), so no README is needed
    ex.text(f"{stem}.gabor.json", to_json_text(gs))
    return ex


TARGET = Target("json", "the canonical .gabor.json (conventions inside)", ("{stem}.gabor.json",),
                build)
