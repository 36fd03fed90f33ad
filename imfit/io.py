"""Files: the versioned `.gabor.json` pipe, torch-imfit's weights `.txt`, and atomic writes.

Every writer goes through `Transaction` (one file: `atomic_write`): temp files in the target's
folder, fsync, then all put in place together with Ctrl-C held back, so a failed or interrupted
command never leaves a half-written file, or half a set of files, where good ones used to be.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from imfit.errors import ImfitError
from imfit.gaborset import COL, COLUMNS, NCOL, GaborSet

FORMAT = "imfit.gabor"
VERSION = 1

CONVENTIONS: dict[str, str] = {
    "origin": "image centre",
    "x": "right; the fitted image spans x in [-width/height, width/height]",
    "y": "down (image rows); the fitted image spans y in [-1, 1]",
    "unit": "half the fitted image height (x, y, sigma, gamma, wavelength)",
    "angles": "radians; theta from +x towards +y",
    "sigma": "Gaussian std along the wave direction (u)",
    "gamma": "Gaussian std across the wave direction (v)",
    "pixel": "clamp(bias + sum amp*exp(-u^2/(2 sigma^2) - v^2/(2 gamma^2))"
    "*cos(2 pi u / wavelength + phase), 0, 1); u = dx cos theta + dy sin theta, "
    "v = -dx sin theta + dy cos theta",
    "colour": "linear 0..1 RGB values of the source file (no gamma conversion)",
}


# -- atomic writes ---------------------------------------------------------------------------
# Every file imfit writes goes through `Transaction` (one file: `atomic_write`). A file is first
# written to a temp file beside its target and fsynced; only then is it put in place, all files of
# a transaction together, so a full disk, a read-only folder or Ctrl-C leaves the user's files
# either as they were or complete, never half-written and never a half set.
TEMP_RE = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.(part|old)")  # our temp names (a killed run's)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a command after `written` frames (or files) were saved; `message` says
    what was kept and where, for the CLI's one line."""

    def __init__(self, written: int, message: str = "") -> None:
        super().__init__(written)
        self.written = written
        self.message = message


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def refuse_existing(paths: list[Path], force: bool) -> None:
    """The one "exists; pass --force" check: before the work, and again (race-free) when files
    are put in place."""
    if force:
        return
    clash = [p for p in paths if os.path.lexists(p)]
    if clash:
        more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
        raise ImfitError(f"{clash[0]} exists{more}; pass --force to overwrite it")


def check_output_file(path: str | os.PathLike[str], force: bool) -> Path:
    """Fail before any work on an output file that could not be written at the end."""
    path = Path(path)
    if path.is_dir():
        raise ImfitError(f"{path} is a directory, expected a file path")
    refuse_existing([path], force)
    check_output_folder(_folder(path), create=False)
    return path


