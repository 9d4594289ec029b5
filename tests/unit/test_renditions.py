"""Rendition sets: the spec, the presets, and process_set making them from one decode.

Images are generated here (quadrants, alpha, orientation, animation). Lossy
renditions (AVIF, WebP, JPEG) are compared with the default rendition at
corner points 12 px in from the edges, within LOSSY_TOLERANCE per channel:
flat colour areas survive every encoder at these qualities within a few levels,
and 24 still tells red from yellow or magenta.
"""

from __future__ import annotations

import hashlib
import io

import blurhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

import imgproc.encode
from imgproc import (
    ImageRejected,
    Rendition,
    RenditionSet,
    SpecError,
    parse_renditions,
    preset,
    process,
    process_set,
)
from imgproc.renditions import MAX_RENDITIONS
from tests.unit.images import (
    BLUE,
    QUADRANTS,
    RED,
    close,
    corners,
    decode,
    encode,
    exif_bytes,
    quadrants,
    stored_for_orientation,
)

LOSSY_TOLERANCE = 24
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
}
WEB_FILES = ["default.jpg", "w320.avif", "w320.webp", "w320.jpg", "w500.avif", "w500.webp"]
LARGE_FILES = [
    "default.jpg",
    "w320.avif",
    "w320.webp",
    "w320.jpg",
    "w640.avif",
    "w640.webp",
    "w640.jpg",
    "w1280.avif",
    "w1280.webp",
    "w1280.jpg",
]


