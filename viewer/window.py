"""The glfw window runner: drives any `viewer.scene.Scene`.

It owns what every scene shares: the window and its fps title, resizing, `h` (key map),
screenshots, MP4 recording, quitting, and a scripted test mode (N frames with key/mouse events
at given frames, then a screenshot) that CI runs under Xvfb.

Reserved keys are handled before the scene sees them: esc/q (quit), h (help), f12 (screenshot),
f9 (recording). `c` and `v` are friendlier aliases for screenshot and recording, used only when
the scene does not claim them.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from viewer.scene import Scene

RUNNER_KEYS: list[tuple[str, str]] = [
    ("h", "print this key map"),
    ("f12 or c", "screenshot to imfit-shot-NNN.png"),
    ("f9 or v", "start / stop recording imfit-rec-NNN.mp4"),
    ("esc or q", "quit"),
]
TEST_FPS = 30.0  # test mode advances t by 1/30 s per frame, so scripted runs repeat exactly
NO_WINDOW_HINT = "render headless instead: imfit render FIT -o out.png"


# -- scripted events (test mode) ---------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    frame: int
    kind: str  # key | drag | scroll | resize | shot
    args: tuple[str, ...]


def parse_events(script: str) -> list[Event]:
    """'5 key s; 6 key shift+s; 8 drag 40 0; 9 scroll 2 320 240; 10 resize 640 480; 12 shot'

    Events run before the frame of their number is drawn (frames count from 0). `shot` saves
    a screenshot of that frame like f12.
    """
    arity = {"key": 1, "drag": 2, "scroll": 3, "resize": 2, "shot": 0}
    out = []
    for part in filter(None, (p.strip() for p in script.split(";"))):
        words = part.split()
        if len(words) < 2 or words[1] not in arity or len(words) != 2 + arity[words[1]]:
            raise ImfitError(f"event {part!r}: use FRAME key NAME | FRAME drag DX DY | "
                             "FRAME scroll AMOUNT X Y | FRAME resize W H | FRAME shot")
        try:
            frame = int(words[0])
            if words[1] in ("drag", "scroll", "resize"):
                [float(w) for w in words[2:]]
        except ValueError:
            raise ImfitError(f"event {part!r}: not a number") from None
        if frame < 0:
            raise ImfitError(f"event {part!r}: frame must be >= 0")
        out.append(Event(frame, words[1], tuple(words[2:])))
    return out


def free_path(folder: Path, stem: str, ext: str) -> Path:
    """The first `stem-NNN.ext` in `folder` that does not exist (outputs are never replaced)."""
    for i in range(1, 10000):
        p = folder / f"{stem}-{i:03d}{ext}"
        if not p.exists():
            return p
    raise ImfitError(f"{folder}: no free name for {stem}-NNN{ext}")


# -- recording ---------------------------------------------------------------------------------
class Recorder:
    """Streams frames to an MP4 in a background thread (imfit.formats.video.write_frames)."""

    def __init__(self, path: Path, fps: float = 30.0) -> None:
        from imfit.formats.video import write_frames

        self.path = path
        self.size: tuple[int, int] | None = None
        self._q: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=64)
        self.error: str | None = None
        self.count = 0

        def frames() -> Iterator[np.ndarray]:
            while (f := self._q.get()) is not None:
                yield f

        def work() -> None:
            try:
                self.count = write_frames(frames(), path, fps=fps)
            except ImfitError as e:
                self.error = str(e)
                while self._q.get() is not None:  # drain so add() never blocks forever
                    pass

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()

    def add(self, rgb: np.ndarray) -> bool:
        """Queue a uint8 (H, W, 3) frame; False (and nothing queued) if the size changed."""
        if self.size is None:
            self.size = rgb.shape[:2]
        if rgb.shape[:2] != self.size:
            return False
        self._q.put(rgb.astype(np.float32) / 255.0)
        return True

    def stop(self) -> str:
        self._q.put(None)
        self._thread.join()
        if self.error:
            return f"recording failed: {self.error}"
        return f"wrote {self.path} ({self.count} frames)"


# -- the runner --------------------------------------------------------------------------------
def _key_names() -> dict[int, str]:
    import glfw

    names: dict[int, str] = {}
    for attr in dir(glfw):
        if attr.startswith("KEY_") and attr not in ("KEY_LAST", "KEY_UNKNOWN"):
            names.setdefault(getattr(glfw, attr), attr[4:].lower())
    return names


def open_window(width: int, height: int, title: str, visible: bool = True) -> tuple[Any, Any]:
    """A glfw window with a GL 3.3 core context and its moderngl context, or one ImfitError
    line saying what is missing (no display, no glfw, no GL)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        raise ImfitError(f"no display (DISPLAY is not set), so no window; {NO_WINDOW_HINT}")
    try:
        import glfw
        import moderngl
    except ImportError as e:
        raise ImfitError(f"the viewer needs glfw and moderngl ({e}); {NO_WINDOW_HINT}") from None
    glfw.ERROR_REPORTING = "raise"
    try:
        if not glfw.init():
            raise ImfitError(f"glfw could not start; {NO_WINDOW_HINT}")
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        glfw.window_hint(glfw.VISIBLE, visible)
        win = glfw.create_window(width, height, title, None, None)
        if not win:
            raise ImfitError(f"could not open a window; {NO_WINDOW_HINT}")
        glfw.make_context_current(win)
        ctx = moderngl.create_context(require=330)
    except glfw.GLFWError as e:
        glfw.terminate()
        msg = str(e).splitlines()[0]
        raise ImfitError(f"no window with OpenGL 3.3 ({msg}); {NO_WINDOW_HINT}") from None
    except ImfitError:
        glfw.terminate()
        raise
    except Exception as e:  # noqa: BLE001 - a moderngl/driver failure means "no GL here"
        glfw.terminate()
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImfitError(f"no OpenGL 3.3 in this window ({msg}); {NO_WINDOW_HINT}") from None
    finally:
        glfw.ERROR_REPORTING = "warn"
    return win, ctx