def check_output_folder(folder: str | os.PathLike[str], create: bool = True) -> Path:
    """Fail before any work when `folder` is missing (or, with `create`, cannot be made) or not
    writable: a read-only disk is found in a millisecond, not after an hour of fitting."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if not create:
            raise ImfitError(f"folder {folder} does not exist")
        probe = _folder(probe) if probe != _folder(probe) else Path(".")
        if probe == Path(".") and not probe.exists():  # pragma: no cover - cwd removed
            raise ImfitError("the current folder no longer exists")
    if not probe.is_dir():
        raise ImfitError(f"{probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        ro = _read_only(probe)
        raise ImfitError(f"folder {probe} is not writable" + (" (read-only file system)"
                                                                 if ro else ""))
    return folder


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:  # pragma: no cover
        return False


def _why(e: OSError) -> str:
    return e.strerror or str(e)


@contextmanager
def interrupts_deferred(reraise: bool = True) -> Iterator[list[int]]:
    """Hold Ctrl-C back for a short step that must not be cut in half (files being swapped in,
    an encoder finishing); a Ctrl-C that came meanwhile is raised when the step is done (or,
    with `reraise=False`, left in the yielded list for the caller to report).

    Only the main thread receives signals; elsewhere (the viewer's recorder) this does nothing.
    """
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield got
        return
    signal.signal(signal.SIGINT, lambda sig, frame: got.append(sig))
    try:
        yield got
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if got and reraise:
        raise KeyboardInterrupt


class Transaction:
    """Files written together, all or none.

    `add` writes each file to a temp file in its target's folder (fsynced, umask-honouring
    mode); nothing the user has changes until `commit`, which puts every file in place with
    Ctrl-C held back. Without `overwrite` a file is put in place with a hard link, which fails
    if the name appeared meanwhile (another fit into the same folder): then every file of this
    commit is taken back and nothing is replaced. With `overwrite`, each replaced file is kept as
    a backup link until all renames succeeded, so a failed rename (a name that became a folder,
    a full directory) is undone too. Leaving the `with` block without commit discards the temps
    (and folders this transaction made).
    """

    def __init__(self, overwrite: bool = False) -> None:
        self.overwrite = overwrite
        self._staged: list[tuple[Path, Path]] = []  # (target, temp), in commit order
        self._temps: list[Path] = []
        self._removals: list[Path] = []
        self._made: list[Path] = []  # folders created here, innermost last
        self.committed = False

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.abort()

    # -- staging
    def make_folder(self, folder: str | os.PathLike[str]) -> Path:
        """Create `folder` (and missing parents); removed again on abort if still empty."""
        folder = Path(folder)
        missing = []
        probe = folder
        while not probe.exists():
            missing.append(probe)
            probe = _folder(probe)
        if probe.exists() and not probe.is_dir():
            raise ImfitError(f"{probe} is a file, not a folder")
        for d in reversed(missing):
            with interrupts_deferred():  # made and remembered, or neither
                try:
                    d.mkdir()
                except FileExistsError:
                    continue
                except OSError as e:
                    raise ImfitError(f"cannot create folder {d} ({_why(e)})") from None
                self._made.append(d)
        return folder

    def _check_target(self, path: Path) -> None:
        if path.is_dir():
            raise ImfitError(f"{path} is a directory, expected a file path")
        refuse_existing([path], self.overwrite)
        folder = _folder(path)
        if not folder.is_dir():
            raise ImfitError(f"folder {folder} does not exist")

    def new_temp(self, path: str | os.PathLike[str]) -> Path:
        """An empty temp file beside `path` for a writer that needs a file name (ffmpeg)."""
        path = Path(path)
        self._check_target(path)
        with interrupts_deferred():  # a Ctrl-C between mkstemp and the list would orphan it
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part",
                                           dir=_folder(path))
            except OSError as e:
                raise ImfitError(f"cannot write {path} ({_why(e)}); "
                                 f"{self._unchanged(path)}") from None
            self._temps.append(Path(tmp))
            os.close(fd)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get 0666 - umask
        return Path(tmp)

    def stage(self, path: str | os.PathLike[str], temp: Path) -> Path:
        """Put the finished temp `temp` (from new_temp) in place at `path` on commit."""
        path = Path(path)
        self._check_target(path)
        try:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise ImfitError(f"cannot write {path} ({_why(e)}); {self._unchanged(path)}") \
                from None
        self._staged.append((path, temp))
        return path

    def add(self, path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
        """Write `path`'s new content now (to a temp file); it goes in place on commit."""
        path = Path(path)
        tmp = self.new_temp(path)
        try:
            with open(tmp, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            self._drop(tmp)
            raise ImfitError(f"cannot write {path} ({_why(e)}); {self._unchanged(path)}") \
                from None
        except BaseException:
            self._drop(tmp)
            raise
        self._staged.append((path, tmp))
        return path

    def add_bytes(self, path: str | os.PathLike[str], data: bytes) -> Path:
        return self.add(path, lambda f: f.write(data))

    def remove(self, path: str | os.PathLike[str]) -> None:
        """Delete `path` on commit (a stale frame of an earlier, longer run)."""
        self._removals.append(Path(path))

    def _unchanged(self, path: Path) -> str:
        return f"{path} was left as it was" if os.path.lexists(path) else "nothing was written"

    def discard(self, tmp: Path) -> None:
        """Give up a temp from `new_temp` that will not be staged (its writer failed)."""
        self._drop(tmp)

    def _drop(self, tmp: Path) -> None:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if tmp in self._temps:
            self._temps.remove(tmp)

    def abort(self) -> None:
        for tmp in list(self._temps):
            self._drop(tmp)
        self._staged.clear()
        for d in reversed(self._made):
            try:
                d.rmdir()
            except OSError:
                pass
        self._made.clear()

    # -- commit
    def commit(self) -> list[Path]:
        """Put every staged file in place, or none (see the class docstring)."""
        with interrupts_deferred():
            if self.overwrite:
                self._commit_replacing()
            else:
                self._commit_exclusive()
            self.committed = True
            for tmp in list(self._temps):  # temps never staged (a frame cut short)
                self._drop(tmp)
            for d in {_folder(t) for t, _ in self._staged}:
                _fsync_dir(d)
        return [t for t, _ in self._staged]

    def _commit_exclusive(self) -> None:
        if self._removals:  # pragma: no cover - callers remove files only with --force
            raise ImfitError("internal error: removing files needs overwrite")
        placed: list[tuple[Path, tuple[int, int]]] = []
        try:
            for target, tmp in self._staged:
                ident = _ident(tmp)
                _link_exclusive(tmp, target)
                placed.append((target, ident))
        except BaseException:
            for target, ident in placed:  # only files this commit made (same inode)
                if os.path.lexists(target) and _ident(target) == ident:
                    os.unlink(target)
            raise
        for _, tmp in self._staged:
            self._drop(tmp)

    def _commit_replacing(self) -> None:
        # (target, backup link of the file it replaced or None, identity of the new file)
        done: list[tuple[Path, Path | None, tuple[int, int] | None]] = []
        try:
            for target, _ in self._staged:
                if target.is_dir():
                    raise ImfitError(f"{target} is a directory, expected a file path")
            for target, tmp in self._staged:
                old = _backup(target) if os.path.lexists(target) else None
                try:
                    ident = _ident(tmp)
                    os.replace(tmp, target)
                except OSError as e:
                    if old is not None:
                        os.unlink(old)
                    raise ImfitError(f"cannot put {target} in place ({_why(e)})") from None
                done.append((target, old, ident))
                self._temps.remove(tmp)
            for victim in self._removals:
                if os.path.lexists(victim):
                    old = _backup(victim)
                    try:
                        os.unlink(victim)
                    except OSError as e:
                        os.unlink(old)
                        raise ImfitError(f"cannot remove {victim} ({_why(e)})") from None
                    done.append((victim, old, None))
        except BaseException as e:
            for target, old, ident in reversed(done):
                if old is not None:
                    os.replace(old, target)
                elif ident is not None and os.path.lexists(target) and _ident(target) == ident:
                    os.unlink(target)
            if isinstance(e, ImfitError):
                raise ImfitError(f"{e}; nothing was replaced") from None
            if isinstance(e, OSError):
                raise ImfitError(f"cannot replace files ({_why(e)}); nothing was replaced") \
                    from None
            raise
        for _, old, _ in done:
            if old is not None:
                try:
                    os.unlink(old)
                except OSError:  # pragma: no cover - a stray .old link loses nothing
                    pass


def _link_exclusive(tmp: Path, target: Path) -> None:
    """Make `target` the temp's content only if `target` does not exist (race-free)."""
    appeared = (f"{target} appeared while this command ran; it was left as it was (pass "
                "--force to overwrite it)")
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        raise ImfitError(appeared) from None
    except OSError:  # no hard links here (FAT, some network shares): claim the name, then swap
        pass
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise ImfitError(appeared) from None
    except OSError as e:
        raise ImfitError(f"cannot put {target} in place ({_why(e)})") from None
    os.replace(tmp, target)


def _ident(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _backup(path: Path) -> Path:
    """A hard link to the current `path` (the user's old file) under a fresh hidden name."""
    for _ in range(100):
        name = _folder(path) / f".{path.name}.{os.urandom(4).hex()}.old"
        try:
            os.link(path, name)
            return name
        except FileExistsError:
            continue
        except OSError:  # no hard links: move the old file aside instead
            os.replace(path, name)
            return name
    raise ImfitError(f"cannot keep a backup of {path}")  # pragma: no cover


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some systems cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None],
                 overwrite: bool = True) -> Path:
    """Write one file through a temp file and a rename (a one-file `Transaction`)."""
    with Transaction(overwrite) as tx:
        tx.add(path, write)
        tx.commit()
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, overwrite: bool = True) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")), overwrite=overwrite)


