"""The pre-decode structure checks: what they cannot parse is ``corrupt``, PNG CRCs count.

Regressions from issue 9: ``seek_too_large.tif`` (a BigTIFF whose first IFD offset is
``0x80ffffffffffffff``) escaped as ``OverflowError`` (an internal error); a PNG whose IDAT
CRC is wrong was processed although libpng and browsers refuse it.
"""

from __future__ import annotations

import struct

import pytest
from PIL import Image

from imgproc import ImageRejected, process, structure
from imgproc.structure import check_structure
from tests.unit.images import RED, close, decode, encode, png_chunk, png_raw


def _reason(data: bytes) -> str:
    with pytest.raises(ImageRejected) as caught:
        process(data)
    return caught.value.reason


def bigtiff_with_first_ifd_at(offset: int, *, endian: str = "<") -> bytes:
    """A BigTIFF header whose first-IFD offset is ``offset``, then 64 zero bytes."""
    magic = b"II+\x00" if endian == "<" else b"MM\x00+"
    return magic + struct.pack(endian + "HHQ", 8, 0, offset) + bytes(64)


@pytest.mark.parametrize("endian", ["<", ">"], ids=["little", "big"])
def test_seek_too_large_bigtiff_is_rejected_not_an_internal_error(endian: str) -> None:
    data = bigtiff_with_first_ifd_at(0x80FFFFFFFFFFFFFF, endian=endian)

    check_structure(data, "TIFF")  # the offset is past the end: left to the decoder
    assert _reason(data) in ("corrupt", "truncated")


def test_seek_too_large_bigtiff_little_endian_is_corrupt() -> None:
    assert _reason(bigtiff_with_first_ifd_at(0x80FFFFFFFFFFFFFF)) == "corrupt"


@pytest.mark.parametrize("offset", [2**63 - 1, 2**64 - 1, 0xFFFFFFFF, 1 << 40])
def test_tiff_ifd_offsets_past_the_end_never_escape(offset: int) -> None:
    classic = b"II*\x00" + struct.pack("<I", offset & 0xFFFFFFFF) + bytes(64)
    for data in (bigtiff_with_first_ifd_at(offset), classic):
        check_structure(data, "TIFF")
        assert _reason(data) in ("corrupt", "truncated")


def test_ifd_running_past_the_end_is_left_to_the_decoder() -> None:
    data = b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + struct.pack("<Q", 3) + bytes(30)

    check_structure(data, "TIFF")  # three 20-byte entries, the file ends inside the second
    assert _reason(data) in ("corrupt", "truncated")


def test_a_scan_that_cannot_parse_is_corrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net: whatever parse error a scan meets is a rejection, not a crash."""

    def overflow(_data: bytes) -> None:
        raise OverflowError("Python int too large to convert to C ssize_t")

    monkeypatch.setattr(structure, "_check_tiff", overflow)

    with pytest.raises(ImageRejected) as caught:
        process(bigtiff_with_first_ifd_at(16))

    assert caught.value.reason == "corrupt"
    assert caught.value.message.startswith("cannot parse the TIFF structure: OverflowError")
    assert caught.value.facts == {"original_format": "TIFF"}


# --- PNG CRCs ---------------------------------------------------------------------


def red_png(size: tuple[int, int] = (40, 30)) -> bytes:
    return encode(Image.new("RGB", size, RED), "PNG")


def with_bad_crc(data: bytes, kind: bytes) -> bytes:
    """``data`` with the CRC of its first ``kind`` chunk flipped (one bit)."""
    at = data.index(kind) - 4
    length = struct.unpack(">I", data[at : at + 4])[0]
    crc_at = at + 8 + length
    out = bytearray(data)
    out[crc_at + 3] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("kind", [b"IHDR", b"IDAT", b"IEND"])
def test_png_critical_chunk_with_bad_crc_is_corrupt(kind: bytes) -> None:
    data = with_bad_crc(red_png(), kind)

    with pytest.raises(ImageRejected) as caught:
        process(data)

    assert caught.value.reason == "corrupt"
    assert kind.decode() in caught.value.message
    assert caught.value.facts == {"original_format": "PNG"}


def test_png_idat_with_one_flipped_data_byte_is_corrupt() -> None:
    """The case browsers refuse and Pillow decoded: image data changed, CRC left as is."""
    data = bytearray(red_png())
    at = data.index(b"IDAT") + 4 + 10  # inside the zlib stream
    data[at] ^= 0x40
    assert _reason(bytes(data)) == "corrupt"


def test_png_palette_with_bad_crc_is_corrupt() -> None:
    data = encode(Image.new("P", (8, 8), 3), "PNG")
    assert b"PLTE" in data
    assert _reason(with_bad_crc(data, b"PLTE")) == "corrupt"


def test_png_ancillary_chunk_after_the_image_with_bad_crc_is_ignored() -> None:
    """As browsers do: an ancillary chunk with a bad CRC is dropped, the image shown."""
    text = png_chunk(b"tEXt", b"Comment\x00hello")
    data = png_raw((2, 1), 8, 2, [bytes(RED) * 2], after_idat=text)

    result = process(with_bad_crc(data, b"tEXt"))

    assert (result.width, result.height) == (2, 1)
    assert close(decode(result.data).getpixel((0, 0)), RED, 2)


def test_png_cut_inside_a_chunk_is_truncated_not_corrupt() -> None:
    data = red_png((200, 150))
    cut = data[: data.index(b"IDAT") + 20]
    assert _reason(cut) == "truncated"


def test_png_with_good_crcs_still_processed() -> None:
    result = process(red_png((1000, 600)))
    assert (result.width, result.height) == (500, 300)
