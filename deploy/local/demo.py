"""The demo set: generated pictures that show what the pipeline promises.

``make run`` (``python -m deploy.local --demo``) runs the embedded pipeline on these when
no images are given, so a fresh clone has something to process. ``python -m
deploy.local.demo [FOLDER]`` only writes them (default ``demo-images/``) and prints their
paths. Each is made from gradients, shapes and seeded grain, the same bytes on every run:

=============================  ===========================================================
file                           shows
=============================  ===========================================================
``phone_portrait_exif6.jpg``   a phone photo stored sideways with EXIF orientation 6 (and
                               camera and GPS tags): comes out upright, 375x500, no EXIF
``transparent_logo.png``       RGBA with soft edges: stays a PNG with alpha
``wide_gamut_p3.jpg``          Display P3 colours with an embedded ICC profile: to sRGB
``film_scan_16bit.png``        16-bit greyscale: scaled to 8 bits, not clipped to white
``IMG_0001.HEIC``              an iPhone-style HEIC (upper-case suffix): decoded by libheif
``animated.gif``               8 frames: the first frame, as a still
``large_camera_photo.jpg``     a 12 MP JPEG over the API's 4.5 MB body limit: uploaded
                               through ``POST /uploads`` (a presigned S3 POST)
=============================  ===========================================================

The folder also holds ``.demo-set.json`` (version and sizes): an up-to-date set is not
written again. Generation takes about 3 s (a shared 2-core machine; x265 uses both).
"""

from __future__ import annotations

import io
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from deploy.local.icc import display_p3_profile

DEFAULT_DIR = Path("demo-images")
MANIFEST = ".demo-set.json"
DEMO_VERSION = 1  # bump when any picture changes: an older set on disk is then rewritten
LARGE_PHOTO_MIN_BYTES = 4_500_000
"""The large photo must exceed the API's default ``POST /images`` limit
(``API_MAX_BODY_BYTES``, handlers/config.py) to take the presigned POST path."""

Colour = tuple[int, int, int]

EXIF_ORIENTATION = 0x0112
EXIF_MAKE = 0x010F
EXIF_MODEL = 0x0110
EXIF_DATETIME = 0x0132
EXIF_GPS_IFD = 0x8825


@dataclass(frozen=True, slots=True)
class Palette:
    """The colours of a :func:`landscape`: (top, bottom) pairs for gradients."""

    sky: tuple[Colour, Colour]
    sun: Colour
    hills: tuple[Colour, Colour]
    ground: tuple[Colour, Colour]


@dataclass(frozen=True, slots=True)
class DemoImage:
    """One picture of the demo set: its file name, what it shows, how it is made."""

    filename: str
    shows: str
    make: Callable[[], bytes]


# --- drawing ------------------------------------------------------------------------


def _gradient(size: tuple[int, int], top: Colour, bottom: Colour) -> Image.Image:
    """A vertical gradient from ``top`` to ``bottom`` (size: width, height in pixels)."""
    height = size[1]
    column = Image.new("RGB", (1, height))
    column.putdata(
        [
            tuple(
                round(t + (b - t) * y / max(height - 1, 1))
                for t, b in zip(top, bottom, strict=True)
            )
            for y in range(height)
        ]
    )
    return column.resize(size, Image.Resampling.BILINEAR)


def _ridge(rng: random.Random, width: int, base: int, roughness: int) -> list[tuple[int, int]]:
    """A mountain ridge line: a random walk across ``width`` around height ``base``."""
    points, y = [], base
    for x in range(0, width + 40, 40):
        y = min(max(y + rng.randint(-roughness, roughness), base - 3 * roughness), base + roughness)
        points.append((x, y))
    return points