def free_stem(folder: Path, stem: str, exts: tuple[str, ...], tag: str = "partial") -> str:
    """`out.partial` (or `out.partial-2`, ...): a stem for which `folder/<stem><ext>` is free for
    every ext (a fit's three outputs share one), where a partial result goes when a complete
    earlier output must be kept."""
    for i in range(1, 1000):
        cand = f"{stem}.{tag}" + ("" if i == 1 else f"-{i}")
        if not any(os.path.lexists(folder / (cand + e)) for e in exts):
            return cand
    raise ImfitError(f"no free name for a partial copy of {folder / stem}")  # pragma: no cover


# -- float formatting ------------------------------------------------------------------------
def f32_str(v: float | np.floating[Any]) -> str:
    """Shortest decimal that reads back to the same float32 (bit-exact round trips)."""
    s = np.format_float_positional(np.float32(v), unique=True, trim="-")
    if len(s) > 14:  # very small/large values read better in scientific notation
        s = np.format_float_scientific(np.float32(v), unique=True, trim="-")
    return s


# -- .gabor.json -----------------------------------------------------------------------------
def to_json_text(gs: GaborSet) -> str:
    """The canonical text: metadata as pretty JSON, one wavelet per line."""
    head = {
        "format": FORMAT,
        "version": VERSION,
        "columns": list(COLUMNS),
        "conventions": CONVENTIONS,
        "image": {"width": gs.width, "height": gs.height},
        "bias": [float(np.float32(b)) for b in gs.bias],
        "count": len(gs),
        "meta": _jsonable(gs.meta),
    }
    body = json.dumps(head, indent=2, allow_nan=False)
    rows = ",\n".join("    [" + ", ".join(f32_str(v) for v in row) + "]" for row in gs.params)
    wavelets = '  "wavelets": [\n' + rows + "\n  ]" if len(gs) else '  "wavelets": []'
    return body[:-2] + ",\n" + wavelets + "\n}\n"


