import numpy as np
import pytest
from PIL import Image

from imfit import ImfitError
from imfit.formats.images import load_target, load_weight, read_image, save_png


def test_grayscale_rgba_16bit_palette(tmp_path, assets):
    rgb, a = read_image(assets / "camera.png")
    assert rgb.shape[-1] == 3 and a is None and np.allclose(rgb[..., 0], rgb[..., 2])
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 16:, 3] = 255  # right half opaque red, left half transparent
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    rgb, a = read_image(tmp_path / "rgba.png")
    assert a is not None and a.min() == 0 and a.max() == 1
    comp, w = load_target(tmp_path / "rgba.png", 32, alpha="composite", background=(1, 1, 1))
    assert w is None and np.allclose(comp[0, 0], 1) and np.allclose(comp[0, -1], [1, 0, 0])
    _, w = load_target(tmp_path / "rgba.png", 32, alpha="weight")
    assert w is not None and w[0, 0] == 0 and w[0, -1] == 1
    g16 = (np.linspace(0, 65535, 64 * 32).reshape(32, 64)).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    rgb, _ = read_image(tmp_path / "g16.png")
    assert rgb.max() == pytest.approx(1.0) and len(np.unique(rgb[..., 0])) > 1000
    Image.open(assets / "astronaut.png").convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png")[0].shape == (256, 256, 3)


@pytest.mark.parametrize("orientation, quadrants", [
    # EXIF 6: the stored picture is shown turned 90 degrees clockwise; 8: counter-clockwise.
    # Stored quadrants: red top-left, green top-right, blue bottom-left, white bottom-right.
    (6, [(0, 0, 1), (1, 0, 0), (1, 1, 1), (0, 1, 0)]),
    (8, [(0, 1, 0), (1, 1, 1), (1, 0, 0), (0, 0, 1)]),
])
def test_exif_orientation_is_honoured(tmp_path, orientation, quadrants):
    """Where each stored corner lands on display, not just the turned shape (90 and 270
    degrees have the same shape)."""
    a = np.zeros((20, 40, 3), np.uint8)
    a[:10, :20], a[:10, 20:], a[10:, :20], a[10:, 20:] = (255, 0, 0), (0, 255, 0), (0, 0, 255), 255
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(tmp_path / "o.jpg", exif=exif, quality=95)
    rgb, _ = read_image(tmp_path / "o.jpg")
    assert rgb.shape[:2] == (40, 20)
    # display order: top-left, top-right, bottom-left, bottom-right quadrant centres
    got = [tuple(int(v) for v in np.round(rgb[y, x])) for y, x in ((5, 5), (5, 15), (35, 5),
                                                                   (35, 15))]
    assert got == quadrants


def test_area_resize_keeps_aspect_and_mean(assets):
    t, _ = load_target(assets / "chelsea.png", 64)
    assert t.shape == (43, 64, 3)
    full, _ = read_image(assets / "chelsea.png")
    assert abs(float(t.mean()) - float(full.mean())) < 2e-3


@pytest.mark.parametrize("make, msg", [
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10), "not an image|corrupt"),
    (lambda p: p.write_bytes(open_truncated()), "corrupt or truncated"),
    (lambda p: Image.new("RGB", (1, 1)).save(p, format="PNG"), "at least"),
    (lambda p: p.write_text("hello"), "not an image"),
])
def test_bad_images(tmp_path, make, msg):
    f = tmp_path / "bad.png"
    make(f)
    with pytest.raises(ImfitError, match=msg):
        load_target(f, 64)


def open_truncated() -> bytes:
    import io

    buf = io.BytesIO()
    Image.effect_noise((200, 200), 50).convert("RGB").save(buf, format="PNG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def test_decompression_bomb_header_is_refused(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")
    f = tmp_path / "bomb.png"
    f.write_bytes(data)
    with pytest.raises(ImfitError, match="megapixel|bomb"):
        load_target(f, 64)


def test_missing_and_directory(tmp_path):
    with pytest.raises(ImfitError, match="no such file"):
        load_target(tmp_path / "nope.png", 64)
    with pytest.raises(ImfitError, match="directory"):
        load_target(tmp_path, 64)


def test_weight_of_another_aspect_is_refused(tmp_path):
    Image.new("L", (100, 20), 255).save(tmp_path / "w.png")
    with pytest.raises(ImfitError, match="aspect"):
        load_weight(tmp_path / "w.png", 64, 64)


def test_save_png_refuses_to_clobber_when_asked(tmp_path):
    f = tmp_path / "a.png"
    save_png(np.zeros((4, 4, 3)), f)
    with pytest.raises(ImfitError, match="exists"):
        save_png(np.ones((4, 4, 3)), f, overwrite=False)
    with pytest.raises(ImfitError, match="extension"):
        save_png(np.ones((4, 4, 3)), tmp_path / "a.xyz")


# -- 16-bit colour PNG -------------------------------------------------------------------------
def _png16(path, a, exif: bytes | None = None) -> None:
    """A 16-bit PNG written by hand (zlib + struct, filter 0), so the expectation does not come
    from the reader under test. a: (H, W, C) uint16, C = 2 (grey+alpha), 3 (RGB), 4 (RGBA)."""
    import struct
    import zlib

    h, w, c = a.shape
    colour_type = {2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    extra = chunk(b"eXIf", exif) if exif is not None else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("planes", [3, 4, 2])
def test_16bit_colour_png_keeps_every_level(tmp_path, planes):
    """A gradient of 16-bit levels one step apart (1/65535, far below 1/255): each level is its
    own float, equal to value / 65535 (Pillow alone gives 8 bits: ~1/257 as many levels)."""
    h, w = 4, 64
    base = 30000 + np.arange(h * w, dtype=np.uint16).reshape(h, w)
    chans = [base, base + 7000, base + 14000, 65535 - base][:planes]
    if planes == 2:
        chans = [base, 65535 - base]
    a = np.stack(chans, -1).astype(np.uint16)
    _png16(tmp_path / "g.png", a)
    rgb, alpha = read_image(tmp_path / "g.png")
    want = a.astype(np.float64) / 65535
    if planes == 2:
        np.testing.assert_allclose(rgb, np.repeat(want[..., :1], 3, -1), atol=1e-7, rtol=0)
    else:
        np.testing.assert_allclose(rgb, want[..., :3], atol=1e-7, rtol=0)
    if planes in (2, 4):
        assert alpha is not None
        np.testing.assert_allclose(alpha, want[..., -1], atol=1e-7, rtol=0)
    else:
        assert alpha is None
    assert len(np.unique(rgb[..., 0])) == h * w  # 256 distinct levels inside 256/65535


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_png_exif_orientation_matches_pillow(tmp_path, orientation):
    """Each EXIF orientation turns a 16-bit PNG as Pillow turns the same picture at 8 bits."""
    rng = np.random.default_rng(orientation)
    a8 = rng.integers(0, 256, (6, 10, 3)).astype(np.uint8)
    a16 = a8.astype(np.uint16) * 257  # the same picture: v8 * 257 / 65535 == v8 / 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    _png16(tmp_path / "o16.png", a16, exif.tobytes())
    im = Image.fromarray(a8)
    im.save(tmp_path / "o8.png", exif=exif)
    got, _ = read_image(tmp_path / "o16.png")
    want, _ = read_image(tmp_path / "o8.png")
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_truncated_16bit_png_is_one_line(tmp_path):
    _png16(tmp_path / "t.png", np.full((40, 40, 3), 1234, np.uint16))
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImfitError, match="corrupt or truncated"):
        read_image(tmp_path / "t.png")
