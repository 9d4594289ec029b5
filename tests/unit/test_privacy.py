"""Privacy: nothing of the input's metadata reaches the output; always re-encoded."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from imgproc import process
from tests.unit.images import (
    decode,
    encode,
    exif_bytes,
    jpeg_with_segment,
    png_chunk,
    png_chunk_types,
    quadrants,
)

SECRET = "SECRET-Jane-Doe-52.3701N-4.8910E"
XMP = (
    b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
    b"xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description "
    b"xmlns:dc='http://purl.org/dc/elements/1.1/' dc:creator='" + SECRET.encode() + b"'/>"
    b"</rdf:RDF></x:xmpmeta>"
)
IPTC = (
    b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x20\x1c\x02\x50\x00\x1a"
    + (SECRET.encode()[:26])
)


def assert_clean(output_bytes: bytes) -> None:
    output = decode(output_bytes)
    assert SECRET.encode() not in output_bytes
    assert b"Exif" not in output_bytes
    assert b"http://ns.adobe.com/xap" not in output_bytes
    assert b"Photoshop" not in output_bytes
    assert len(output.getexif()) == 0
    for key in ("exif", "xmp", "icc_profile", "comment", "photoshop", "XML:com.adobe.xmp"):
        assert key not in output.info, key
    assert not getattr(output, "text", {})


@pytest.mark.parametrize("size", [(1200, 900), (120, 90)], ids=["resized", "small"])
def test_jpeg_gps_xmp_iptc_comment_stripped(size: tuple[int, int]) -> None:
    exif = exif_bytes(1, gps=True, text=SECRET)
    data = encode(quadrants(size), "JPEG", quality=90, exif=exif, comment=SECRET)
    data = jpeg_with_segment(data, 0xE1, XMP)
    data = jpeg_with_segment(data, 0xED, IPTC)
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(0x8825)  # the input really has GPS
    result = process(data)
    assert_clean(result.data)


def test_png_text_chunks_and_exif_stripped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    info.add_text("Comment", SECRET, zip=True)
    info.add_itxt("Description", SECRET, lang="en", tkey="Description")
    image = quadrants((900, 600)).convert("RGBA")
    data = encode(image, "PNG", pnginfo=info, exif=exif_bytes(1, gps=True))
    result = process(data)
    assert_clean(result.data)


def test_png_with_alpha_output_has_no_ancillary_chunks() -> None:
    image = quadrants((900, 600)).convert("RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    data = encode(image, "PNG", pnginfo=info, dpi=(300, 300), icc_profile=b"")
    result = process(data)
    assert result.format == "PNG"
    assert_clean(result.data)
    assert png_chunk_types(result.data) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


def test_webp_exif_xmp_stripped() -> None:
    data = encode(
        quadrants((900, 600)), "WEBP", exif=exif_bytes(1, gps=True, text=SECRET), xmp=XMP[29:]
    )
    assert_clean(process(data).data)


def test_tiff_tags_stripped() -> None:
    data = encode(quadrants((900, 600)), "TIFF", tiffinfo={270: SECRET, 315: SECRET})
    assert_clean(process(data).data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_never_passthrough_even_when_small(fmt: str) -> None:
    data = encode(quadrants((64, 48)), fmt)
    result = process(data)
    assert (result.width, result.height) == (64, 48)
    assert result.data != data


def test_png_chunk_after_iend_ignored() -> None:
    data = encode(quadrants((300, 200)), "PNG") + png_chunk(b"tEXt", SECRET.encode())
    assert_clean(process(data).data)