def _jsonable(obj: Any) -> Any:
    """Metadata may hold numpy scalars, paths or NaN PSNRs: make them strict JSON."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def from_json_obj(obj: Any, source: str = "file") -> GaborSet:
    """Validate a parsed `.gabor.json` document and build the set; every failure is one line."""
    if not isinstance(obj, dict):
        raise ImfitError(f"{source}: not an imfit .gabor.json (top level is not an object)")
    if obj.get("format") != FORMAT:
        raise ImfitError(f"{source}: not an imfit .gabor.json (format is {obj.get('format')!r})")
    ver = obj.get("version")
    if ver != VERSION:
        raise ImfitError(f"{source}: unsupported .gabor.json version {ver!r} "
                         f"(this imfit reads version {VERSION})")
    cols = obj.get("columns")
    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
        raise ImfitError(f"{source}: 'columns' must be a list of names")
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        raise ImfitError(f"{source}: missing columns {', '.join(missing)}")
    rows = obj.get("wavelets")
    if not isinstance(rows, list):
        raise ImfitError(f"{source}: 'wavelets' must be a list of rows")
    for i, r in enumerate(rows):
        if not isinstance(r, list) or len(r) != len(cols):
            raise ImfitError(f"{source}: wavelet {i} must be a list of {len(cols)} numbers")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ImfitError(f"{source}: wavelet {i} holds a non-number ({v!r})")
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), len(cols))
    arr = arr[:, [cols.index(c) for c in COLUMNS]]
    if not np.isfinite(arr).all():
        i, j = np.argwhere(~np.isfinite(arr))[0]
        raise ImfitError(f"{source}: wavelet {i} has a non-finite {COLUMNS[j]}")
    img = obj.get("image", {})
    if not isinstance(img, dict):
        raise ImfitError(f"{source}: 'image' must be an object with width and height")
    w, h = img.get("width"), img.get("height")
    for name, v in (("width", w), ("height", h)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ImfitError(f"{source}: image {name} must be a positive integer, got {v!r}")
    bias = obj.get("bias", [0.5, 0.5, 0.5])
    if (not isinstance(bias, list) or len(bias) != 3
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bias)):
        raise ImfitError(f"{source}: 'bias' must be a list of 3 numbers")
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise ImfitError(f"{source}: 'meta' must be an object")
    try:
        return GaborSet(arr.astype(np.float32), w, h, tuple(bias), meta)
    except ImfitError as e:
        raise ImfitError(f"{source}: {e}") from None


def save(gs: GaborSet, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """Write `gs` as `.gabor.json` atomically."""
    return atomic_write_text(path, to_json_text(gs), overwrite=overwrite)


def read_text(path: Path, what: str) -> str:
    """A UTF-8 text file, every failure (missing, folder, binary, unreadable) as one line."""
    if not path.exists():
        raise ImfitError(f"{path}: no such file")
    if path.is_dir():
        raise ImfitError(f"{path} is a directory, expected a {what}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ImfitError(f"{path}: not a text file (expected a {what})") from None
    except OSError as e:
        raise ImfitError(f"{path}: cannot read ({e.strerror})") from None


def load(path: str | os.PathLike[str], width: int | None = None,
         height: int | None = None) -> GaborSet:
    """Read a `.gabor.json`, or a torch-imfit `.txt` (given the image size, else square 256)."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        return load_txt(path, width or 256, height or width or 256)
    text = read_text(path, ".gabor.json file")
    try:
        obj = json.loads(text, parse_constant=lambda c: float("nan"))
    except json.JSONDecodeError as e:
        raise ImfitError(f"{path}: corrupt JSON ({e.msg} at line {e.lineno})") from None
    return from_json_obj(obj, str(path))


