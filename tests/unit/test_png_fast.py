"""The libspng PNG path (imgproc.png_fast): Pillow's pixels and Pillow's rejections.

Every test decodes the same bytes twice, through the fast path and with libspng
hidden (Pillow's decoder), and compares the whole outcome: the pixels, mode,
orientation and ICC handling, or the rejection reason.
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator

import pytest
from PIL import Image, ImageFile

from imgproc import ImageRejected, png_fast, process
from imgproc.engine import decode_upright
from tests.unit.images import encode, exif_bytes, png_chunk, quadrants, swapped_primaries_icc

pytestmark = pytest.mark.skipif(not png_fast.available(), reason="pyspng (libspng) not installed")

SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
"""Adam7 passes: (x start, y start, x step, y step) (PNG specification, 8.2)."""


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Modes of the images the fast path decoded during the test."""
    calls: list[str] = []
    install = png_fast._install

    def spy(image: ImageFile.ImageFile, pixels: Image.Image) -> None:
        calls.append(pixels.mode)
        install(image, pixels)

    monkeypatch.setattr(png_fast, "_install", spy)
    return calls


Outcome = tuple[object, ...]


def outcome(data: bytes, **limits: int) -> Outcome:
    """What the engine makes of ``data`` at full size: pixels and facts, or the reason."""
    try:
        upright = decode_upright(data, max_dim=1 << 20, **limits)
    except ImageRejected as rejection:
        return ("rejected", rejection.reason)
    image = upright.image
    return (
        image.mode,
        image.size,
        image.tobytes(),
        upright.original_mode,
        upright.orientation,
        upright.icc_converted,
        upright.animated,
    )


def pillow_outcome(data: bytes, monkeypatch: pytest.MonkeyPatch, **limits: int) -> Outcome:
    """:func:`outcome` with libspng hidden: Pillow's decoder only."""
    with monkeypatch.context() as patch:
        patch.setattr(png_fast, "_library", lambda: None)
        return outcome(data, **limits)


def both(data: bytes, monkeypatch: pytest.MonkeyPatch, **limits: int) -> Outcome:
    """The fast path's outcome, asserted equal to Pillow's."""
    fast = outcome(data, **limits)
    assert fast == pillow_outcome(data, monkeypatch, **limits)
    return fast


# --- PNGs by hand ------------------------------------------------------------


def chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(type, offset of the length field, payload length)`` of each chunk."""
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        yield kind, offset, length
        offset += 12 + length


def idat_payload(data: bytes) -> bytes:
    return b"".join(data[o + 8 : o + 8 + n] for kind, o, n in chunks(data) if kind == b"IDAT")


def with_idat(data: bytes, *idats: bytes, after: bytes = b"") -> bytes:
    """``data`` with its IDAT chunks replaced by ``idats`` (one chunk each), then ``after``."""
    parts = [SIGNATURE]
    placed = False
    for kind, offset, length in chunks(data):
        if kind == b"IDAT":
            if not placed:
                parts += [png_chunk(b"IDAT", idat) for idat in idats]
                parts.append(after)
                placed = True
            continue
        parts.append(data[offset : offset + 12 + length])
    return b"".join(parts)


def noise(size: tuple[int, int], mode: str, seed: int = 1) -> Image.Image:
    """Random pixels of ``mode`` (every filter type has work to do)."""
    rng = random.Random(seed)
    n = size[0] * size[1] * len(mode)
    return Image.frombytes(mode, size, rng.randbytes(n))


def smooth(size: tuple[int, int], mode: str) -> Image.Image:
    """Gradients with edges and partial alpha: what photos with alpha look like."""
    image = quadrants(size, "RGB")
    image = Image.blend(image, Image.linear_gradient("L").resize(size).convert("RGB"), 0.4)
    if mode == "RGBA":
        image.putalpha(Image.radial_gradient("L").resize(size))
    return image


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filtered(rows: list[bytes], bpp: int, filters: list[int]) -> bytes:
    """Scanlines with the given filter type (0-4) on each row (PNG specification, 9)."""
    out = bytearray()
    previous = bytes(len(rows[0])) if rows else b""
    for row, kind in zip(rows, filters, strict=True):
        line = bytearray(len(row))
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            prediction = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
            line[i] = (x - prediction) & 0xFF
        out += bytes([kind]) + line
        previous = row
    return bytes(out)


def png_of(
    image: Image.Image, filters: list[int] | None = None, *, interlace: bool = False
) -> bytes:
    """An 8-bit RGB/RGBA PNG of ``image``, with chosen row filters (default: all five in turn)."""
    width, height = image.size
    bpp = len(image.mode)
    colour_type = {"RGB": 2, "RGBA": 6}[image.mode]
    data = image.tobytes()
    stride = width * bpp
    rows = [data[y * stride : (y + 1) * stride] for y in range(height)]
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = [
                b"".join(row[x * bpp : (x + 1) * bpp] for x in range(x0, width, dx))
                for row in rows[y0::dy]
            ]
            if sub and sub[0]:
                raw += filtered(sub, bpp, [4] * len(sub))
    else:
        raw = filtered(rows, bpp, filters or [y % 5 for y in range(height)])
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, int(interlace))
    return (
        SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


# --- pixels ------------------------------------------------------------------

SIZES = [(1, 1), (1, 37), (37, 1), (3, 5), (129, 67), (1001, 3)]


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_filter_type_gives_pillows_pixels(
    mode: str, size: tuple[int, int], taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    image = noise(size, mode)
    result = both(png_of(image), monkeypatch)
    assert taken == [mode]
    assert result[0] in (mode, "RGB")  # opaque RGBA noise never happens: alpha is random
    assert result[2] == image.convert(str(result[0])).tobytes()


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_pillow_encoded_large_png_gives_pillows_pixels(
    mode: str, taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    image = smooth((1500, 1000), mode)
    result = both(encode(image, "PNG"), monkeypatch)
    assert taken == [mode]
    assert result[:2] == (mode, (1500, 1000))
    assert result[2] == image.tobytes()


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_resized_output_is_the_same(
    mode: str, taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(smooth((1200, 900), mode), "PNG")
    fast = process(data, max_dim=500)
    with monkeypatch.context() as patch:
        patch.setattr(png_fast, "_library", lambda: None)
        pillow = process(data, max_dim=500)
    assert taken == [mode]
    assert (fast.width, fast.height, fast.format) == (500, 375, pillow.format)
    assert fast.data == pillow.data


def test_fully_opaque_rgba_becomes_rgb_as_before(
    taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    image = quadrants((64, 48), "RGBA")
    result = both(png_of(image), monkeypatch)
    assert taken == ["RGBA"]
    assert result[0] == "RGB"
    assert result[2] == image.convert("RGB").tobytes()


def test_orientation_from_exif_before_and_after_the_image_data(
    taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = quadrants((80, 60), "RGBA")
    before = encode(stored, "PNG", exif=exif_bytes(6))
    plain = encode(stored, "PNG")
    after = with_idat(plain, idat_payload(plain), after=png_chunk(b"eXIf", exif_bytes(6)))
    for data in (before, after):
        result = both(data, monkeypatch)
        assert result[1] == (60, 80)  # turned a quarter
        assert result[4] == 6
    assert taken == ["RGBA", "RGBA"]


def test_icc_profile_is_converted_as_before(
    taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(quadrants((64, 48)), "PNG", icc_profile=swapped_primaries_icc())
    result = both(data, monkeypatch)
    assert taken == ["RGB"]
    assert result[5] is True  # icc_converted
    # stored red, tagged with a profile whose red is green: green after conversion
    pixels = result[2]
    assert isinstance(pixels, bytes)
    assert Image.frombytes("RGB", (64, 48), pixels).getpixel((5, 5)) == (0, 255, 0)


# --- what stays with Pillow --------------------------------------------------


def apng() -> bytes:
    frames = [quadrants((40, 30), "RGBA"), noise((40, 30), "RGBA")]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:])


FALLBACKS = {
    "palette": lambda: encode(quadrants((40, 30)).quantize(8), "PNG"),
    "grey": lambda: encode(quadrants((40, 30), "L"), "PNG"),
    "grey_alpha": lambda: encode(quadrants((40, 30), "LA"), "PNG"),
    "grey_16bit": lambda: encode(quadrants((40, 30), "L").convert("I;16"), "PNG"),
    "rgb_trns": lambda: encode(quadrants((40, 30)), "PNG", transparency=(255, 0, 0)),
    "rgba_16bit": lambda: with_idat(
        SIGNATURE
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 16, 6, 0, 0, 0))
        + png_chunk(b"IDAT", b"")
        + png_chunk(b"IEND", b""),
        zlib.compress((b"\x00" + bytes(range(16))) * 2),
    ),
    "interlaced_rgb": lambda: png_of(noise((37, 23), "RGB"), interlace=True),
    "interlaced_rgba": lambda: png_of(noise((37, 23), "RGBA"), interlace=True),
    "apng": apng,
}


@pytest.mark.parametrize("name", FALLBACKS)
def test_other_pngs_stay_with_pillow(
    name: str, taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = both(FALLBACKS[name](), monkeypatch)
    assert taken == []
    assert result[0] != "rejected"


def test_interlaced_pixels_are_right(monkeypatch: pytest.MonkeyPatch) -> None:
    image = noise((37, 23), "RGBA")
    assert both(png_of(image, interlace=True), monkeypatch)[2] == image.tobytes()


def test_rgb_over_the_decode_budget_for_two_buffers_goes_through_pillow(
    taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(smooth((500, 400), "RGB"), "PNG")
    pixels = 500 * 400
    result = both(data, monkeypatch, max_decode_bytes=pixels * 5)  # Pillow 4, fast path 7
    assert taken == []
    assert result[:2] == ("RGB", (500, 400))
    both(data, monkeypatch, max_decode_bytes=pixels * 7)
    assert taken == ["RGB"]


def test_without_pyspng_every_png_goes_through_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(smooth((300, 200), "RGBA"), "PNG")
    expected = outcome(data)
    png_fast._library.cache_clear()
    try:
        monkeypatch.setitem(sys.modules, "pyspng", None)  # import pyspng -> ImportError
        assert not png_fast.available()
        assert outcome(data) == expected
    finally:
        monkeypatch.undo()
        png_fast._library.cache_clear()
    assert png_fast.available()


def test_numpy_is_never_imported() -> None:
    """The fast path calls libspng without pyspng's Python module (which imports numpy);
    a JPEG-only process never loads ctypes or libspng either."""
    script = textwrap.dedent(
        """
        import io, sys
        from PIL import Image
        from imgproc import process
        def saved(image, fmt):
            out = io.BytesIO(); image.save(out, fmt); return out.getvalue()
        process(saved(Image.new("RGB", (64, 48), (9, 9, 9)), "JPEG"))
        print(sorted(m for m in ("numpy", "ctypes", "pyspng") if m in sys.modules))
        process(saved(Image.new("RGBA", (64, 48), (9, 9, 9, 9)), "PNG"))
        print(sorted(m for m in ("numpy", "ctypes", "pyspng") if m in sys.modules))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.split("\n")[:2] == ["[]", "['ctypes']"]


