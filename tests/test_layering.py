"""The layering rule, checked in a fresh interpreter: imfit/ never imports GL, windowing or CLI
code; exporters/ never imports GL."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imported(modules: list[str]) -> set[str]:
    code = ("import importlib, pkgutil, sys\n"
            f"for m in {modules!r}:\n"
            "    pkg = importlib.import_module(m)\n"
            "    for info in pkgutil.walk_packages(getattr(pkg, '__path__', []), m + '.'):\n"
            "        importlib.import_module(info.name)\n"
            "print(' '.join(sorted(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_imfit_never_imports_gl_glfw_or_click():
    mods = _imported(["imfit"])
    assert not {m for m in mods if m.split(".")[0] in {"moderngl", "glfw", "click"}}


def test_exporters_never_import_gl():
    mods = _imported(["exporters"])
    assert not {m for m in mods if m.split(".")[0] in {"moderngl", "glfw"}}