def rgba_disc(size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A red disc on a fully transparent background (hidden RGB: blue)."""
    image = Image.new("RGBA", size, (*BLUE, 0))
    width, height = size
    ImageDraw.Draw(image).ellipse(
        (width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(*RED, 255)
    )
    return image


# --- the spec and the presets ------------------------------------------------------------------


def test_default_preset_is_one_auto_rendition_at_max_dim() -> None:
    assert preset("default").renditions == (Rendition("default", 500, "auto"),)
    assert preset("default", max_dim_px=800).primary == Rendition("default", 800, "auto")


def test_web_preset_is_the_default_then_320_and_its_size_in_three_formats() -> None:
    web = preset("web")
    assert [r.spec() for r in web] == [
        "default:500:auto",
        "w320:320:avif",
        "w320:320:webp",
        "w320:320:auto",
        "w500:500:avif",
        "w500:500:webp",
        "w500:500:auto",
    ]
    assert web.largest_dim_px == 500  # nothing above the default: one small decode
    assert [r.spec() for r in preset("web", max_dim_px=800)][4:] == [
        "w800:800:avif",
        "w800:800:webp",
        "w800:800:auto",
    ]
    assert [r.spec() for r in preset("web", max_dim_px=200)] == [
        "default:200:auto",
        "w200:200:avif",
        "w200:200:webp",
        "w200:200:auto",
    ]


def test_web_large_preset_is_the_default_then_three_sizes_in_three_formats() -> None:
    web = preset("web-large")
    assert [r.spec() for r in web] == [
        "default:500:auto",
        "w320:320:avif",
        "w320:320:webp",
        "w320:320:auto",
        "w640:640:avif",
        "w640:640:webp",
        "w640:640:auto",
        "w1280:1280:avif",
        "w1280:1280:webp",
        "w1280:1280:auto",
    ]
    assert web.largest_dim_px == 1280


def test_spec_items_with_names_formats_and_options() -> None:
    parsed = parse_renditions(" thumb:200:webp:q=70 , 640:avif:speed=8, 640:jpg:quality=90,1024")
    assert parsed.renditions == (
        Rendition("thumb", 200, "webp", quality=70),
        Rendition("w640", 640, "avif", speed=8),
        Rendition("w640", 640, "jpeg", quality=90),
        Rendition("w1024", 1024, "auto"),
    )
    assert parsed.primary.name == "thumb"


@pytest.mark.parametrize("name", ["default", "web", "web-large"])
def test_a_set_spec_reads_back_to_the_same_set(name: str) -> None:
    rendition_set = preset(name)
    assert parse_renditions(rendition_set.spec()) == rendition_set
    assert parse_renditions(name) == rendition_set


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "expected a preset"),
        ("photo:big", "expected [NAME:]SIZE"),
        ("webb", "unknown preset 'webb': expected one of default, web, web-large, or"),
        ("Web-Large", "unknown preset 'Web-Large'"),
        ("320:gif", "expected a format in auto, jpeg, png, webp, avif, got 'gif'"),
        ("0", "expected a size of 1..16383 px, got 0"),
        ("20000:webp", "expected a size of 1..16383 px, got 20000"),
        ("320:jpeg:q=99", "expected quality 0..95, got 99"),
        ("320:jpeg:speed=5", "speed does not apply to jpeg"),
        ("320:avif:method=4", "method does not apply to avif"),
        ("320:webp:q=", "option 'q='"),
        ("320:webp:colour=3", "option 'colour=3'"),
        ("320,,640", "empty rendition item"),
        ("a:320:avif, a:640:webp", "one name, one size; got 320 and 640 px"),
        ("320:avif, 320:avif", "avif given twice"),
        ("320, w320:320:jpeg", "auto (JPEG or PNG) beside jpeg or png"),
        ("Big:320", "expected a lower-case letter"),
        ("x/y:320", "expected a lower-case letter"),
        (",".join(f"n{i}:{i + 1}" for i in range(MAX_RENDITIONS + 1)), "at most 32 renditions"),
    ],
)
def test_bad_specs_are_refused_with_the_rule(spec: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_renditions(spec)
    assert message in str(caught.value)


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(SpecError, match="expected one of default, web"):
        preset("mobile")


# --- the default preset is today's single rendition ---------------------------------------------


@pytest.mark.parametrize(
    ("label", "data", "max_dim"),
    [
        ("rgb_jpeg", encode(quadrants((1600, 1200)), "JPEG", quality=90), 500),
        ("rgb_jpeg_small_max_dim", encode(quadrants((1600, 1200)), "JPEG", quality=90), 96),
        ("rgba_png", encode(rgba_disc(), "PNG"), 500),
        (
            "orientation_6_jpeg",
            encode(stored_for_orientation(quadrants((1200, 900)), 6), "JPEG", exif=exif_bytes(6)),
            500,
        ),
        ("grey_16bit_png", encode(quadrants((900, 600), "L").convert("I;16"), "PNG"), 500),
        ("cmyk_jpeg", encode(quadrants((900, 600), "CMYK"), "JPEG"), 500),
        ("palette_gif", encode(quadrants((900, 600)).quantize(16), "GIF"), 500),
        ("smaller_than_max_dim", encode(quadrants((300, 200)), "PNG"), 500),
    ],
)
def test_default_preset_gives_process_bytes_and_facts(
    label: str, data: bytes, max_dim: int
) -> None:
    single = process(data, max_dim=max_dim)
    result = process_set(data, preset("default", max_dim_px=max_dim))
    assert len(result.renditions) == 1, label
    assert result.primary.data == single.data, label
    assert result.primary_result() == single, label
    assert result.collapsed == ()


# --- the web preset ----------------------------------------------------------------------------


EXPECTED_SIZES = {
    "default": (500, 375),
    "w320": (320, 240),
    "w500": (500, 375),
    "w640": (640, 480),
    "w1280": (1280, 960),
}
# (preset, files made, renditions collapsed: (name, requested format, same as))
PRESET_LAYOUTS = [
    ("web", WEB_FILES, [("w500", "auto", "default.jpg")]),
    ("web-large", LARGE_FILES, []),
]


@pytest.mark.parametrize(("name", "files", "collapsed"), PRESET_LAYOUTS)
def test_web_presets_sizes_formats_content_types_and_colours(
    name: str, files: list[str], collapsed: list[tuple[str, str, str]]
) -> None:
    result = process_set(encode(quadrants((2000, 1500)), "JPEG", quality=95), preset(name))

    assert [r.file_name for r in result.renditions] == files
    expected_sizes = EXPECTED_SIZES
    default_corners = corners(decode(result.primary.data))
    for expected, colour in QUADRANTS.items():
        assert close(default_corners[expected], colour, LOSSY_TOLERANCE)
    for rendition in result.renditions:
        image = decode(rendition.data)
        assert image.format == rendition.format, rendition.file_name
        assert rendition.content_type == CONTENT_TYPES[rendition.format]
        assert image.size == (rendition.width, rendition.height) == expected_sizes[rendition.name]
        assert image.mode == "RGB"
        assert not rendition.has_alpha
        assert rendition.size_bytes == len(rendition.data)
        got = corners(image, inset=8)
        for quadrant, colour in default_corners.items():
            assert close(got[quadrant], colour, LOSSY_TOLERANCE), (rendition.file_name, quadrant)
    assert [(c.name, c.requested_format, c.same_as) for c in result.collapsed] == collapsed
    assert not result.animated


@pytest.mark.parametrize(("name", "files", "collapsed"), PRESET_LAYOUTS)
def test_web_presets_keep_alpha_in_avif_webp_and_png(
    name: str, files: list[str], collapsed: list[tuple[str, str, str]]
) -> None:
    result = process_set(encode(rgba_disc(), "PNG"), preset(name))

    assert [r.file_name for r in result.renditions] == [f.replace(".jpg", ".png") for f in files]
    assert [c.same_as for c in result.collapsed] == [
        same_as.replace(".jpg", ".png") for _, _, same_as in collapsed
    ]
    for rendition in result.renditions:
        image = decode(rendition.data)
        assert rendition.has_alpha, rendition.file_name
        assert image.mode == "RGBA", rendition.file_name
        width, height = image.size
        corner = image.getpixel((2, 2))
        centre = image.getpixel((width // 2, height // 2))
        assert corner[3] <= 8, (rendition.file_name, corner)  # transparent stays transparent
        assert centre[3] >= 247, (rendition.file_name, centre)
        assert close(centre[:3], RED, LOSSY_TOLERANCE), (rendition.file_name, centre)


def test_jpeg_requested_for_alpha_is_composited_over_white() -> None:
    result = process_set(encode(rgba_disc(), "PNG"), parse_renditions("flat:400:jpeg"))

    image = decode(result.primary.data)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert not result.primary.has_alpha
    assert close(image.getpixel((2, 2)), (255, 255, 255), 4)
    assert close(image.getpixel((200, 150)), RED, LOSSY_TOLERANCE)


def test_orientation_is_applied_to_every_rendition() -> None:
    stored = stored_for_orientation(quadrants((1600, 1200)), 6)
    data = encode(stored, "JPEG", quality=95, exif=exif_bytes(6))

    result = process_set(data, preset("web"))

    assert (result.original_width, result.original_height) == (1200, 1600)
    assert (result.upright_width, result.upright_height) == (1600, 1200)
    assert result.orientation == 6
    for rendition in result.renditions:
        image = decode(rendition.data)
        assert image.width > image.height, rendition.file_name
        got = corners(image, inset=8)
        for quadrant, colour in QUADRANTS.items():
            assert close(got[quadrant], colour, LOSSY_TOLERANCE), (rendition.file_name, quadrant)


def test_web_sizes_above_the_original_are_made_once() -> None:
    # 400x300: w500 is the original size, as is the default; w500's auto is the default.
    result = process_set(encode(quadrants((400, 300)), "PNG"), preset("web"))

    made = [(r.width, r.height, r.format) for r in result.renditions]
    assert len(made) == len(set(made))
    assert [r.file_name for r in result.renditions] == WEB_FILES
    assert {r.name: (r.width, r.height) for r in result.renditions} == {
        "default": (400, 300),
        "w320": (320, 240),
        "w500": (400, 300),
    }
    assert [(c.name, c.requested_format, c.same_as) for c in result.collapsed] == [
        ("w500", "auto", "default.jpg")
    ]


def test_web_large_sizes_above_the_original_are_made_once() -> None:
    # 600x450: w640 and w1280 are both the original size; default (500) is smaller.
    result = process_set(encode(quadrants((600, 450)), "PNG"), preset("web-large"))

    made = [(r.width, r.height, r.format) for r in result.renditions]
    assert len(made) == len(set(made))
    assert [r.file_name for r in result.renditions] == LARGE_FILES[:7]
    assert {r.name: (r.width, r.height) for r in result.renditions} == {
        "default": (500, 375),
        "w320": (320, 240),
        "w640": (600, 450),
    }
    assert [(c.name, c.requested_format, c.same_as) for c in result.collapsed] == [
        ("w1280", "avif", "w640.avif"),
        ("w1280", "webp", "w640.webp"),
        ("w1280", "auto", "w640.jpg"),
    ]


def test_an_original_smaller_than_default_collapses_into_the_default() -> None:
    result = process_set(encode(quadrants((400, 300)), "PNG"), preset("web-large"))

    assert [r.file_name for r in result.renditions] == [
        "default.jpg",
        "w320.avif",
        "w320.webp",
        "w320.jpg",
        "w640.avif",
        "w640.webp",
    ]
    assert result.primary.width == 400
    collapsed = {(c.name, c.requested_format): c.same_as for c in result.collapsed}
    assert collapsed == {
        ("w640", "auto"): "default.jpg",
        ("w1280", "avif"): "w640.avif",
        ("w1280", "webp"): "w640.webp",
        ("w1280", "auto"): "default.jpg",
    }


def test_alpha_gone_at_a_small_size_makes_auto_jpeg_there() -> None:
    # One transparent pixel: it averages away at 50 px but survives at 2000 px.
    image = Image.new("RGBA", (2000, 1000), (*RED, 255))
    image.putpixel((1000, 500), (0, 0, 0, 0))

    result = process_set(encode(image, "PNG"), parse_renditions("big:2000, small:50"))

    assert [r.file_name for r in result.renditions] == ["big.png", "small.jpg"]
    assert result.renditions[0].has_alpha and not result.renditions[1].has_alpha


# --- facts and placeholders --------------------------------------------------------------------


def test_placeholders_hash_and_upright_size() -> None:
    # Three quarters red, a blue quarter: red dominates.
    image = Image.new("RGB", (1200, 800), RED)
    ImageDraw.Draw(image).rectangle((600, 400, 1199, 799), fill=BLUE)
    data = encode(image, "PNG")

    result = process_set(data, preset("web"))

    assert result.dominant_color == "#ff0000"
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.original_size_bytes == len(data)
    assert (result.upright_width, result.upright_height) == (1200, 800)
    assert blurhash.components(result.blurhash) == (4, 3)  # landscape
    preview = blurhash.decode(result.blurhash, 4, 4)  # top-left red, bottom-right blue-ish
    assert preview[0][0][0] > 200 and preview[0][0][2] < 80
    assert preview[3][3][2] > preview[3][3][0]


def test_blurhash_components_follow_the_aspect() -> None:
    portrait = process_set(encode(quadrants((300, 600)), "PNG"), preset("default"))
    square = process_set(encode(quadrants((300, 300)), "PNG"), preset("default"))
    assert blurhash.components(portrait.blurhash) == (3, 4)
    assert blurhash.components(square.blurhash) == (4, 4)


def test_placeholders_of_transparent_pixels_are_over_white() -> None:
    image = Image.new("RGBA", (400, 400), (*BLUE, 0))  # fully transparent, blue hidden
    ImageDraw.Draw(image).rectangle((0, 0, 99, 99), fill=(*RED, 255))
    result = process_set(encode(image, "PNG"), preset("default"))
    assert result.dominant_color == "#ffffff"


def test_animated_gif_is_reported_and_rendered_as_its_first_frame() -> None:
    frames = [Image.new("RGB", (600, 400), colour) for colour in (RED, BLUE, (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)

    result = process_set(buffer.getvalue(), preset("web"))

    assert result.animated
    for rendition in result.renditions:
        image = decode(rendition.data)
        assert getattr(image, "n_frames", 1) == 1, rendition.file_name
        assert close(image.convert("RGB").getpixel((5, 5)), RED, LOSSY_TOLERANCE)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_png_and_webp_are_reported(fmt: str) -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in (RED, BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:])
    assert process_set(buffer.getvalue(), preset("default")).animated
    still = encode(frames[0], fmt)
    assert not process_set(still, preset("default")).animated


# --- refusals ----------------------------------------------------------------------------------


def test_a_rejected_input_is_rejected_as_by_process() -> None:
    data = encode(quadrants((900, 600)), "JPEG")[:400]
    with pytest.raises(ImageRejected) as single:
        process(data)
    with pytest.raises(ImageRejected) as many:
        process_set(data, preset("web"))
    assert many.value.reason == single.value.reason
    assert many.value.facts == single.value.facts


def test_a_missing_encoder_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imgproc.encode.features, "check", lambda feature: feature != "avif")
    with pytest.raises(ValueError, match="cannot encode avif"):
        process_set(b"not even looked at", preset("web"))


def test_a_set_with_no_renditions_is_refused() -> None:
    with pytest.raises(SpecError, match="at least one rendition"):
        RenditionSet(())


# --- the parser on any text ----------------------------------------------------------------------

SPEC_ALPHABET = "0123456789:,= abwjpegnvifqsutodm_-"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=SPEC_ALPHABET, max_size=40) | st.text(max_size=20))
def test_any_text_parses_to_a_set_or_a_spec_error(text: str) -> None:
    try:
        parsed = parse_renditions(text)
    except SpecError:
        return
    assert parse_renditions(parsed.spec()) == parsed
