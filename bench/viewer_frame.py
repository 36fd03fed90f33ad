"""Frame time of the real viewer window under Xvfb: 1080p against 960x540 in the same run.

    .venv/bin/python bench/viewer_frame.py [--wavelets 256] [--frames 120]

Fits the astronaut (128 px, N wavelets) once, starts a private Xvfb 1920x1080, then runs
`imfit view FIT --size WxH --test-frames N` (swap interval 0, billboard strategy) at each size
and prints the median frame time the window reports (draw + read-free swap), and the ratio;
then the same at 1080p as stage output (`--fullscreen` on the 1920x1080 screen).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wavelets", type=int, default=256)
    ap.add_argument("--frames", type=int, default=120)
    args = ap.parse_args()
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit("Xvfb is not installed")
    tmp = Path(tempfile.mkdtemp())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    imfit = [sys.executable, "-c", "import cli; cli.main()"]
    subprocess.run([*imfit, "fit", str(ROOT / "assets" / "astronaut.png"), "-o", str(tmp),
                    "--size", "128", "--num-gabors", str(args.wavelets), "--iterations", "60",
                    "--rescales", "1"], check=True, env=env, capture_output=True)
    fit = tmp / "astronaut.gabor.json"
    num = next(n for n in range(400, 600) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen([xvfb, f":{num}", "-screen", "0", "1920x1080x24", "-nolisten",
                               "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not Path(f"/tmp/.X11-unix/X{num}").exists():
            time.sleep(0.05)
        env["DISPLAY"] = f":{num}"
        ms = {}
        for size, extra in (("960x540", []), ("1920x1080", []),
                            ("fullscreen", ["--fullscreen"])):
            r = subprocess.run([*imfit, "view", str(fit), "--size",
                                "960x540" if extra else size, "--test-frames", str(args.frames),
                                *extra], env=env, capture_output=True, text=True, cwd=tmp,
                               check=True)
            ms[size] = float(re.search(r"median ([0-9.]+) ms", r.stdout).group(1))
            print(f"{size:>10}: median frame time {ms[size]:.2f} ms "
                  f"({1000 / ms[size]:.1f} fps), {args.wavelets} wavelets, {args.frames} frames")
        print(f"1080p / 540p: {ms['1920x1080'] / ms['960x540']:.2f}x (4x the pixels); "
              f"fullscreen 1080p / windowed 1080p: {ms['fullscreen'] / ms['1920x1080']:.2f}x; "
              f"load average {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
