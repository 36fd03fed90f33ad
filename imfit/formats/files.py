"""Writing files, the one way imfit does it: `Transaction` (one file: `atomic_write`).

Temp files in the target's folder, fsync, then all put in place together with Ctrl-C held back,
so a failed or interrupted command never leaves a half-written file, or half a set of files,
where good ones used to be; modes honour the umask; a file that appeared meanwhile is never
replaced without --force (link-based exclusive commit). docs/files.md says what users see.
"""

from __future__ import annotations

import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from imfit.errors import ImfitError

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


def open_input(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a user's input file for reading without ever hanging on it: a FIFO nobody writes
    to (`mkfifo x; imfit fit x`) reads as empty (the caller says "empty" or "not an image")
    instead of blocking forever, while a pipe that has a writer (`<(cat photo.png)`) streams as
    usual. Regular files and devices open as `open` opens them."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO's open waits for a writer without
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            import fcntl

            flags = fcntl.fcntl(fd, fcntl.F_GETFL)  # reads block again: a writer that is
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)  # there streams; none: EOF
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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


class StopOnce:
    """The SIGINT handler of `ctrl_c_once`: while `armed`, a Ctrl-C disarms it and raises
    KeyboardInterrupt (stopping the work); any other Ctrl-C is only counted in `got`.

    Disarming happens inside the handler, before the raise, so no second press can ever land
    between "the work stopped" and "its result is being kept" (there is no such window)."""

    def __init__(self, armed: bool = True) -> None:
        self.armed = armed
        self.got: list[int] = []

    def __call__(self, sig: int, frame: object) -> None:
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt
        self.got.append(sig)


@contextmanager
def ctrl_c_once() -> Iterator[StopOnce]:
    """Ctrl-C stops long work once and never again: set `.armed = True` around the work that
    may be cut short (a fit's training steps); everything after it (building the result,
    writing the files) runs with later presses counted in `.got` instead of raised, and the
    caller decides what they mean (exit 130 once the files are in place). Nested use shares
    the outer guard. Only the main thread receives signals; elsewhere (the viewer's fit
    thread) the guard is never installed and Ctrl-C there is the caller's business.
    """
    current = signal.getsignal(signal.SIGINT)
    if isinstance(current, StopOnce):
        yield current
        return
    guard = StopOnce()
    if threading.current_thread() is not threading.main_thread() \
            or current is not signal.default_int_handler:
        yield guard
        return
    signal.signal(signal.SIGINT, guard)
    try:
        yield guard
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def ctrl_c_once_for_process() -> None:
    """Make `StopOnce` the SIGINT handler for the rest of this process (a program that ends
    with its command calls this first): the first Ctrl-C raises KeyboardInterrupt as usual,
    later ones are counted, so a second press can cut neither the saving of what the first
    one stopped nor the interpreter's exit (torch's exit handlers print a traceback when
    interrupted). Main thread only, and only over Python's default handler."""
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, StopOnce())


@contextmanager
def interrupts_deferred(reraise: bool = True) -> Iterator[list[int]]:
    """Hold Ctrl-C back for a short step that must not be cut in half (files being swapped in,
    an encoder finishing); a Ctrl-C that came meanwhile is raised when the step is done (or,
    with `reraise=False`, left in the yielded list for the caller to report).

    Inside `ctrl_c_once` it holds that guard's presses back the same way. Only the main thread
    receives signals; elsewhere (the viewer's recorder) this does nothing.
    """
    got: list[int] = []
    current = signal.getsignal(signal.SIGINT)
    if isinstance(current, StopOnce):
        armed, seen = current.armed, len(current.got)
        current.armed = False
        try:
            yield got
        finally:
            got.extend(current.got[seen:])
            if armed and got:  # the press that would have stopped the work: stop it now
                del current.got[seen:]
            else:
                current.armed = armed
        if got and reraise and armed:
            raise KeyboardInterrupt
        return
    if threading.current_thread() is not threading.main_thread() \
            or current is not signal.default_int_handler:
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
