#!/usr/bin/env python3
"""Plant known bugs in a copy of the tree, one at a time, and report which the tests catch.

Why: a suite that passes is only worth something if it fails when the code is wrong. Each entry
of MUTANTS (in tools/mutants_table.py) is one plausible bug: an exact source snippet, what
replaces it, what the bug means to a user, and the fast subset of tests that should catch it.
For each mutant this script copies the tree once per worker into a temp folder (the user's tree
is never touched), swaps the snippet, runs `pytest -x -q` on that subset with a timeout and
calls the mutant KILLED when the tests fail and SURVIVED when they pass.

Files are found by searching for the snippet across the tree (library code, GLSL, C, templates;
not tests/ or tools/), so a mutant survives the package moves; a snippet that is missing or
found more than once stops the run with the mutant's name, so the table keeps up with
refactors instead of silently testing nothing.

    python tools/mutants.py                 # all mutants, 2 workers
    python tools/mutants.py -k zoom -k gamma  # names containing either word
    python tools/mutants.py --check         # only resolve every snippet (fast)
    python tools/mutants.py --list
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from mutants_table import MUTANTS, Mutant  # noqa: E402

# What is searched for snippets: everything a user's run executes.
SEARCH_SUFFIXES = (".py", ".glsl", ".frag", ".vert", ".c", ".fs", ".jxs", ".html", ".osl",
                   ".in", ".json", ".toml")
SKIP_DIRS = {".git", ".venv", ".venv-blender", "out", "tests", "tools", "docs", "bench",
             "__pycache__", ".pytest_cache", "node_modules", ".ruff_cache", "build"}
# Not copied into the work trees: the venv is used from the real tree (it is big and tied to
# its path), and caches/outputs are irrelevant.
COPY_SKIP = {".git", ".venv", ".venv-blender", "out", "__pycache__", ".pytest_cache",
             ".ruff_cache", "node_modules", "*.egg-info"}


class TableError(Exception):
    """A mutant whose snippet does not pin down exactly one place in the tree."""


def source_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for f in filenames:
            if f.endswith(SEARCH_SUFFIXES):
                out.append(Path(dirpath) / f)
    return sorted(out)


def resolve(m: Mutant, files: list[Path], cache: dict[Path, str]) -> Path:
    """The one file (relative to ROOT) holding m.snippet exactly once; TableError otherwise."""
    hits: list[tuple[Path, int]] = []
    for f in files:
        if m.path_hint and not any(h in str(f.relative_to(ROOT)) for h in m.path_hint):
            continue
        if f not in cache:
            try:
                cache[f] = f.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                cache[f] = ""
        n = cache[f].count(m.snippet)
        if n:
            hits.append((f, n))
    if not hits:
        raise TableError(f"mutant {m.name!r}: snippet not found anywhere in the tree "
                         f"(refactored? update tools/mutants_table.py):\n  {m.snippet!r}")
    if len(hits) > 1 or hits[0][1] > 1:
        where = ", ".join(f"{f.relative_to(ROOT)} x{n}" for f, n in hits)
        raise TableError(f"mutant {m.name!r}: snippet is not unique ({where}); give more "
                         f"context:\n  {m.snippet!r}")
    for t in m.tests:
        if not (ROOT / t.split("::")[0]).is_file():
            raise TableError(f"mutant {m.name!r}: test file {t} does not exist")
    return hits[0][0].relative_to(ROOT)


def copy_tree(dst: Path) -> None:
    shutil.copytree(ROOT, dst, symlinks=True, ignore=shutil.ignore_patterns(*COPY_SKIP))
    # the real hosts' npm packages (hundreds of files) are linked, not copied: tests read them
    for modules in ROOT.glob("tests/**/node_modules"):
        if modules.is_dir() and not (dst / modules.relative_to(ROOT)).exists():
            (dst / modules.relative_to(ROOT)).symlink_to(modules, target_is_directory=True)
    # so is Blender's bpy venv (1 GB): tests/test_blender.py finds it beside the copy's tests
    bpy_venv = ROOT / ".venv-blender"
    if bpy_venv.is_dir() and not (dst / ".venv-blender").exists():
        (dst / ".venv-blender").symlink_to(bpy_venv, target_is_directory=True)


@dataclass
class Outcome:
    mutant: Mutant
    path: Path
    status: str  # killed / survived / timeout / error
    seconds: float
    detail: str


def pytest_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    # the copy's packages win over the editable install of the real tree, in subprocesses too
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # a test whose host (GL, Xvfb, Chromium, node) is missing fails instead of skipping, so a
    # mutant is never "survived" because its only test quietly did not run
    env["CI"] = "true"
    # and the real-bpy tests (deselected in `make test`) run when a mutant names them
    env["IMFIT_TEST_BLENDER"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run_tests(tree: Path, tests: tuple[str, ...], timeout: float, python: str
              ) -> tuple[int | None, str, float]:
    cmd = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header",
           "-W", "ignore::pytest.PytestUnraisableExceptionWarning", *tests]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=tree, env=pytest_env(tree), capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        return None, out, time.monotonic() - t0
    return r.returncode, r.stdout + r.stderr, time.monotonic() - t0


def first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0][:120]
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    return lines[-1][:120] if lines else ""


def check_copy_is_used(tree: Path, python: str) -> None:
    """Refuse to run if the copy's `imfit` is not the one imported (results would be void)."""
    r = subprocess.run([python, "-c", "import imfit, viewer, exporters, cli; "
                        "print(imfit.__file__, viewer.__file__, exporters.__file__, "
                        "cli.__file__)"], cwd=tree, env=pytest_env(tree),
                       capture_output=True, text=True, timeout=120)
    paths = r.stdout.split()
    if r.returncode != 0 or len(paths) != 4 or not all(
            Path(p).resolve().is_relative_to(tree.resolve()) for p in paths):
        raise SystemExit(f"the work copy is not what Python imports ({r.stdout.strip()} "
                         f"{r.stderr.strip()[-300:]}); refusing to report void results")


