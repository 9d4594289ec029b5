"""The demo set (deploy/local/demo.py): what each picture is, and what the engine makes of it.

``make run`` on a fresh clone processes this set, so each picture must show the promise
it is named after, the same bytes every time, and none may be refused.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import fields
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from deploy.local import demo
from deploy.local.icc import DESCRIPTION, display_p3_profile
from handlers.config import Settings
from imgproc import process, sniff
from imgproc.errors import ImageRejected

EXPECTED_FILES = [
    "phone_portrait_exif6.jpg",
    "transparent_logo.png",
    "wide_gamut_p3.jpg",
    "film_scan_16bit.png",
    "IMG_0001.HEIC",
    "animated.gif",
    "large_camera_photo.jpg",
]


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("demo") / "demo-images"
    paths = demo.write_demo_set(folder)
    assert [p.name for p in paths] == EXPECTED_FILES
    assert all(p.parent == folder for p in paths)
    return {p.name: p.read_bytes() for p in paths}


def test_formats_are_sniffed_as_named(demo_set: dict[str, bytes]) -> None:
    formats = {name: sniff.sniff_format(data) for name, data in demo_set.items()}
    assert formats == {
        "phone_portrait_exif6.jpg": "JPEG",
        "transparent_logo.png": "PNG",
        "wide_gamut_p3.jpg": "JPEG",
        "film_scan_16bit.png": "PNG",
        "IMG_0001.HEIC": "HEIF",
        "animated.gif": "GIF",
        "large_camera_photo.jpg": "JPEG",
    }


def test_every_picture_is_processed(demo_set: dict[str, bytes]) -> None:
    for name, data in demo_set.items():
        try:
            result = process(data)
        except ImageRejected as e:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{name} was rejected: {e}")
        assert max(result.width, result.height) == 500, name


def test_phone_portrait_is_stored_sideways_and_comes_out_upright(
    demo_set: dict[str, bytes],
) -> None:
    data = demo_set["phone_portrait_exif6.jpg"]
    with Image.open(io.BytesIO(data)) as stored:
        exif = stored.getexif()
        assert stored.size == (2016, 1512)
        assert exif[0x0112] == 6
        assert exif.get_ifd(0x8825)[1] == "N"  # a GPS position, for the privacy promise

    result = process(data)

    assert (result.width, result.height, result.orientation) == (375, 500, 6)
    with Image.open(io.BytesIO(result.data)) as rendition:
        assert not rendition.getexif()
        # the label band (dark, with white text) sits at the top of the upright picture
        top_band = rendition.crop((0, 0, 60, 8)).convert("L").getextrema()
        assert top_band[0] < 40


def test_transparent_logo_keeps_alpha(demo_set: dict[str, bytes]) -> None:
    result = process(demo_set["transparent_logo.png"])

    assert (result.format, result.has_alpha, result.width, result.height) == ("PNG", True, 500, 375)
    with Image.open(io.BytesIO(result.data)) as rendition:
        assert rendition.mode == "RGBA"
        assert rendition.getpixel((2, 2))[3] == 0  # transparent corner
        assert rendition.getpixel((375, 109)) == (24, 120, 190, 255)  # the opaque badge
        assert 0 < rendition.getpixel((250, 290))[3] < 255  # its soft shadow


def test_wide_gamut_photo_carries_display_p3_and_is_converted(demo_set: dict[str, bytes]) -> None:
    data = demo_set["wide_gamut_p3.jpg"]
    with Image.open(io.BytesIO(data)) as photo:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(photo.info["icc_profile"]))
        assert ImageCms.getProfileDescription(profile).strip() == DESCRIPTION

    result = process(data)

    assert result.icc_converted is True
    with Image.open(io.BytesIO(result.data)) as rendition:
        assert "icc_profile" not in rendition.info


def test_display_p3_profile_matches_the_standard() -> None:
    """Colorants as in Apple's Display P3 profile; grey stays grey; P3 colours widen."""
    profile = ImageCms.ImageCmsProfile(io.BytesIO(display_p3_profile()))
    red, green, blue = (
        profile.profile.red_colorant[0],
        profile.profile.green_colorant[0],
        profile.profile.blue_colorant[0],
    )
    expected = [(0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841)]
    for actual, wanted in zip((red, green, blue), expected, strict=True):
        assert actual == pytest.approx(wanted, abs=2e-4)
    to_srgb = ImageCms.buildTransform(profile, ImageCms.createProfile("sRGB"), "RGB", "RGB")
    probe = Image.new("RGB", (3, 1))
    probe.putdata([(128, 128, 128), (200, 80, 60), (60, 200, 80)])
    converted = ImageCms.applyTransform(probe, to_srgb)
    grey, warm, fresh = (converted.getpixel((x, 0)) for x in range(3))
    assert grey == pytest.approx((128, 128, 128), abs=1)
    # P3 -> sRGB by the published matrices: (200, 80, 60) -> (216, 69, 50), (60, 200, 80) ->
    # (0, 205, 64) after clipping; LittleCMS within 3 levels.
    assert warm == pytest.approx((216, 69, 50), abs=3)
    assert fresh[1] > 200 and fresh[0] < 30


