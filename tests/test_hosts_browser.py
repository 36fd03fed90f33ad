"""The web, ISF and Shadertoy exports in the real host programs: headless Chromium (Debian's
`chromium` + `chromedriver`, software WebGL through SwiftShader), the ISF reference renderer from
npm (`interactive-shader-format`, the one the ISF site runs, bundled by esbuild) and a page that
wraps the code as shadertoy.com's image pass does. Each renders a real fit; the pixels read back
from the canvas must be `imfit.render` (torch) within 2/255, at the default view and with
pan/zoom/gain/phase inputs set the way a user sets them.

Pages come from a loopback HTTP server; Chromium resolves no other host, and every request the
pages make is checked to be that server's (no page may load anything from the network).

Hosts: `bash .ci/hosts/web.sh` installs them. Without one, the tests skip here and FAIL in CI.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import IN_CI, random_params
from tolerances import BROWSER_VS_TORCH

import exporters
import imfit

HOSTS = Path(__file__).resolve().parent / "hosts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
# /work/shared/reference/hosts.md: the flags that give WebGL2 in headless Chromium without a GPU
FLAGS = ["--headless=new", "--no-sandbox", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--force-device-scale-factor=1",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
# Counts what the page draws and schedules, installed before any page script runs.
COUNTERS_JS = """
window.__draws = 0; window.__rafs = 0;
const imfitDraw = WebGL2RenderingContext.prototype.drawArrays;
WebGL2RenderingContext.prototype.drawArrays = function (...a) {
  window.__draws++; return imfitDraw.apply(this, a); };