# -- torch-imfit weights .txt ----------------------------------------------------------------
# Its plane: x and y both run -1..1 across the image with pixel CENTRES at the ends (linspace),
# so one of its x units is (W-1)/2 pixels and one y unit (H-1)/2 pixels; ours is H/2 pixels on
# both axes with pixel EDGES at the ends. theta is in turns, widths are absolute, rel_freq is the
# log wavelength, psi is the phase in turns, amplitudes act on a -1..1 image (ours on 0..1).
TXT_COLUMNS = ("u", "v", "theta", "rel_sigma", "gamma", "rel_freq",
               "psi_r", "psi_g", "psi_b", "amp_r", "amp_g", "amp_b")


def _txt_scales(width: int, height: int) -> tuple[float, float]:
    """Units of ours per unit of theirs along x and y."""
    sx = (max(width - 1, 1) / 2) / (height / 2)
    sy = (max(height - 1, 1) / 2) / (height / 2)
    return sx, sy


def _gauss_transform(theta: np.ndarray, s_u: np.ndarray, s_v: np.ndarray, wl: np.ndarray,
                     sx: float, sy: float) -> tuple[np.ndarray, ...]:
    """Map a wavelet through the axis scaling diag(sx, sy).

    The Gaussian maps exactly (covariance S -> A S A); its new principal axes give theta, sigma,
    gamma. The wave vector maps by A^-1; we keep its component along the new u axis, which is
    exact when sx == sy (square images) and a close approximation otherwise.
    """
    c, s = np.cos(theta), np.sin(theta)
    a = s_u**2 * c**2 + s_v**2 * s**2
    b = (s_u**2 - s_v**2) * c * s
    d = s_u**2 * s**2 + s_v**2 * c**2
    a2, b2, d2 = a * sx * sx, b * sx * sy, d * sy * sy
    if sx == sy:
        return theta, s_u * sx, s_v * sx, wl * sx
    # eigen-decomposition of [[a2, b2], [b2, d2]], keeping the axis closest to the old u axis
    t_new = 0.5 * np.arctan2(2 * b2, a2 - d2)
    tr, det = a2 + d2, a2 * d2 - b2 * b2
    disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0))
    l1, l2 = tr / 2 + disc, tr / 2 - disc
    # the old u direction after mapping
    ux, uy = c * sx, s * sy
    cn, sn = np.cos(t_new), np.sin(t_new)
    along = np.abs(ux * cn + uy * sn) >= np.abs(-ux * sn + uy * cn)
    t_out = np.where(along, t_new, t_new + np.pi / 2)
    su_out = np.sqrt(np.where(along, l1, l2))
    sv_out = np.sqrt(np.where(along, l2, l1))
    # wave vector k = (2pi/wl)(c, s) maps to A^-1 k; project on the new u axis
    kx, ky = (2 * np.pi / wl) * c / sx, (2 * np.pi / wl) * s / sy
    ku = np.abs(kx * np.cos(t_out) + ky * np.sin(t_out))
    wl_out = 2 * np.pi / np.maximum(ku, 1e-12)
    return t_out, su_out, sv_out, wl_out