def test_16bit_scan_uses_the_wide_range_and_is_scaled_not_clipped(
    demo_set: dict[str, bytes],
) -> None:
    data = demo_set["film_scan_16bit.png"]
    with Image.open(io.BytesIO(data)) as scan:
        assert scan.mode == "I;16"
        low, high = scan.getextrema()
        assert high > 60_000 and low < 10_000

    result = process(data)

    with Image.open(io.BytesIO(result.data)) as rendition:
        low8, high8 = rendition.convert("L").getextrema()
        assert high8 > 230 and low8 < 50  # a plain convert("L") would clip it all to 255


def test_heic_has_an_iphone_style_name(demo_set: dict[str, bytes]) -> None:
    assert "IMG_0001.HEIC" in demo_set
    assert process(demo_set["IMG_0001.HEIC"]).original_format == "HEIF"


def test_animated_gif_has_frames_and_gives_the_first(demo_set: dict[str, bytes]) -> None:
    with Image.open(io.BytesIO(demo_set["animated.gif"])) as gif:
        assert gif.n_frames == 8

    result = process(demo_set["animated.gif"])

    assert (result.width, result.height) == (500, 313)


def test_large_photo_is_over_the_api_body_limit(demo_set: dict[str, bytes]) -> None:
    limit = next(f.default for f in fields(Settings) if f.name == "api_max_body_bytes")
    assert limit == demo.LARGE_PHOTO_MIN_BYTES
    assert len(demo_set["large_camera_photo.jpg"]) > limit


def test_same_bytes_every_time(demo_set: dict[str, bytes], tmp_path: Path) -> None:
    """Regenerated from scratch: identical files (seeded grain, fixed dates)."""
    again = {p.name: p.read_bytes() for p in demo.write_demo_set(tmp_path)}

    def digest(files: dict[str, bytes]) -> dict[str, str]:
        return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}

    assert digest(again) == digest(demo_set)


def test_an_up_to_date_set_is_not_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    images = tuple(
        demo.DemoImage(
            image.filename, image.shows, lambda name=image.filename: made.append(name) or b"x"
        )
        for image in demo.DEMO_IMAGES
    )
    monkeypatch.setattr(demo, "DEMO_IMAGES", images)

    demo.write_demo_set(tmp_path)
    demo.write_demo_set(tmp_path)
    assert made == EXPECTED_FILES  # once
    manifest = json.loads((tmp_path / demo.MANIFEST).read_text())
    assert manifest == {"version": demo.DEMO_VERSION, "sizes": dict.fromkeys(EXPECTED_FILES, 1)}

    (tmp_path / "animated.gif").unlink()  # one file gone: the set is written again
    demo.write_demo_set(tmp_path)
    assert made == EXPECTED_FILES * 2


def test_module_main_writes_to_the_folder_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    images = tuple(demo.DemoImage(i.filename, i.shows, lambda: b"x") for i in demo.DEMO_IMAGES)
    monkeypatch.setattr(demo, "DEMO_IMAGES", images)

    assert demo.main([str(tmp_path / "here")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        str(tmp_path / "here" / name) for name in EXPECTED_FILES
    ]
    assert demo.main(["a", "b"]) == 2
