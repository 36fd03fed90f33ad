"""What the window runner drives: anything that can draw a frame and answer keys and the mouse.

The runner (`viewer.window.run_window`) owns the window, the fps title, resizing, `h` (help),
screenshots, recording, quitting and the scripted test mode; a scene owns its picture and its
own keys. The Gabor viewer (`viewer.gabor_scene.GaborScene`) and the live diffusion scene both
implement this, so every runner feature works for both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import moderngl


@runtime_checkable
class Scene(Protocol):
    def draw(self, ctx: moderngl.Context, width: int, height: int, t: float) -> None:
        """Draw the frame into the framebuffer bound now (the window's screen, or an offscreen
        target in test/headless mode); the viewport is already (0, 0, width, height).
        `t` is seconds since start (a fixed step per frame in test mode, so runs repeat)."""
        ...

    def key(self, key: str, shift: bool) -> bool:
        """A key press, as glfw's lower-case name ("s", "up", "space", "left_bracket"...).
        Returns True when the scene used it."""
        ...

    def drag(self, dx: float, dy: float, width: int, height: int) -> None:
        """Mouse drag by (dx, dy) pixels, y down (pan)."""
        ...

    def scroll(self, amount: float, x: float, y: float, width: int, height: int) -> None:
        """Wheel by `amount` notches at cursor pixel (x, y), y down from the top (zoom)."""
        ...

    def help(self) -> list[tuple[str, str]]:
        """(key, what it does) lines that `h` prints after the runner's own."""
        ...

    def status(self) -> str:
        """Short text for the title bar (the runner adds fps)."""
        ...