def worker(jobs: queue.Queue, results: list[Outcome], tree: Path, timeout: float,
           python: str, lock: threading.Lock, verbose: bool) -> None:
    while True:
        try:
            m, rel = jobs.get_nowait()
        except queue.Empty:
            return
        f = tree / rel
        original = f.read_text(encoding="utf-8")
        assert original.count(m.snippet) == 1, (m.name, rel)
        f.write_text(original.replace(m.snippet, m.replacement), encoding="utf-8")
        try:
            rc, out, secs = run_tests(tree, m.tests, timeout, python)
        finally:
            f.write_text(original, encoding="utf-8")
        if rc is None:
            status, detail = "timeout", f"no verdict within {timeout:g} s (counts as killed)"
        elif rc == 0:
            status, detail = "survived", "all selected tests passed"
        elif rc == 1:
            status, detail = "killed", first_failure(out)
        elif rc == 5:
            status, detail = "error", "no tests collected: fix the mutant's test list"
        else:
            status, detail = "killed", f"pytest exit {rc}: " + first_failure(out)
        o = Outcome(m, rel, status, secs, detail)
        with lock:
            results.append(o)
            mark = {"killed": "KILLED", "survived": "SURVIVED", "timeout": "KILLED*",
                    "error": "ERROR"}[status]
            print(f"{mark:9s} {m.name:32s} {secs:6.1f}s  {detail}", flush=True)
            if verbose and status == "survived":
                print(out[-2000:], flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", action="append", default=[], help="only mutants whose name has this")
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("MUTANTS_JOBS", 2)))
    ap.add_argument("--timeout", type=float, default=420.0, help="seconds per mutant")
    ap.add_argument("--check", action="store_true", help="only resolve the snippets")
    ap.add_argument("--list", action="store_true", help="print the table and exit")
    ap.add_argument("--baseline", action="store_true",
                    help="first run every selected test set on the unmutated copy")
    ap.add_argument("--report", type=Path, help="also write the kill table (markdown) here")
    ap.add_argument("-v", "--verbose", action="store_true", help="show survivors' output")
    a = ap.parse_args(argv)
    python = os.environ.get("MUTANTS_PYTHON") or sys.executable

    names = [m.name for m in MUTANTS]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SystemExit(f"duplicate mutant names: {', '.join(sorted(dup))}")
    chosen = [m for m in MUTANTS if not a.k or any(k in m.name for k in a.k)]
    files = source_files(ROOT)
    cache: dict[Path, str] = {}
    try:
        resolved = [(m, resolve(m, files, cache)) for m in chosen]
    except TableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.list or a.check:
        for m, rel in resolved:
            print(f"{m.name:32s} {str(rel):38s} {m.meaning}")
        print(f"{len(resolved)} mutants, every snippet found exactly once")
        return 0

    t0 = time.monotonic()
    jobs_n = max(1, min(a.jobs, len(resolved)))
    with tempfile.TemporaryDirectory(prefix="imfit-mutants-") as tmp:
        trees = []
        for i in range(jobs_n):
            tree = Path(tmp) / f"tree{i}"
            copy_tree(tree)
            trees.append(tree)
        check_copy_is_used(trees[0], python)
        if a.baseline:
            tests = tuple(sorted({t for m, _ in resolved for t in m.tests}))
            rc, out, secs = run_tests(trees[0], tests, a.timeout * 4, python)
            print(f"baseline: {len(tests)} test selections, exit {rc}, {secs:.0f} s")
            if rc != 0:
                print(out[-3000:])
                print("error: the unmutated tree fails its own tests; nothing to judge")
                return 2
        q: queue.Queue = queue.Queue()
        for item in resolved:
            q.put(item)
        results: list[Outcome] = []
        lock = threading.Lock()
        threads = [threading.Thread(target=worker, args=(q, results, t, a.timeout, python,
                                                         lock, a.verbose))
                   for t in trees]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    wall = time.monotonic() - t0
    order = {m.name: i for i, m in enumerate(MUTANTS)}
    results.sort(key=lambda o: order[o.mutant.name])
    killed = sum(o.status in ("killed", "timeout") for o in results)
    survived = [o for o in results if o.status == "survived"]
    errors = [o for o in results if o.status == "error"]
    table = ["| mutant | file | what it means | result | s |", "|---|---|---|---|---|"]
    for o in results:
        table.append(f"| {o.mutant.name} | {o.path} | {o.mutant.meaning} | {o.status} | "
                     f"{o.seconds:.0f} |")
    summary = (f"{killed}/{len(results)} killed, {len(survived)} survived, {len(errors)} "
               f"errors, {wall:.0f} s wall with {jobs_n} workers")
    print()
    print("\n".join(table))
    print()
    print(summary)
    for o in survived:
        print(f"SURVIVED: {o.mutant.name} ({o.path}): {o.mutant.meaning}")
    if a.report:
        a.report.parent.mkdir(parents=True, exist_ok=True)
        a.report.write_text("\n".join(table) + "\n\n" + summary + "\n", encoding="utf-8")
    return 1 if survived or errors else 0


if __name__ == "__main__":
    sys.exit(main())