# --- damaged files: the same reason both ways --------------------------------


def _good() -> bytes:
    return encode(smooth((96, 64), "RGBA"), "PNG")


def _damaged() -> dict[str, bytes]:
    good = _good()
    idat = idat_payload(good)
    raw = zlib.decompress(idat)
    bad_adler = idat[:-1] + bytes([idat[-1] ^ 0xFF])
    bad_filter = zlib.compress(b"\x07" + raw[1:])
    text = png_chunk(b"tEXt", b"Comment\x00" + b"x" * 200)
    iend = png_chunk(b"IEND", b"")
    bad_crc = bytearray(good)
    _kind, at, length = next(c for c in chunks(good) if c[0] == b"IDAT")
    bad_crc[at + 8 + length // 2] ^= 0x01
    return {
        "truncated_in_idat": good[: len(good) // 2],
        "truncated_before_iend": good[:-12],
        "truncated_in_a_chunk_after_idat": with_idat(good, idat, after=text)[: -len(iend) - 50],
        "bad_idat_crc": bytes(bad_crc),
        "bad_adler32": with_idat(good, bad_adler),
        "adler32_missing": with_idat(good, idat[:-4]),
        "bad_filter_type": with_idat(good, bad_filter),
        "stream_too_short": with_idat(good, zlib.compress(raw[:-300])),
        "stream_too_long": with_idat(good, zlib.compress(raw + raw[:1000])),
        "garbage_in_idat_after_stream": with_idat(good, idat + b"garbage"),
        "garbage_after_iend": good + b"garbage!" * 20,
        "zero_length_idat_first": with_idat(good, b"", idat),
        "zero_length_idat_only": with_idat(good, b""),
        "idat_split_in_bytes": with_idat(good, *(idat[i : i + 1] for i in range(len(idat)))),
        "idat_interrupted_by_text": with_idat(
            good, idat[:100], after=text + png_chunk(b"IDAT", idat[100:])
        ),
        "text_after_idat_then_more_idat": with_idat(
            good, idat, after=text + png_chunk(b"IDAT", b"junk")
        ),
        "preset_dictionary": with_idat(good, bytes([0x78, 0xBB]) + idat[2:]),
    }


DAMAGED = _damaged()


@pytest.mark.parametrize("name", DAMAGED)
def test_damaged_files_get_pillows_outcome(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    both(DAMAGED[name], monkeypatch)


def test_damaged_reasons_are_the_expected_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    reasons = {name: both(data, monkeypatch)[1] for name, data in DAMAGED.items()}
    assert reasons["truncated_in_idat"] == "truncated"
    assert reasons["truncated_in_a_chunk_after_idat"] == "truncated"
    assert reasons["bad_idat_crc"] == "corrupt"
    assert reasons["bad_adler32"] == "corrupt"  # libspng's default here would accept it
    assert reasons["bad_filter_type"] == "corrupt"
    assert reasons["stream_too_short"] == "truncated"


def test_decompression_bomb_within_the_limits(
    taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """4000x4000 transparent pixels: 64 MB from a 60 KB file."""
    data = encode(Image.new("RGBA", (4000, 4000)), "PNG")
    assert len(data) < 100_000
    assert both(data, monkeypatch, max_decode_bytes=32_000_000) == ("rejected", "too_many_pixels")
    assert both(data, monkeypatch, max_pixels=10_000_000) == ("rejected", "too_many_pixels")
    assert taken == []
    result = both(data, monkeypatch)
    assert taken == ["RGBA"]
    assert result[:2] == ("RGBA", (4000, 4000))


def test_random_damage_gives_pillows_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes flipped inside the image data (CRC fixed, so the structure check passes),
    and cuts at random offsets: the outcome is always Pillow's."""
    good = _good()
    idat = idat_payload(good)
    rng = random.Random(14)
    outcomes: set[object] = set()
    for _ in range(150):
        damaged = bytearray(idat)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        result = both(with_idat(good, bytes(damaged)), monkeypatch)
        outcomes.add(result[1] if result[0] == "rejected" else "decoded")
    cuts: set[object] = set()
    for _ in range(50):
        result = both(good[: rng.randrange(8, len(good))], monkeypatch)
        cuts.add(result[1] if result[0] == "rejected" else "decoded")
    assert "corrupt" in outcomes  # the damage was seen (which reasons depends on the zlib)
    assert "truncated" in cuts