const imfitRaf = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (cb) => { window.__rafs++; return imfitRaf(cb); };
"""
# The canvas as base64 RGBA rows, bottom row first (gl.readPixels order).
READBACK_JS = """
const c = document.getElementById(arguments[0]);
const gl = c.getContext(arguments[1]);
const px = new Uint8Array(c.width * c.height * 4);
gl.readPixels(0, 0, c.width, c.height, gl.RGBA, gl.UNSIGNED_BYTE, px);
let s = "";
for (let i = 0; i < px.length; i += 0x8000) {
  s += String.fromCharCode.apply(null, px.subarray(i, i + 0x8000));
}
return [c.width, c.height, btoa(s)];
"""


def unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {why} (.ci/hosts/web.sh installs it)")
    pytest.skip(f"{why}: run `bash .ci/hosts/web.sh`")


# -- the loopback server and the browser ----------------------------------------------------
class Server:
    """A loopback HTTP server over one folder, remembering every path asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.asked: list[tuple[str, int]] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-") -> None:  # noqa: ANN001 - stdlib signature
                server.asked.append((self.path, int(code) if str(code).isdigit() else 0))

            def log_message(self, *args) -> None:  # noqa: ANN002 - silence stderr
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Browser:
    """One headless Chromium tab (selenium + Debian chromedriver) and the loopback server."""

    def __init__(self, root: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in FLAGS + [f"--user-data-dir={root / 'profile'}"]:
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.server = Server(root / "www")
        self.driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        self.driver.set_script_timeout(180)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": COUNTERS_JS})
        self.viewport(64, 64)

    def viewport(self, w: int, h: int) -> None:
        """The page's CSS viewport, in pixels of a 1x screen (headless windows have none)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})

    def open(self, path: str) -> None:
        self.driver.get(self.server.base + path)

    def js(self, script: str, *args):  # noqa: ANN002, ANN201 - whatever the script returns
        return self.driver.execute_script(script, *args)

    def pixels(self, canvas: str, kind: str) -> np.ndarray:
        """The canvas as float (H, W, 3) in 0..1, top row first."""
        w, h, b64 = self.js(READBACK_JS, canvas, kind)
        rgba = np.frombuffer(base64.b64decode(b64), np.uint8).reshape(h, w, 4)
        return rgba[::-1, :, :3].astype(np.float32) / 255.0

    def requests(self) -> list[str]:
        """Every URL the pages asked for since the last call (Chromium's network log)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
        return urls

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Until the web page has drawn at least once and asks for no further frame."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.js("const v = window.imfit; return v ? [v.pending, v.frames] : null;")
            if state and not state[0] and state[1] > 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"the page did not settle within {timeout:.0f} s: "
                             f"{self.js('return document.body.innerText')}")

    def close(self) -> None:
        self.driver.quit()
        self.server.close()


@pytest.fixture(scope="module")
def isf_bundle(tmp_path_factory) -> Path:
    """The ISF reference renderer for a page: esbuild bundles the npm package to one script."""
    node = shutil.which("node")
    esbuild = HOSTS / "node_modules" / ".bin" / "esbuild"
    main = HOSTS / "node_modules" / "interactive-shader-format" / "lib" / "main.js"
    if node is None:
        unavailable("node is not installed")
    if not esbuild.exists() or not main.exists():
        unavailable("the npm packages in tests/hosts/ are not installed")
    out = tmp_path_factory.mktemp("isf") / "isf.js"
    r = subprocess.run([str(esbuild), str(main), "--bundle", "--format=iife", "--global-name=ISF",
                        "--alias:crypto=./browser-crypto.js", f"--outfile={out}",
                        "--log-level=warning"], cwd=HOSTS, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"esbuild failed:\n{r.stdout}{r.stderr}"
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory, isf_bundle):
    try:
        import selenium  # noqa: F401
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[dev]')")
    if CHROMIUM is None or DRIVER is None:
        unavailable("chromium / chromedriver are not installed")
    root = tmp_path_factory.mktemp("browser")
    www = root / "www"
    (www / "hosts" / "build").mkdir(parents=True)
    for page in ("isf.html", "shadertoy.html"):
        shutil.copy(HOSTS / page, www / "hosts" / page)
    shutil.copy(isf_bundle, www / "hosts" / "build" / "isf.js")
    b = Browser(root)
    b.requests()
    yield b
    b.close()


@pytest.fixture
def page(browser):
    """The browser, checked after each test: nothing but the loopback server was asked for,
    and everything asked for was there."""
    yield browser
    foreign = [u for u in browser.requests()
               if not u.startswith((browser.server.base, "data:", "blob:", "about:"))]
    assert not foreign, f"a page asked the network for {foreign}"
    missing = [p for p, code in browser.server.asked if code >= 400]
    assert not missing, f"pages asked for files that are not there: {missing}"
    browser.server.asked.clear()


def export(gs: imfit.GaborSet, target: str, browser: Browser, name: str, **kw) -> Path:
    out = browser.server.root / name
    exporters.export(gs, target, out, stem="fit", force=True, **kw)
    return out


# -- expectations ---------------------------------------------------------------------------
def edited(gs: imfit.GaborSet, gain: float = 1.0, phase: float = 0.0) -> imfit.GaborSet:
    """What gain and phase mean: every amplitude times gain, every phase plus phase."""
    p = gs.params.astype(np.float64).copy()
    p[:, 6:9] += phase
    p[:, 9:12] *= gain
    return gs.replace(params=p.astype(np.float32))


def plane(frag: tuple[float, float], res: tuple[int, int], center, zoom: float) -> np.ndarray:
    """GL window pixel (origin bottom-left) -> plane point (y down, 1 unit = half the height)."""
    s = 2.0 / (zoom * res[1])
    return np.asarray(center, float) + np.array([frag[0] - 0.5 * res[0],
                                                 0.5 * res[1] - frag[1]]) * s


def compare(out: np.ndarray, ref: np.ndarray, what: str) -> float:
    assert out.shape == ref.shape, f"{what}: {out.shape} vs {ref.shape}"
    err = float(np.abs(out - ref).max())
    print(f"\n{what}: max |browser - torch| = {err * 255:.3f}/255")
    assert err <= BROWSER_VS_TORCH, f"{what}: max |browser - torch| = {err * 255:.2f}/255"
    assert out.std() > 0.05, f"{what}: the picture is flat"  # a blank frame matches nothing here
    return err


# -- web ------------------------------------------------------------------------------------
def open_web(page: Browser, folder: str, w: int = 64, h: int = 64) -> None:
    page.viewport(w, h)
    page.open(f"{folder}/index.html")
    page.wait_idle()


def test_web_page_opens_on_the_photo_and_stops_drawing(page, small_fit):
    gs = small_fit[0]
    export(gs, "web", page, "web")
    open_web(page, "web", 80, 64)  # wider than the fit: the canvas keeps the fit's aspect
    assert page.js("return document.getElementById('drift').value") == "0"
    compare(page.pixels("view", "webgl2"), imfit.render(gs, 64, 64), "web, default view")
    before = page.js("return [window.__draws, window.__rafs]")
    time.sleep(1.0)
    after = page.js("return [window.__draws, window.__rafs]")
    assert after == before, f"an idle page kept drawing: (draws, frames asked) {before} -> {after}"


def test_web_page_pan_zoom_gain_phase_from_the_controls(page, small_fit):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    gs = small_fit[0]
    export(gs, "web", page, "web")
    open_web(page, "web", 200, 160)
    assert page.js("return [imfit.canvas.width, imfit.canvas.height]") == [160, 160]
    canvas = page.driver.find_element("id", "view")
    # the controls cover most of so small a window: h hides them
    ActionChains(page.driver).send_keys("h").perform()
    # drag 12 px right, 8 px down: the picture follows the pointer
    ActionChains(page.driver).move_to_element_with_offset(canvas, 0, -50).click_and_hold() \
        .move_by_offset(12, 8).release().perform()
    page.wait_idle()
    cx, cy = page.js("return [imfit.view.cx, imfit.view.cy]")
    assert np.allclose([cx, cy], [-12 * 2 / 160, -8 * 2 / 160], atol=1e-6)
    ActionChains(page.driver).scroll_from_origin(ScrollOrigin.from_element(canvas, 0, -50), 0,
                                                 -300).perform()
    page.wait_idle()
    zoom = page.js("return imfit.view.zoom")
    assert zoom > 1.2, f"wheel up should zoom in, zoom = {zoom}"
    for slider, value in (("gain", 1.4), ("phase", 2.0)):
        page.js("const s = document.getElementById(arguments[0]); s.value = arguments[1];"
                "s.dispatchEvent(new Event('input'));", slider, value)
    page.wait_idle()
    cx, cy, zoom, gain, phase = page.js(
        "return [imfit.view.cx, imfit.view.cy, imfit.view.zoom, imfit.gain, imfit.phase]")
    assert (gain, phase) == (1.4, 2.0)
    ref = imfit.render(edited(gs, gain, phase), 160, 160, center=(cx, cy), zoom=zoom)
    compare(page.pixels("view", "webgl2"), ref, "web, pan/zoom/gain/phase")


def test_web_page_drift_never_jumps_the_picture(page, small_fit):
    gs = small_fit[0]
    export(gs, "web", page, "web")
    open_web(page, "web")
    set_slider = ("const s = document.getElementById(arguments[0]); s.value = arguments[1];"
                  "s.dispatchEvent(new Event('input')); return imfit.phase;")
    page.js(set_slider, "phase", 2.0)
    page.js(set_slider, "drift", 1.0)
    deadline = time.monotonic() + 60
    while page.js("return window.__draws") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    moving = page.js("return imfit.phase")
    assert moving != 2.0, "drift 1 rad/s did not move the phase"
    # stop the drift: the picture stays where it is (at most one capped frame at 1 rad/s later)
    before = page.js(set_slider, "drift", 0.0)
    page.wait_idle()
    after = page.js("return imfit.phase")
    jump = abs((after - before + np.pi) % (2 * np.pi) - np.pi)
    assert jump <= 0.25 + 1e-6, f"changing the drift jumped the phase {before:.3f} -> {after:.3f}"
    assert page.js("return Number(document.getElementById('phase').value)") == \
        pytest.approx(after, abs=1e-6)
    compare(page.pixels("view", "webgl2"), imfit.render(edited(gs, phase=after), 64, 64),
            "web, after drifting")


def test_web_page_renders_more_wavelets_than_a_texture_row_holds(page):
    # 9000 wavelets: beyond one row of 8192 / 3 (SwiftShader's MAX_TEXTURE_SIZE), and beyond the
    # 8192 rows a 3 x N strip may have. Small amplitudes so the sum stays inside 0..1.
    p = random_params(9000, seed=3)
    p[:, 9:12] *= 0.04
    gs = imfit.GaborSet(p, 24, 24)
    export(gs, "web", page, "web-9000")
    open_web(page, "web-9000", 24, 24)
    assert page.js("return gl.getParameter(gl.MAX_TEXTURE_SIZE)") < 3 * len(gs)
    rows = page.js("return imfit.layout.rows")
    assert rows > 1
    compare(page.pixels("view", "webgl2"), imfit.render(gs, 24, 24), "web, 9000 wavelets")


def test_web_page_says_when_the_gpu_cannot_hold_the_wavelets(page, small_fit):
    # A GPU whose textures are at most 12 texels a side holds 4 x 12 = 48 wavelets: 96 must be
    # refused on the page in words, not drawn as a flat colour.
    small_gpu = page.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": """
        const imfitGet = WebGL2RenderingContext.prototype.getParameter;
        WebGL2RenderingContext.prototype.getParameter = function (p) {
          return p === this.MAX_TEXTURE_SIZE ? 12 : imfitGet.call(this, p); };"""})
    try:
        export(small_fit[0], "web", page, "web")
        page.viewport(64, 64)
        page.open("web/index.html")
        msg = page.js("return document.getElementById('msg').textContent")
        assert "96 wavelets" in msg and "12 x 12" in msg and "--max" in msg, msg
    finally:
        page.driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", small_gpu)


def test_web_page_keys_hide_the_controls_and_go_fullscreen(page, small_fit):
    from selenium.webdriver.common.action_chains import ActionChains

    export(small_fit[0], "web", page, "web")
    open_web(page, "web")
    shown = "return getComputedStyle(document.getElementById('ui')).display !== 'none'"
    assert page.js(shown)
    ActionChains(page.driver).send_keys("h").perform()
    assert not page.js(shown)
    ActionChains(page.driver).send_keys("h").perform()
    assert page.js(shown)
    ActionChains(page.driver).send_keys("f").perform()
    deadline = time.monotonic() + 10
    while not page.js("return !!document.fullscreenElement") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert page.js("return !!document.fullscreenElement"), "f did not go fullscreen"
    assert not page.js(shown)
    page.js("document.exitFullscreen()")
    deadline = time.monotonic() + 10
    while not page.js(shown) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert page.js(shown), "leaving fullscreen should bring the controls back"


# -- ISF ------------------------------------------------------------------------------------
def isf_render(page: Browser, src: str, inputs: dict, w: int, h: int) -> np.ndarray:
    page.viewport(w, h)
    page.open("hosts/isf.html")
    names = page.js("return host.render(arguments[0], arguments[1], arguments[2], arguments[3])",
                    src, inputs, w, h)
    assert set(inputs) <= set(names)
    return page.pixels("c", "webgl")


def test_isf_in_the_reference_renderer_matches_torch(page, small_fit):
    gs = small_fit[0]
    src = (export(gs, "isf", page, "isf") / "fit.fs").read_text()
    compare(isf_render(page, src, {}, 64, 48), imfit.render(gs, 64, 48), "isf, defaults")
    inputs = {"gain": 1.3, "phase": 2.5, "zoom": 1.7, "center": [0.2, -0.15]}
    ref = imfit.render(edited(gs, 1.3, 2.5), 64, 48, center=(0.2, -0.15), zoom=1.7)
    compare(isf_render(page, src, inputs, 64, 48), ref, "isf, gain/phase/zoom/center")


# -- Shadertoy ------------------------------------------------------------------------------
def shadertoy_render(page: Browser, src: str, values: dict, w: int, h: int) -> np.ndarray:
    page.viewport(w, h)
    page.open("hosts/shadertoy.html")
    page.js("host.render(arguments[0], arguments[1], arguments[2], arguments[3])", src, values,
            w, h)
    return page.pixels("c", "webgl2")


def test_shadertoy_image_pass_matches_torch(page, small_fit):
    gs = small_fit[0]
    src = (export(gs, "shadertoy", page, "st") / "fit.shadertoy.glsl").read_text()
    compare(shadertoy_render(page, src, {}, 64, 48), imfit.render(gs, 64, 48),
            "shadertoy, defaults")
    # the user edits the constants at the top and holds the mouse: pressed at (30, 25), now at
    # (40, 20) (Shadertoy: zw = click, w < 0 after the click frame)
    edits = {"GAIN = 1.0;": "GAIN = 0.8;", "PHASE = 0.0;": "PHASE = -1.2;"}
    for old, new in edits.items():
        assert src.count(f"const float {old}") == 1
        src = src.replace(f"const float {old}", f"const float {new}")
    grabbed = plane((30, 25), (64, 48), (0, 0), 1.0)
    zoom = 3.0  # MOUSE_ZOOM
    center = grabbed - plane((40, 20), (64, 48), (0, 0), zoom)
    ref = imfit.render(edited(gs, 0.8, -1.2), 64, 48, center=tuple(center), zoom=zoom)
    out = shadertoy_render(page, src, {"iMouse": [40, 20, 30, -25], "iTime": 7.0}, 64, 48)
    compare(out, ref, "shadertoy, GAIN/PHASE + mouse held")
