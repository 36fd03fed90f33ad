"""How long glslangValidator takes to compile the exports that embed their data (ISF unrolled,
Shadertoy const array) against the data-texture glsl export (constant size), per N.

    .venv/bin/python bench/export_compile.py [--sizes 64,256,512,1024]

The baseline runs in the same process; ratios are export / baseline. It justifies the caps in
exporters/isf.py and exporters/shadertoy.py (hosts compile through similar front ends).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import shader_hosts as H  # noqa: E402
from conftest import random_params  # noqa: E402

import exporters  # noqa: E402
import imfit  # noqa: E402


def compile_seconds(src: str, stage: str = "frag", repeat: int = 3,
                    flags: tuple[str, ...] = ()) -> float:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"s.{stage}"
        p.write_text(src)
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = subprocess.run([H.GLSLANG, "-S", stage, *flags, str(p)], capture_output=True,
                               text=True)
            best = min(best, time.perf_counter() - t0)
            if r.returncode:
                raise SystemExit(r.stdout + r.stderr)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,256,512,1024")
    a = ap.parse_args()
    print(f"{'N':>6} {'texture (s)':>12} {'isf (s)':>9} {'x':>6} {'shadertoy (s)':>14} {'x':>6}"
          f" {'isf SPIR-V (s)':>15} {'shadertoy SPIR-V (s)':>21}")
    for n in (int(v) for v in a.sizes.split(",")):
        gs = imfit.GaborSet(random_params(n, seed=n), 256, 256)
        base = compile_seconds(exporters.build(gs, "glsl").files["fit.texture.frag"].decode())
        isf = exporters.build(gs, "isf", max_n=n).files["fit.fs"].decode()
        t_isf = compile_seconds(H.isf_shim(isf, es=True))
        st = exporters.build(gs, "shadertoy", max_n=n).files["fit.shadertoy.glsl"].decode()
        t_st = compile_seconds(H.shadertoy_shim(st, es=True))
        # hosts that compile through SPIR-V (TouchDesigner, VDMX 6): the same bodies as GLSL 4.50
        spv = ("-V", "-R", "--aml", "--amb", "-o", "/dev/null")
        v_isf = compile_seconds(H.isf_shim(isf, es=False).replace("#version 330", "#version 450",
                                                                 1), flags=spv, repeat=1)
        v_st = compile_seconds(H.shadertoy_shim(st, es=False).replace("#version 330",
                                                                     "#version 450", 1),
                               flags=spv, repeat=1)
        print(f"{n:>6} {base:>12.3f} {t_isf:>9.3f} {t_isf / base:>6.1f} {t_st:>14.3f} "
              f"{t_st / base:>6.1f} {v_isf:>15.3f} {v_st:>21.3f}")


if __name__ == "__main__":
    main()