def read_screen(ctx: Any, width: int, height: int) -> np.ndarray:
    """The frame just drawn (back buffer) as uint8 (H, W, 3), rows top to bottom."""
    data = ctx.screen.read(viewport=(0, 0, width, height), components=3, alignment=1)
    return np.frombuffer(data, np.uint8).reshape(height, width, 3)[::-1].copy()


def run_window(scene: Scene, width: int = 960, height: int = 540, title: str = "imfit",
               frames: int | None = None, events: list[Event] | None = None,
               screenshot: Path | None = None, out_dir: Path = Path("."),
               should_close: Callable[[], bool] | None = None,
               on_open: Callable[[], None] | None = None,
               echo: Callable[[str], None] = print) -> None:
    """Open a window and drive `scene` until the user quits.

    Test mode (`frames` given): run exactly that many frames with t = frame / 30 s, apply
    `events` before their frame, write `screenshot` (PNG) of the last frame, then close.
    `should_close` lets a caller end the loop (e.g. a fit that failed); `on_open` runs once
    the window exists (a fit starts there, so no display means no fit).
    """
    import glfw

    from imfit.formats.images import save_png
    from viewer.gl_render import moderngl_default

    prev = moderngl_default()  # a headless context in this process keeps working afterwards
    win, ctx = open_window(width, height, title)
    names = _key_names()
    state: dict[str, Any] = {"shot": False, "rec": None, "last": None, "down": False}
    test = frames is not None
    glfw.swap_interval(0 if test else 1)

    def size() -> tuple[int, int]:
        return glfw.get_framebuffer_size(win)

    def pixel_ratio() -> float:
        ww, _ = glfw.get_window_size(win)
        return size()[0] / ww if ww else 1.0

    def print_help() -> None:
        rows = RUNNER_KEYS + scene.help()
        width_k = max(len(k) for k, _ in rows)
        echo("keys:\n" + "\n".join(f"  {k:<{width_k}}  {v}" for k, v in rows))

    def toggle_recording() -> None:
        if state["rec"] is None:
            state["rec"] = Recorder(free_path(out_dir, "imfit-rec", ".mp4"))
            echo(f"recording to {state['rec'].path} (f9 or v stops)")
        else:
            echo(state["rec"].stop())
            state["rec"] = None

    def on_key(name: str, shift: bool) -> None:
        if name in ("escape", "q"):
            glfw.set_window_should_close(win, True)
        elif name == "h":
            print_help()
        elif name == "f12":
            state["shot"] = True
        elif name == "f9":
            toggle_recording()
        elif scene.key(name, shift):
            pass
        elif name == "c":
            state["shot"] = True
        elif name == "v":
            toggle_recording()

    def key_cb(_w: Any, key: int, _sc: int, action: int, mods: int) -> None:
        if action in (glfw.PRESS, glfw.REPEAT) and key in names:
            on_key(names[key], bool(mods & glfw.MOD_SHIFT))

    def cursor_cb(_w: Any, x: float, y: float) -> None:
        r = pixel_ratio()
        last, state["last"] = state["last"], (x * r, y * r)
        if state["down"] and last is not None:
            scene.drag(x * r - last[0], y * r - last[1], *size())

    def button_cb(_w: Any, button: int, action: int, _mods: int) -> None:
        if button == glfw.MOUSE_BUTTON_LEFT:
            state["down"] = action == glfw.PRESS

    def scroll_cb(_w: Any, _dx: float, dy: float) -> None:
        x, y = state["last"] or (size()[0] / 2, size()[1] / 2)
        scene.scroll(dy, x, y, *size())

    glfw.set_key_callback(win, key_cb)
    glfw.set_cursor_pos_callback(win, cursor_cb)
    glfw.set_mouse_button_callback(win, button_cb)
    glfw.set_scroll_callback(win, scroll_cb)

    def apply(ev: Event) -> None:
        if ev.kind == "key":
            name = ev.args[0].lower()
            on_key(name.removeprefix("shift+"), name.startswith("shift+"))
        elif ev.kind == "drag":
            scene.drag(float(ev.args[0]), float(ev.args[1]), *size())
        elif ev.kind == "scroll":
            scene.scroll(float(ev.args[0]), float(ev.args[1]), float(ev.args[2]), *size())
        elif ev.kind == "resize":
            glfw.set_window_size(win, int(float(ev.args[0])), int(float(ev.args[1])))
            deadline = time.monotonic() + 2.0  # the window manager resizes asynchronously
            while glfw.get_window_size(win) != (int(float(ev.args[0])), int(float(ev.args[1]))) \
                    and time.monotonic() < deadline:
                glfw.wait_events_timeout(0.02)
        elif ev.kind == "shot":
            state["shot"] = True

    if on_open is not None:
        on_open()
    t0 = time.perf_counter()
    fps_t, fps_n = t0, 0
    frame = 0
    last_rgb: np.ndarray | None = None
    try:
        while not glfw.window_should_close(win):
            glfw.poll_events()
            if test:
                for ev in events or []:
                    if ev.frame == frame:
                        apply(ev)
            w, h = size()
            if w == 0 or h == 0:  # minimised
                glfw.wait_events_timeout(0.1)
                continue
            ctx.screen.use()
            ctx.viewport = (0, 0, w, h)
            t = frame / TEST_FPS if test else time.perf_counter() - t0
            scene.draw(ctx, w, h, t)
            capture = state["shot"] or state["rec"] is not None or (
                test and frame == (frames or 0) - 1)
            if capture:
                last_rgb = read_screen(ctx, w, h)
            if state["rec"] is not None and last_rgb is not None:
                if not state["rec"].add(last_rgb):
                    echo("window resized: " + state["rec"].stop())
                    state["rec"] = None
            if state["shot"] and last_rgb is not None:
                state["shot"] = False
                path = save_png(last_rgb.astype(np.float32) / 255.0,
                                free_path(out_dir, "imfit-shot", ".png"), overwrite=False)
                echo(f"screenshot {path}")
            glfw.swap_buffers(win)
            frame += 1
            fps_n += 1
            now = time.perf_counter()
            if now - fps_t >= 0.5:
                glfw.set_window_title(win, f"{title} | {scene.status()} | "
                                           f"{fps_n / (now - fps_t):.0f} fps")
                fps_t, fps_n = now, 0
            if test and frame >= (frames or 0):
                break
            if should_close is not None and should_close():
                break
        if test and screenshot is not None and last_rgb is not None:
            save_png(last_rgb.astype(np.float32) / 255.0, screenshot)
    finally:
        if state["rec"] is not None:
            echo(state["rec"].stop())
        ctx.release()
        glfw.destroy_window(win)
        glfw.terminate()
        if prev is not None and prev is not ctx:
            prev.__enter__()