def landscape(size: tuple[int, int], *, seed: int, palette: Palette) -> Image.Image:
    """A photo-like scene: sky gradient, a glowing sun, two mountain ranges, a valley.

    Drawn at ``size`` (width, height); callers scale it up and add grain."""
    rng = random.Random(seed)
    width, height = size
    sky, sun, hills, ground = palette.sky, palette.sun, palette.hills, palette.ground
    image = _gradient(size, *sky)
    glow = Image.new("L", size, 0)
    sun_x, sun_y, radius = int(width * rng.uniform(0.55, 0.8)), int(height * 0.3), width // 14
    ImageDraw.Draw(glow).ellipse(
        (sun_x - 3 * radius, sun_y - 3 * radius, sun_x + 3 * radius, sun_y + 3 * radius), fill=110
    )
    glow = glow.filter(ImageFilter.GaussianBlur(radius * 1.5))
    image = Image.composite(Image.new("RGB", size, sun), image, glow)
    draw = ImageDraw.Draw(image)
    draw.ellipse((sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius), fill=sun)
    horizon = int(height * 0.62)
    for colour, base, rough in (
        (hills[0], horizon - height // 8, height // 30),
        (hills[1], horizon, height // 45),
    ):
        ridge = _ridge(rng, width, base, rough)
        draw.polygon([*ridge, (width, height), (0, height)], fill=colour)
    valley = _gradient((width, height - horizon - height // 20), *ground)
    image.paste(valley, (0, horizon + height // 20))
    for _ in range(40):  # trees along the valley
        x, y = rng.randrange(width), horizon + height // 20 + rng.randrange(height // 10)
        tree = height // 30 + rng.randrange(height // 25)
        dark = tuple(max(c - 60, 0) for c in ground[0])
        draw.polygon(
            [(x, y - tree), (x - tree // 3, y + tree // 4), (x + tree // 3, y + tree // 4)],
            fill=dark,
        )
    return image


def grain(image: Image.Image, *, amount: int, seed: int) -> Image.Image:
    """``image`` (RGB) with seeded luminance grain of +-``amount`` levels."""
    width, height = image.size
    noise = Image.frombytes("L", (width, height), random.Random(seed).randbytes(width * height))
    noise = noise.point(lambda v: 128 + (v - 128) * amount // 128)
    return ImageChops.add(image, Image.merge("RGB", (noise, noise, noise)), scale=1.0, offset=-128)


def label(image: Image.Image, text: str) -> None:
    """Write ``text`` on a dark band at the top left of ``image`` (in place), with an
    arrow pointing up, so a sideways rendition is easy to spot."""
    size = max(image.height // 28, 12)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(image)
    pad = size // 2
    _left, _top, right, bottom = draw.textbbox((pad * 3 + size, pad), text, font=font)
    fill = 255 if image.mode in ("L", "I", "I;16") else (255, 255, 255)
    back = 0 if image.mode in ("L", "I", "I;16") else (20, 20, 20)
    draw.rectangle((0, 0, right + pad, bottom + pad), fill=back)
    draw.text((pad * 3 + size, pad), text, font=font, fill=fill)
    x, y = pad + size // 2, pad
    draw.polygon(
        [(x, y), (x - size // 2, y + size // 2), (x + size // 2, y + size // 2)], fill=fill
    )
    draw.rectangle((x - size // 6, y + size // 2, x + size // 6, bottom), fill=fill)


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _camera_exif(*, orientation: int | None) -> bytes:
    """EXIF as a phone writes it: make, model, date, GPS position (and orientation)."""
    exif = Image.Exif()
    if orientation is not None:
        exif[EXIF_ORIENTATION] = orientation
    exif[EXIF_MAKE] = "DemoPhone"
    exif[EXIF_MODEL] = "DemoPhone 15 (generated)"
    exif[EXIF_DATETIME] = "2024:06:01 18:30:00"
    gps = exif.get_ifd(EXIF_GPS_IFD)
    gps.update({1: "N", 2: (48.0, 51.0, 29.6), 3: "E", 4: (2.0, 17.0, 40.2)})
    return exif.tobytes()


# --- the pictures -------------------------------------------------------------------

SUNSET = Palette(
    sky=((38, 60, 128), (250, 170, 110)),
    sun=(255, 236, 180),
    hills=((88, 70, 110), (52, 50, 80)),
    ground=((70, 96, 60), (30, 50, 30)),
)
NOON = Palette(
    sky=((40, 110, 210), (190, 225, 250)),
    sun=(255, 255, 235),
    hills=((100, 130, 160), (60, 110, 70)),
    ground=((90, 150, 60), (50, 100, 40)),
)


def phone_portrait() -> bytes:
    """Upright 1512x2016, stored turned (2016x1512) with EXIF orientation 6."""
    upright = landscape((378, 504), seed=1, palette=SUNSET).resize(
        (1512, 2016), Image.Resampling.BICUBIC
    )
    upright = grain(upright, amount=10, seed=1)
    label(upright, "portrait, EXIF orientation 6")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 turns it back
    return _save(stored, "JPEG", quality=88, exif=_camera_exif(orientation=6))


def transparent_logo() -> bytes:
    """1600x1200 RGBA: overlapping discs and a rounded badge with a soft shadow."""
    size = (1600, 1200)
    shadow = Image.new("L", size, 0)
    ImageDraw.Draw(shadow).rounded_rectangle((330, 330, 1330, 930), radius=160, fill=150)
    shadow = shadow.filter(ImageFilter.GaussianBlur(40))
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.putalpha(shadow)
    badge = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(badge)
    draw.rounded_rectangle((300, 300, 1300, 900), radius=160, fill=(24, 120, 190, 255))
    for i, colour in enumerate(((250, 200, 40, 230), (240, 80, 90, 200), (90, 210, 140, 190))):
        x = 520 + i * 280
        draw.ellipse((x - 190, 410, x + 190, 790), fill=colour)
    draw.text(
        (800, 1050),
        "transparent PNG",
        anchor="mm",
        font=ImageFont.load_default(size=72),
        fill=(30, 30, 30, 255),
    )
    return _save(Image.alpha_composite(image, badge), "PNG", optimize=False, compress_level=6)


def wide_gamut_p3() -> bytes:
    """1800x1200 JPEG in Display P3 (embedded profile): saturated colour bars over a scene."""
    scene = landscape((450, 300), seed=3, palette=NOON).resize(
        (1800, 1200), Image.Resampling.BICUBIC
    )
    scene = grain(scene, amount=8, seed=3)
    draw = ImageDraw.Draw(scene)
    bars = [
        (255, 0, 0),
        (255, 128, 0),
        (255, 230, 0),
        (0, 220, 60),
        (0, 200, 255),
        (40, 40, 255),
        (230, 0, 200),
    ]
    width = 1800 // len(bars)
    for i, colour in enumerate(bars):
        draw.rectangle((i * width, 960, (i + 1) * width - 1, 1199), fill=colour)
    label(scene, "Display P3, ICC profile")
    return _save(scene, "JPEG", quality=90, icc_profile=display_p3_profile())


def film_scan_16bit() -> bytes:
    """1600x1067 16-bit greyscale PNG: a black-and-white scene using the full 0-65535 range."""
    scene = (
        landscape((400, 267), seed=4, palette=NOON)
        .convert("L")
        .resize((1600, 1067), Image.Resampling.BICUBIC)
    )
    scene = grain(scene.convert("RGB"), amount=14, seed=4).convert("L")
    label(scene, "16-bit greyscale")
    wide = scene.convert("I").point(lambda v: v * 257)  # 0-255 -> 0-65535
    return _save(wide.convert("I;16"), "PNG")


def iphone_heic() -> bytes:
    """1600x1200 HEIC (pillow-heif, x265), as an iPhone names it: upper-case ``.HEIC``."""
    import pillow_heif

    scene = landscape((400, 300), seed=5, palette=SUNSET).resize(
        (1600, 1200), Image.Resampling.BICUBIC
    )
    scene = grain(scene, amount=3, seed=5)  # x265 spends seconds on strong grain
    label(scene, "HEIC")
    heif = pillow_heif.from_pillow(scene)
    out = io.BytesIO()
    heif.save(out, quality=70, enc_params={"preset": "ultrafast"})
    return out.getvalue()


def animated_gif() -> bytes:
    """640x400, 8 frames of a ball rolling over hills (first frame kept by the pipeline)."""
    back = landscape((640, 400), seed=6, palette=NOON)
    frames = []
    for i in range(8):
        frame = back.copy()
        x = 80 + i * 60
        ImageDraw.Draw(frame).ellipse(
            (x - 30, 180, x + 30, 240), fill=(230, 50, 40), outline=(60, 0, 0)
        )
        label(frame, f"animated GIF, frame {i + 1} of 8")
        frames.append(frame.quantize(colors=128, dither=Image.Dither.NONE))
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=120, loop=0)


def large_camera_photo() -> bytes:
    """4000x3000 JPEG with camera grain and EXIF: about 6 MB, over the API's body limit."""
    scene = landscape((1000, 750), seed=7, palette=SUNSET).resize(
        (4000, 3000), Image.Resampling.BICUBIC
    )
    scene = grain(scene, amount=40, seed=7)
    label(scene, "12 MP, over 4.5 MB: presigned POST")
    data = _save(scene, "JPEG", quality=92, exif=_camera_exif(orientation=1))
    assert len(data) > LARGE_PHOTO_MIN_BYTES, len(data)
    return data


DEMO_IMAGES: tuple[DemoImage, ...] = (
    DemoImage(
        "phone_portrait_exif6.jpg", "EXIF orientation 6: upright, no EXIF/GPS left", phone_portrait
    ),
    DemoImage("transparent_logo.png", "alpha kept: PNG out", transparent_logo),
    DemoImage("wide_gamut_p3.jpg", "Display P3 ICC profile: converted to sRGB", wide_gamut_p3),
    DemoImage("film_scan_16bit.png", "16-bit: scaled, not clipped", film_scan_16bit),
    DemoImage("IMG_0001.HEIC", "HEIC, upper-case suffix", iphone_heic),
    DemoImage("animated.gif", "animated: first frame as a still", animated_gif),
    DemoImage("large_camera_photo.jpg", "over 4.5 MB: presigned POST /uploads", large_camera_photo),
)


def write_demo_set(folder: Path = DEFAULT_DIR) -> list[Path]:
    """Write the demo set into ``folder`` (created) and return the paths, in set order.

    Skips the work when ``folder`` already holds this version of the set (same manifest,
    same file sizes). Raises ``OSError`` when the folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / image.filename for image in DEMO_IMAGES]
    manifest = folder / MANIFEST
    if _up_to_date(manifest, paths):
        return paths
    sizes = {}
    for image, path in zip(DEMO_IMAGES, paths, strict=True):
        data = image.make()
        path.write_bytes(data)
        sizes[image.filename] = len(data)
    manifest.write_text(json.dumps({"version": DEMO_VERSION, "sizes": sizes}, indent=1) + "\n")
    return paths


def _up_to_date(manifest: Path, paths: list[Path]) -> bool:
    try:
        recorded = json.loads(manifest.read_text())
        if recorded.get("version") != DEMO_VERSION:
            return False
        return all(path.stat().st_size == recorded["sizes"][path.name] for path in paths)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def main(argv: list[str] | None = None) -> int:
    """``python -m deploy.local.demo [FOLDER]``: write the set, print one path per line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(
            "usage: python -m deploy.local.demo [FOLDER]  (default: demo-images)", file=sys.stderr
        )
        return 2
    for path in write_demo_set(Path(args[0]) if args else DEFAULT_DIR):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
