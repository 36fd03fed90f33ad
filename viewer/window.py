"""The glfw window runner: drives any `viewer.scene.Scene`.

It owns what every scene shares: the window and its fps title, resizing, `h` (key map),
screenshots, MP4 recording, quitting, and a scripted test mode (N frames with key/mouse events
at given frames, then a screenshot) that CI runs under Xvfb.

Reserved keys are handled before the scene sees them: esc/q (quit), h (help), f12 (screenshot),
f9 (recording). `c` and `v` are friendlier aliases for screenshot and recording, used only when
the scene does not claim them.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from viewer.live import LiveInputs, target_of
from viewer.scene import Scene

log = logging.getLogger("imfit.viewer")
WAIT_TIMEOUT = 30.0  # seconds a test-mode `wait` event waits for its packets

RUNNER_KEYS: list[tuple[str, str]] = [
    ("h", "print this key map"),
    ("f12 or c", "screenshot to imfit-shot-NNN.png"),
    ("f9 or v", "start / stop recording imfit-rec-NNN.mp4"),
    ("f11", "fullscreen on / off (stage output: no cursor, nothing but the picture)"),
    ("l / L", "MIDI learn: pick the next parameter, move a control to bind it / stop"),
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
    """'5 key s; 6 key shift+s; 8 drag 40 0; 9 scroll 2 320 240; 10 resize 640 480; 12 shot;
    3 wait 2'

    Events run before the frame of their number is drawn (frames count from 0). `shot` saves
    a screenshot of that frame like f12. `wait N` holds that frame until N control packets
    (OSC) have arrived in all, so a test can send messages at a known frame. `midi cc|note
    CHANNEL NUMBER VALUE` hands the window a MIDI message as a port would (the runner's
    `on_midi`), for machines without a MIDI sequencer.
    """
    arity = {"key": 1, "drag": 2, "scroll": 3, "resize": 2, "shot": 0, "wait": 1, "midi": 4}
    out = []
    for part in filter(None, (p.strip() for p in script.split(";"))):
        words = part.split()
        if len(words) < 2 or words[1] not in arity or len(words) != 2 + arity[words[1]]:
            raise ImfitError(f"event {part!r}: use FRAME key NAME | FRAME drag DX DY | "
                             "FRAME scroll AMOUNT X Y | FRAME resize W H | FRAME shot | "
                             "FRAME wait PACKETS | FRAME midi cc|note CH NUM VALUE")
        try:
            frame = int(words[0])
            if words[1] == "wait":
                int(words[2])
            if words[1] in ("drag", "scroll", "resize"):
                [float(w) for w in words[2:]]
            if words[1] == "midi":
                midi_message(*words[2:])
        except ValueError:
            raise ImfitError(f"event {part!r}: not a number, or out of MIDI's range") from None
        if frame < 0:
            raise ImfitError(f"event {part!r}: frame must be >= 0")
        if words[1] == "key":
            name = words[2].lower().removeprefix("shift+")
            if (names := key_names()) and name not in names:
                raise ImfitError(f"event {part!r}: no key named {name!r} (glfw's names: a, "
                                 "0, up, space, left_bracket, f12, ...)")
        out.append(Event(frame, words[1], tuple(words[2:])))
    return out


def midi_message(kind: str, channel: str, number: str, value: str) -> Any:
    """A mido message from a test event's words (ValueError when out of MIDI's range)."""
    import mido

    ch, num, val = int(channel), int(number), int(value)
    if kind == "cc":
        return mido.Message("control_change", channel=ch, control=num, value=val)
    if kind == "note":
        return mido.Message("note_on", channel=ch, note=num, velocity=val)
    raise ValueError(kind)


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


def key_names() -> frozenset[str]:
    """Every key name a press can arrive as (glfw's, lower case), so scripts can be checked."""
    try:
        return frozenset(_key_names().values())
    except ImportError:  # no glfw: the window reports that; the script is not the problem
        return frozenset()


def pick_monitor(monitor: int) -> Any:
    """glfw's monitor number `monitor` (0 = the primary), or one ImfitError line."""
    import glfw

    monitors = glfw.get_monitors() or []
    if not 0 <= monitor < len(monitors):
        raise ImfitError(f"no monitor {monitor}: there {'is' if len(monitors) == 1 else 'are'} "
                         f"{len(monitors)} (numbered from 0)")
    return monitors[monitor]


def open_window(width: int, height: int, title: str, visible: bool = True,
                monitor: int | None = None) -> tuple[Any, Any]:
    """A glfw window with a GL 3.3 core context and its moderngl context, or one ImfitError
    line saying what is missing (no display, no glfw, no GL, no such monitor). With `monitor`
    the window is checked to have that monitor (it goes fullscreen once open)."""
    check_display()
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
        if monitor is not None:
            pick_monitor(monitor)
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


def _short(args: list[Any]) -> str:
    text = " ".join(repr(a) for a in args)
    return text if len(text) <= 60 else text[:57] + "..."


def check_display() -> None:
    """Fail at once (before any file is read or torch imported) when no window can open."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        raise ImfitError(f"no display (DISPLAY is not set), so no window; {NO_WINDOW_HINT}")


class WindowRunner:
    """One window driving one scene; its methods are the events (after moderngl-window's
    `WindowConfig`): `on_key`, `on_mouse_move`, `on_mouse_button`, `on_scroll`, `on_event`
    (a scripted test-mode event), `on_render` (one frame), `on_close`.

    Test mode (`frames` given): exactly that many frames with t = frame / 30 s, `events` applied
    before their frame, `screenshot` (PNG) of the last frame, then close; the median frame time
    is reported so a run can be compared with another. `should_close` lets a caller end the loop
    (e.g. a fit that failed); `on_open` runs once the window exists (a fit starts there, so no
    display means no fit).
    """

    def __init__(self, scene: Scene, width: int = 960, height: int = 540, title: str = "imfit",
                 frames: int | None = None, events: list[Event] | None = None,
                 screenshot: Path | None = None, out_dir: Path = Path("."),
                 should_close: Callable[[], bool] | None = None,
                 on_open: Callable[[], None] | None = None,
                 echo: Callable[[str], None] = print, live: LiveInputs | None = None,
                 fullscreen: bool = False, monitor: int = 0) -> None:
        self.scene = scene
        self.start_fullscreen, self.monitor = fullscreen, monitor
        self.windowed: tuple[int, int, int, int] | None = None  # x, y, w, h before fullscreen
        self.home = scene  # the scene `/imfit/preset none` returns to
        self.live = live or LiveInputs()
        self.rng = random.Random(self.live.seed)
        self.width, self.height, self.title = width, height, title
        self.frames = frames
        self.test = frames is not None
        self.events = events or []
        self.screenshot = screenshot
        self.out_dir = out_dir
        self.should_close = should_close
        self.on_open = on_open
        self.echo = echo
        self.win: Any = None
        self.ctx: Any = None
        self.frame = 0
        self.t = 0.0  # the time of the last frame drawn
        self.want_shot = False
        self.recorder: Recorder | None = None
        self.cursor: tuple[float, float] | None = None
        self.dragging = False
        self.last_rgb: np.ndarray | None = None
        self.frame_times: list[float] = []  # seconds per frame, draw to swap
        self._names: dict[int, str] = {}
        self.learning: str | None = None  # MIDI learn: the parameter the next control gets

    # -- window geometry -------------------------------------------------------------------
    def size(self) -> tuple[int, int]:
        import glfw

        return glfw.get_framebuffer_size(self.win)

    def pixel_ratio(self) -> float:
        import glfw

        ww, _ = glfw.get_window_size(self.win)
        return self.size()[0] / ww if ww else 1.0

    # -- actions (keys, and later OSC/MIDI, call these) ------------------------------------
    def quit(self) -> None:
        import glfw

        glfw.set_window_should_close(self.win, True)

    def print_help(self) -> None:
        rows = RUNNER_KEYS + self.scene.help()
        width_k = max(len(k) for k, _ in rows)
        self.echo("keys:\n" + "\n".join(f"  {k:<{width_k}}  {v}" for k, v in rows))

    def set_fullscreen(self, on: bool) -> None:
        """Stage output on `--monitor` at its own resolution, cursor hidden (the picture is all
        there is: the viewer draws no overlays; help and state go to the console and the title,
        which fullscreen has none of), or back to the window it was."""
        import glfw

        if on and self.windowed is None:
            mon = pick_monitor(self.monitor)
            mode = glfw.get_video_mode(mon)
            x, y = glfw.get_window_pos(self.win)
            self.windowed = (x, y, *glfw.get_window_size(self.win))
            glfw.set_window_monitor(self.win, mon, 0, 0, mode.size.width, mode.size.height,
                                    mode.refresh_rate)
            glfw.set_input_mode(self.win, glfw.CURSOR, glfw.CURSOR_HIDDEN)
            self._wait_size((mode.size.width, mode.size.height))
            hidden = glfw.get_input_mode(self.win, glfw.CURSOR) == glfw.CURSOR_HIDDEN
            name = glfw.get_monitor_name(mon)
            name = name.decode(errors="replace") if isinstance(name, bytes) else name
            self.echo(f"fullscreen on monitor {self.monitor} ({name}, "
                      f"{mode.size.width}x{mode.size.height}), cursor "
                      f"{'hidden' if hidden else 'SHOWN'} (f11: back)")
        elif not on and self.windowed is not None:
            x, y, w, h = self.windowed
            self.windowed = None
            glfw.set_window_monitor(self.win, None, x, y, w, h, 0)
            glfw.set_input_mode(self.win, glfw.CURSOR, glfw.CURSOR_NORMAL)
            self._wait_size((w, h))
            self.echo(f"windowed {w}x{h}")

    def _wait_size(self, want: tuple[int, int]) -> None:
        import glfw

        deadline = time.monotonic() + 2.0  # the window manager resizes asynchronously
        while glfw.get_window_size(self.win) != want and time.monotonic() < deadline:
            glfw.wait_events_timeout(0.02)

    def take_screenshot(self) -> None:
        """Save the next frame drawn to a new imfit-shot-NNN.png."""
        self.want_shot = True

    def set_recording(self, on: bool) -> None:
        """Start (a new imfit-rec-NNN.mp4) or stop recording; the one record control."""
        if on and self.recorder is None:
            self.recorder = Recorder(free_path(self.out_dir, "imfit-rec", ".mp4"))
            self.echo(f"recording to {self.recorder.path} (f9 or v stops)")
        elif not on and self.recorder is not None:
            self.echo(self.recorder.stop())
            self.recorder = None

    def target(self) -> Any:
        """The scene's live parameters (what OSC, MIDI and audio set), or None."""
        return target_of(self.scene)

    def switch_preset(self, name: str) -> None:
        """Run diffusion preset `name` live on the picture shown now ('none': back to the
        scene the window opened with). A running preset switches on its own input."""
        from imfit.diffusion.engine import load_preset
        from viewer.gl_diffusion import DiffusionScene

        if name == "none":
            self._set_scene(self.home)
            return
        preset = load_preset(name)
        if preset.scheme == "poisson":
            raise ImfitError("the poisson preset needs a source and a mask; start it with "
                             "imfit view --preset poisson")
        if isinstance(self.scene, DiffusionScene):
            image = self.scene.image0
        else:  # the picture as shown, drawn once more offscreen (the back buffer is undefined)
            from viewer.context import float_target, read_rgba32f

            w, h = self.size()
            fbo = float_target(self.ctx, w, h)
            try:
                fbo.use()
                self.ctx.viewport = (0, 0, w, h)
                self.scene.draw(self.ctx, w, h, self.t)
                image = np.clip(read_rgba32f(fbo, w, h)[..., :3], 0.0, 1.0)
            finally:
                fbo.color_attachments[0].release()
                fbo.release()
                self.ctx.screen.use()
        self._set_scene(DiffusionScene(preset, image))

    def _set_scene(self, scene: Any) -> None:
        old, self.scene = self.scene, scene
        if old is not self.home and old is not scene and hasattr(old, "release"):
            old.release()

    def commands(self) -> dict[str, Callable[..., None]]:
        """The OSC/MIDI commands of `imfit.live.params.COMMANDS`, bound to this window."""
        from imfit.live.control import randomize

        def reset() -> None:
            target = self.target()
            if target is not None:
                target.reset()

        def tap() -> None:
            bpm = self.live.tempo.tap(time.perf_counter())
            if bpm is not None and hasattr(self.scene, "bpm"):
                self.scene.bpm = bpm

        return {"preset": self.switch_preset, "reset": reset, "tap": tap,
                "randomize": lambda: randomize(self.target(), self.rng),
                "record": lambda on: self.set_recording(bool(on)),
                "screenshot": self.take_screenshot}

    def on_osc(self, address: str, args: list[Any]) -> None:
        """One OSC message: a parameter or a command; anything unusable is one log line."""
        from imfit.live.control import dispatch
        from imfit.live.osc import ignored

        try:
            target = self.target()
            if target is None:
                raise ImfitError("this view has no live parameters")
            dispatch(address, args, target, self.commands())
        except ImfitError as e:
            ignored(f"osc: {address} {_short(args)} ignored: {e}")

    def on_midi(self, msg: Any) -> None:
        """One MIDI message: learn mode binds its control; otherwise the map turns it into
        the same control calls OSC makes (anything unusable is one log line)."""
        from imfit.live.control import dispatch
        from imfit.live.osc import ignored

        target = self.target()
        live = self.live
        if self.learning is not None:
            b = live.midi_map.learn(msg, self.learning)
            if b is not None:
                path = live.midi_map_path or free_path(self.out_dir, "imfit-midi", ".json")
                try:
                    live.midi_map.save(path)
                    saved = f"saved {path}"
                    live.midi_map_path = path
                except (ImfitError, OSError) as e:  # a full disk must not stop the show
                    saved = f"NOT saved ({e})"
                self.echo(f"midi learn: {b.kind} {b.number} (channel {b.channel + 1}) -> "
                          f"{b.target}; {saved}")
                self.learning = None
            return
        if target is None:
            return
        for address, args in live.midi_map.translate(msg, target.params()):
            try:
                dispatch(address, args, target, self.commands())
            except ImfitError as e:
                ignored(f"midi: {address} {_short(args)} ignored: {e}")

    def learn_next(self, stop: bool) -> None:
        """`l`: learn the next parameter (cycling); `L`: leave learn mode."""
        from imfit.live.midi import learnable

        target = self.target()
        if stop or target is None:
            self.learning = None
            self.echo("midi learn: off")
            return
        names = learnable(target.params())
        i = names.index(self.learning) + 1 if self.learning in names else 0
        self.learning = names[i % len(names)]
        self.echo(f"midi learn: move a control for {self.learning} (l: next, L: stop)")

    def react(self) -> Callable[[], None]:
        """--audio-in: set this frame's reacted values (the offline rule, `modulate`, around
        the values the keys/OSC/MIDI set) and return what puts those back after the draw,
        keeping what the draw itself moved (drift advancing the phase)."""
        from imfit.live.audio import modulate

        audio, target = self.live.audio_in, self.target()
        if audio is None or not self.live.reactions or target is None:
            return lambda: None
        levels = audio.levels()
        params = target.params()
        done: list[tuple[str, Any, Any]] = []
        for r in self.live.reactions:
            p = params.get(r.param)
            if p is None or p.kind == "str":
                continue
            base = target.value(r.param)
            level = levels[r.signal]
            try:
                done.append((r.param, base,
                             target.set_param(r.param, modulate(p, base, r.amount, level))))
            except ImfitError:
                pass  # refused (e.g. beyond a preset's stable step): this frame unreacted

        def undo() -> None:
            for name, base, set_to in reversed(done):
                p = params[name]
                now = target.value(name)
                target.set_param(name, base if p.log else base + (now - set_to))

        return undo

    def poll_controls(self) -> None:
        if self.live.osc_in is not None:
            for address, args in self.live.osc_in.poll():
                self.on_osc(address, args)
        if self.live.midi_in is not None:
            for msg in self.live.midi_in.poll():
                self.on_midi(msg)

    def send_state(self) -> None:
        """--osc-out: every live value that changed since the last frame."""
        from imfit.live.control import state

        target = self.target()
        if self.live.osc_out is not None and target is not None:
            self.live.osc_out.send_changes(state(target))

    def wait_for_packets(self, n: int) -> None:
        """Test mode: hold the frame until `n` control packets have arrived in all."""
        osc = self.live.osc_in
        if osc is None:
            raise ImfitError("a `wait` event needs --osc PORT")
        deadline = time.monotonic() + WAIT_TIMEOUT
        while osc.received < n:
            self.poll_controls()
            if time.monotonic() > deadline:
                raise ImfitError(f"test mode: waited {WAIT_TIMEOUT:g} s for {n} OSC packets, "
                                 f"got {osc.received}")
            time.sleep(0.001)

    # -- events ------------------------------------------------------------------------------
    def on_key(self, name: str, shift: bool) -> None:
        if name in ("escape", "q"):
            self.quit()
        elif name == "h":
            self.print_help()
        elif name == "f12":
            self.take_screenshot()
        elif name == "f9":
            self.set_recording(self.recorder is None)
        elif name == "f11":
            self.set_fullscreen(self.windowed is None)
        elif name == "l":
            self.learn_next(shift)
        elif self.scene.key(name, shift):
            pass
        elif name == "c":
            self.take_screenshot()
        elif name == "v":
            self.set_recording(self.recorder is None)

    def on_mouse_move(self, x: float, y: float) -> None:
        r = self.pixel_ratio()
        last, self.cursor = self.cursor, (x * r, y * r)
        if self.dragging and last is not None:
            self.scene.drag(x * r - last[0], y * r - last[1], *self.size())

    def on_mouse_button(self, left: bool, pressed: bool) -> None:
        if left:
            self.dragging = pressed

    def on_scroll(self, amount: float) -> None:
        w, h = self.size()
        x, y = self.cursor or (w / 2, h / 2)
        self.scene.scroll(amount, x, y, w, h)

    def on_event(self, ev: Event) -> None:
        import glfw

        if ev.kind == "key":
            name = ev.args[0].lower()
            self.on_key(name.removeprefix("shift+"), name.startswith("shift+"))
        elif ev.kind == "drag":
            self.scene.drag(float(ev.args[0]), float(ev.args[1]), *self.size())
        elif ev.kind == "scroll":
            self.scene.scroll(float(ev.args[0]), float(ev.args[1]), float(ev.args[2]),
                              *self.size())
        elif ev.kind == "resize":
            want = (int(float(ev.args[0])), int(float(ev.args[1])))
            glfw.set_window_size(self.win, *want)
            self._wait_size(want)
        elif ev.kind == "shot":
            self.take_screenshot()
        elif ev.kind == "wait":
            self.wait_for_packets(int(ev.args[0]))
        elif ev.kind == "midi":
            self.on_midi(midi_message(*ev.args))

    def on_render(self, t: float, width: int, height: int) -> None:
        """Draw one frame at time `t`, then capture it where a screenshot, the recording or
        the test mode's last frame needs it."""
        from imfit.formats.images import save_png

        self.ctx.screen.use()
        self.ctx.viewport = (0, 0, width, height)
        undo = self.react()
        self.scene.draw(self.ctx, width, height, t)
        undo()
        last_test_frame = self.test and self.frame == (self.frames or 0) - 1
        if self.want_shot or self.recorder is not None or last_test_frame:
            self.last_rgb = read_screen(self.ctx, width, height)
        if self.recorder is not None and self.last_rgb is not None:
            if not self.recorder.add(self.last_rgb):
                self.echo("window resized: " + self.recorder.stop())
                self.recorder = None
        if self.want_shot and self.last_rgb is not None:
            self.want_shot = False
            path = save_png(self.last_rgb.astype(np.float32) / 255.0,
                            free_path(self.out_dir, "imfit-shot", ".png"), overwrite=False)
            self.echo(f"screenshot {path}")

    def on_close(self) -> None:
        """Finish what is open: the recording is written, the test screenshot saved."""
        from imfit.formats.images import save_png

        if self.test and self.screenshot is not None and self.last_rgb is not None:
            save_png(self.last_rgb.astype(np.float32) / 255.0, self.screenshot)
        if self.test and self.frame_times:
            ms = 1000 * np.asarray(self.frame_times)
            self.echo(f"frame time: median {np.median(ms):.2f} ms, 90th percentile "
                      f"{np.percentile(ms, 90):.2f} ms over {len(ms)} frames")

    # -- the loop ----------------------------------------------------------------------------
    def _open(self) -> None:
        import glfw

        self.win, self.ctx = open_window(self.width, self.height, self.title,
                                         monitor=self.monitor if self.start_fullscreen else None)
        self._names = _key_names()
        if self.start_fullscreen:
            self.set_fullscreen(True)
        glfw.swap_interval(0 if self.test else 1)

        def key_cb(_w: Any, key: int, _sc: int, action: int, mods: int) -> None:
            if action in (glfw.PRESS, glfw.REPEAT) and key in self._names:
                self.on_key(self._names[key], bool(mods & glfw.MOD_SHIFT))

        glfw.set_key_callback(self.win, key_cb)
        glfw.set_cursor_pos_callback(self.win, lambda _w, x, y: self.on_mouse_move(x, y))
        glfw.set_mouse_button_callback(
            self.win, lambda _w, b, a, _m: self.on_mouse_button(b == glfw.MOUSE_BUTTON_LEFT,
                                                                a == glfw.PRESS))
        glfw.set_scroll_callback(self.win, lambda _w, _dx, dy: self.on_scroll(dy))

    def run(self) -> None:
        """Open the window and drive the scene until the user quits (or the test ends)."""
        import glfw

        from viewer.gl_render import moderngl_default

        prev = moderngl_default()  # a headless context in this process keeps working afterwards
        self._open()
        if self.on_open is not None:
            self.on_open()
        t0 = time.perf_counter()
        fps_t, fps_n = t0, 0
        try:
            while not glfw.window_should_close(self.win):
                glfw.poll_events()
                if self.test:
                    for ev in self.events:
                        if ev.frame == self.frame:
                            self.on_event(ev)
                start = time.perf_counter()  # a test `wait` is not frame time
                self.poll_controls()
                w, h = self.size()
                if w == 0 or h == 0:  # minimised
                    glfw.wait_events_timeout(0.1)
                    continue
                self.t = self.frame / TEST_FPS if self.test else time.perf_counter() - t0
                self.on_render(self.t, w, h)
                self.send_state()
                glfw.swap_buffers(self.win)
                now = time.perf_counter()
                self.frame_times.append(now - start)
                self.frame += 1
                fps_n += 1
                if now - fps_t >= 0.5:
                    glfw.set_window_title(self.win, f"{self.title} | {self.scene.status()} | "
                                                    f"{fps_n / (now - fps_t):.0f} fps")
                    fps_t, fps_n = now, 0
                if self.test and self.frame >= (self.frames or 0):
                    break
                if self.should_close is not None and self.should_close():
                    break
            self.on_close()
        finally:
            self.set_recording(False)
            self.live.close()
            self._set_scene(self.home)
            self.ctx.release()
            glfw.destroy_window(self.win)
            glfw.terminate()
            if prev is not None and prev is not self.ctx:
                prev.__enter__()


def run_window(scene: Scene, width: int = 960, height: int = 540, title: str = "imfit",
               frames: int | None = None, events: list[Event] | None = None,
               screenshot: Path | None = None, out_dir: Path = Path("."),
               should_close: Callable[[], bool] | None = None,
               on_open: Callable[[], None] | None = None,
               echo: Callable[[str], None] = print,
               live: LiveInputs | None = None) -> WindowRunner:
    """Open a window and drive `scene` until the user quits (see `WindowRunner`); the stage
    settings (--fullscreen, --monitor) come with `live`."""
    stage = live.stage if live is not None else (False, 0)
    runner = WindowRunner(scene, width, height, title, frames, events, screenshot, out_dir,
                          should_close, on_open, echo, live, *stage)
    runner.run()
    return runner
