"""`web`: one self-contained `index.html` (WebGL2) that shows the fit, pans, zooms and animates.

The wavelets travel as base64 float32 inside the page and become an RGBA32F data texture laid
out for the GPU it runs on (3 texels per wavelet, as many per row as `MAX_TEXTURE_SIZE` allows,
rows wrapping: `viewer/glsl/wavelet_texture.glsl`), read with `texelFetch` so no float-filtering
extension is needed. The fragment shader pastes `viewer/glsl/gabor.glsl`. Any N works; the
per-pixel loop costs W x H x N per frame, so the page draws only when something changes and big
fits animate slowly on weak GPUs (`--max` keeps the strongest).
"""

from __future__ import annotations

import base64
import json

from exporters.common import Export, Options, Target, capped, conventions, template
from imfit.model.gaborset import GaborSet
from viewer.shaders import gabor_source, read


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "web", opts, None, None, "", "")
    fit = {"count": len(gs), "width": gs.width, "height": gs.height,
           "bias": [float(b) for b in gs.bias]}
    data = base64.b64encode(gs.params.astype("<f4").tobytes()).decode("ascii")
    header = "\n".join(conventions(gs)).replace("--", "- -")  # "--" may not occur in comments
    text = template("web.html", title=stem, header=header, gabor=gabor_source().rstrip(),
                    fetch=read("wavelet_texture.glsl").rstrip(), data=data,
                    fit=json.dumps(fit))
    ex = Export(notes=notes)
    ex.text("index.html", text)
    return ex


TARGET = Target("web", "one self-contained index.html (WebGL2, data texture, drag/zoom/drift)",
                ("index.html",), build)
