"""The layering rules of DESIGN.md, checked two ways.

Statically: every import statement in every module (those inside functions too, which a
fresh-interpreter check never executes) is held to the table below, so a lazy `import torch` in
imfit/model or a `from viewer import ...` in imfit/ fails here. Dynamically: importing all of
imfit (or exporters) in a fresh interpreter loads no GL, window or CLI module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# imfit's parts -> the other parts of imfit each may import (DESIGN.md's table)
MAY_IMPORT = {
    "model": {"errors"},
    "formats": {"errors", "model"},
    "renderers": {"errors", "model", "native"},
    "native": set(),
    "fitting": {"errors", "model", "formats", "renderers", "metrics", "native"},
    "edit": {"errors", "model", "formats"},
    "diffusion": {"errors", "model", "formats", "renderers", "native", "metrics"},
    "poisson": {"errors", "formats", "native"},
    "metrics": set(),
    "errors": set(),
    "validate": {"errors"},
    "device": {"errors"},
    "live": {"errors", "model", "edit", "formats", "diffusion", "metrics"},
}
# the shared validators (sizes, frame counts, numbers) and the one device resolver serve all
for _part in MAY_IMPORT:
    if _part not in ("errors", "validate", "device"):
        MAY_IMPORT[_part] |= {"validate", "device"}
# third-party packages a part must never import (torch: the part must load without it)
NEVER = {
    "model": {"torch", "scipy"},
    "formats": {"torch", "scipy"},
    "edit": {"torch"},
    "metrics": {"torch"},
}
GUI_OR_CLI = {"moderngl", "glfw", "click", "viewer", "exporters", "cli"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in the file; `from imfit import x` gives imfit.x."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "imfit":
                out += [(node.lineno, f"imfit.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
    return out


def _part(path: Path) -> str:
    rel = path.relative_to(ROOT / "imfit").parts
    return rel[0] if len(rel) > 1 else path.stem


def _violations() -> list[str]:
    bad = []
    for path in sorted((ROOT / "imfit").rglob("*.py")):
        part = _part(path)
        if part in ("__init__", "api", "jobs"):  # the API and the file jobs call every part
            allowed = set(MAY_IMPORT)
        else:
            allowed = MAY_IMPORT[part] | {part}
        for line, mod in _imports(path):
            top, *rest = mod.split(".")
            where = f"{path.relative_to(ROOT)}:{line} imports {mod}"
            if top in GUI_OR_CLI:
                bad.append(f"{where} (imfit/ never imports GL, windows, CLI or exporters)")
            elif top in NEVER.get(part, ()):
                bad.append(f"{where} (imfit/{part} must work without {top})")
            elif top == "imfit" and part not in ("__init__", "api", "jobs"):
                if not rest or rest[0] == "api":
                    bad.append(f"{where} (a part imports the part it needs, not the API)")
                elif rest[0] not in allowed:
                    bad.append(f"{where} (imfit/{part} may import {sorted(allowed)})")
    for pkg, never in (("viewer", {"click", "cli", "exporters"}),
                       ("exporters", {"moderngl", "glfw", "click", "cli"})):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for line, mod in _imports(path):
                top = mod.split(".")[0]
                if top in never or (pkg == "exporters" and mod.startswith("viewer")
                                    and mod != "viewer.shaders"):
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    return bad


def test_every_import_statement_keeps_the_layers():
    assert _violations() == []


def test_the_static_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    """Plant a lazy GL import in a copy of a part and watch the checker name it."""
    fake_root = tmp_path / "tree"
    (fake_root / "imfit" / "model").mkdir(parents=True)
    (fake_root / "viewer").mkdir()
    (fake_root / "exporters").mkdir()
    (fake_root / "imfit" / "model" / "x.py").write_text(
        "def f():\n    import moderngl\n    from imfit.fitting import fitter\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    found = _violations()
    assert len(found) == 2 and "moderngl" in found[0] and "fitting" in found[1]


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


@pytest.mark.parametrize("part", ["imfit.model", "imfit.formats.gabor_json",
                                  "imfit.formats.readers", "imfit.edit", "imfit.edit.syntax"])
def test_light_parts_load_without_torch(part):
    code = f"import sys, {part}; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


# -- cli.py is thin: parse, call one library function, report ------------------------------------
# modules that do math or pixels: the CLI reaches them only through library functions
CLI_NEVER = {"torch", "numpy", "PIL", "scipy", "math", "cmath", "statistics", "imageio", "tqdm",
             "moderngl", "glfw"}
# statements per command body (nested ones counted, the docstring not). Today's commands take
# at most 18 (fit and view: a display check first, then one of two library calls); most take 2.
# The bound leaves room for an option or two passed through, not for a job wired in place.
MAX_COMMAND_STATEMENTS = 25


def _is_command(fn: ast.FunctionDef) -> bool:
    """Decorated with `@main.command(...)` (or `@<group>.command`): a click command."""
    for d in fn.decorator_list:
        call = d.func if isinstance(d, ast.Call) else d
        if isinstance(call, ast.Attribute) and call.attr == "command":
            return True
    return False


def _statements(fn: ast.FunctionDef) -> int:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring is the --help, not work
    return sum(isinstance(n, ast.stmt) for stmt in body for n in ast.walk(stmt))


def _fat_cli(path: Path) -> list[str]:
    """Every heavy import in `path` (module level or inside a function) and every command whose
    body has more than MAX_COMMAND_STATEMENTS statements."""
    tree = ast.parse(path.read_text(), str(path))
    bad = [f"{path.name}:{line} imports {mod} (the CLI calls a library function instead)"
           for line, mod in _imports(path) if mod.split(".")[0] in CLI_NEVER]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and _is_command(node):
            n = _statements(node)
            if n > MAX_COMMAND_STATEMENTS:
                bad.append(f"{path.name}:{node.lineno} command {node.name} has {n} statements "
                           f"(at most {MAX_COMMAND_STATEMENTS}: move the work into the library)")
    return bad


def test_cli_commands_parse_call_one_function_and_report():
    assert _fat_cli(ROOT / "cli.py") == []


def test_the_thinness_check_catches_a_fat_command(tmp_path):
    """A planted command that does its own math (a lazy numpy import, a loop over pixels)
    fails the check twice; the same command made thin passes."""
    loop = "\n".join(f"    total += {i}" for i in range(MAX_COMMAND_STATEMENTS))
    fat = tmp_path / "cli.py"
    fat.write_text(
        "import click\n\n@click.group()\ndef main():\n    pass\n\n"
        "@main.command()\n@click.option('--n', type=int)\ndef fat(n):\n"
        "    \"\"\"Help text.\"\"\"\n    import numpy as np\n    total = 0\n" + loop + "\n"
        "    click.echo(np.sqrt(total))\n\n"
        "@main.command('thin')\ndef thin():\n    \"\"\"Help text.\"\"\"\n"
        "    from imfit.jobs import edit_file\n    click.echo(edit_file('a', ['x'], 'b'))\n")
    found = _fat_cli(fat)
    assert len(found) == 2, found
    assert "imports numpy" in found[0] and "command fat has" in found[1]