def from_txt_array(arr: np.ndarray, width: int, height: int) -> GaborSet:
    """torch-imfit rows (N, 12) in its parametrisation -> GaborSet (bias 0.5 grey)."""
    a = np.asarray(arr, np.float64).reshape(-1, NCOL)
    sx, sy = _txt_scales(width, height)
    # their pixel-centre coordinate -> ours: pixel j sits at -1 + 2j/(W-1) for them and at
    # (-1 + (2j+1)/W)*aspect for us; the map is affine with slope sx and no offset.
    x = a[:, 0] * sx
    y = a[:, 1] * sy
    theta = 2 * np.pi * a[:, 2]
    s_u = np.abs(a[:, 3])
    s_v = np.abs(a[:, 4])
    wl = np.exp(a[:, 5])
    theta, s_u, s_v, wl = _gauss_transform(theta, s_u, s_v, wl, sx, sy)
    phase = 2 * np.pi * a[:, 6:9]
    amp = 0.5 * a[:, 9:12]
    out = np.empty((len(a), NCOL), np.float64)
    out[:, COL["x"]], out[:, COL["y"]], out[:, COL["theta"]] = x, y, theta
    out[:, COL["sigma"]] = np.maximum(s_u, 1e-6)
    out[:, COL["gamma"]] = np.maximum(s_v, 1e-6)
    out[:, COL["wavelength"]] = wl
    out[:, 6:9], out[:, 9:12] = phase, amp
    return GaborSet(out.astype(np.float32), width, height, (0.5, 0.5, 0.5),
                    {"source_format": "torch-imfit txt"})


def to_txt_array(gs: GaborSet) -> np.ndarray:
    """GaborSet -> torch-imfit rows (N, 12). Its model has no bias: a non-grey bias is lost."""
    p = gs.params.astype(np.float64)
    sx, sy = _txt_scales(gs.width, gs.height)
    theta, s_u, s_v, wl = _gauss_transform(p[:, 2], p[:, 3], p[:, 4], p[:, 5], 1 / sx, 1 / sy)
    out = np.empty((len(gs), NCOL), np.float64)
    out[:, 0] = p[:, 0] / sx
    out[:, 1] = p[:, 1] / sy
    # theirs is in turns in [-2, 2]; wrap to (-0.5, 0.5] so it stays inside its clamp
    t = theta / (2 * np.pi)
    out[:, 2] = t - np.round(t)
    out[:, 3], out[:, 4] = s_u, s_v
    out[:, 5] = np.log(wl)
    amp = p[:, 9:12]
    ph = p[:, 6:9] + np.where(amp < 0, np.pi, 0.0)  # their amplitudes are >= 0
    psi = ph / (2 * np.pi)
    out[:, 6:9] = psi - np.round(psi)
    out[:, 9:12] = 2 * np.abs(amp)
    return out


def load_txt(path: str | os.PathLike[str], width: int = 256, height: int = 256) -> GaborSet:
    """Read torch-imfit's weights file (N rows of 12 comma-separated numbers, no header)."""
    path = Path(path)
    text = read_text(path, "torch-imfit weights .txt")
    rows = []
    for ln, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in line.replace(",", " ").split()]
        if len(parts) != NCOL:
            raise ImfitError(f"{path}:{ln}: expected {NCOL} comma-separated numbers, "
                             f"found {len(parts)}")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ImfitError(f"{path}:{ln}: not a number in {line[:60]!r}") from None
        if not all(math.isfinite(v) for v in vals):
            raise ImfitError(f"{path}:{ln}: non-finite value")
        rows.append(vals)
    if not rows:
        raise ImfitError(f"{path}: no wavelets in file")
    gs = from_txt_array(np.array(rows), width, height)
    return gs.replace(meta={"source": path.name, "source_format": "torch-imfit txt"})


def txt_text(gs: GaborSet) -> str:
    """torch-imfit's layout with 17 significant digits (its reader takes any float) instead of
    its 6 decimals: the float64 values read back exactly, so our own round trip is lossless
    up to the float32 rounding of the set itself."""
    return "".join(",".join(f"{v:.17g}" for v in row) + "\n" for row in to_txt_array(gs))


def save_txt(gs: GaborSet, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    return atomic_write_text(path, txt_text(gs), overwrite=overwrite)
