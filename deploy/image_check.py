"""What the container image must hold, checked while it is built and by the image tests.

``python -m deploy.image_check [--warm]`` (the Dockerfile's runtime stage runs it with
``--warm``; a non-zero exit fails the build):

1. **Codecs**: Pillow's JPEG, zlib (PNG), WebP, AVIF, libtiff and LittleCMS features,
   and pillow-heif with an HEVC decoder. A Pillow built without one of them still
   imports and simply rejects those files as ``corrupt`` (the ``PILLOW_SIMD=1`` build
   once lost libtiff that way), so the build must look.
2. **Round trip**: one small picture per accepted format (JPEG, PNG, GIF, WebP, AVIF,
   TIFF with deflate compression, BMP, HEIF), encoded here, then resized by
   :func:`imgproc.engine.process`: the codec loads *and* decodes, and the engine's
   output has the expected size.
3. ``--warm``: import the modules the image runs (both handlers, the runtime interface
   client, the local services) and build one boto3 client per AWS service they use
   (:data:`AWS_SERVICES`; no network call). Run with bytecode writing on
   (``PYTHONDONTWRITEBYTECODE=`` empty), Python leaves ``.pyc`` files for exactly the
   standard-library modules these use: the base image ships the standard library
   without any, and on Lambda's read-only file system every cold start would compile
   them again (about 0.3 s of the 0.6-0.9 s init measured without them). It also
   proves that the botocore service models the Dockerfile keeps are enough.

Exit status: 0 when everything is there, 1 otherwise (one line per problem on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

REQUIRED_FEATURES: dict[str, str] = {
    "jpg": "JPEG (libjpeg)",
    "zlib": "PNG (zlib)",
    "webp": "WebP (libwebp)",
    "avif": "AVIF (libavif)",
    "libtiff": "TIFF compression (libtiff)",
    "littlecms2": "ICC profiles (LittleCMS 2)",
}
"""Pillow feature name -> what the engine loses without it."""

AWS_SERVICES = ("s3", "dynamodb", "sqs", "lambda", "iam", "apigateway", "sts")
"""boto3 clients the image's code creates (handlers: s3, dynamodb; local services and
compose init: sqs, lambda, iam, apigateway; sts for account lookups). The Dockerfile
keeps only these botocore service models (``BOTOCORE_SERVICES``); tests/deploy checks
that both lists agree and that the code names no other service."""

WARM_MODULES = (
    "awslambdaric.__main__",
    "awslambdaric.bootstrap",
    "handlers.resize",
    "handlers.api",
    "deploy.local.compose_init",
    "deploy.local.dispatcher",
    "deploy.local.http_front",
    "deploy.local.lambda_service.cli",
    "deploy.local.lambda_service.sqs_mapping",
)
"""Modules imported by ``--warm``: what the image's commands load at start (the two
functions; the compose file's Lambda service and init)."""

SOURCE_SIZE = (640, 480)
"""Size of the round-trip pictures; the engine's default 500 px limit makes 500x375."""


def missing_codecs() -> list[str]:
    """What of :data:`REQUIRED_FEATURES` and pillow-heif's HEVC decoder is missing.

    Returns:
        One description per missing codec (empty when all are there).
    """
    missing = [f"{what} [{name}]" for name, what in REQUIRED_FEATURES.items() if not _has(name)]
    try:
        import pillow_heif
    except ImportError as e:
        return [*missing, f"HEIF (pillow-heif does not import: {e})"]
    if not pillow_heif.libheif_info().get("decoders"):
        missing.append("HEIF (libheif has no HEVC decoder)")
    return missing


def _has(feature: str) -> bool:
    from PIL import features

    try:
        return bool(features.check(feature))
    except ValueError:  # a Pillow that does not even know the feature's name
        return False


def _picture() -> Image.Image:
    """A 640x480 RGB picture with a gradient in every channel (no flat areas to hide in)."""
    red = Image.linear_gradient("L").rotate(90).resize(SOURCE_SIZE)
    green = Image.linear_gradient("L").resize(SOURCE_SIZE)
    blue = red.point(lambda v: 255 - v)
    return Image.merge("RGB", (blue, green, red))


def _save(fmt: str, **options: object) -> Callable[[Image.Image], bytes]:
    def encode(image: Image.Image) -> bytes:
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()

    return encode


def _heif(image: Image.Image) -> bytes:
    import pillow_heif

    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, format="HEIF", quality=80)
    return out.getvalue()


ENCODERS: dict[str, Callable[[Image.Image], bytes]] = {
    "JPEG": _save("JPEG", quality=85),
    "PNG": _save("PNG"),
    "GIF": _save("GIF"),
    "WEBP": _save("WEBP", quality=80),
    "AVIF": _save("AVIF", quality=60),
    "TIFF": _save("TIFF", compression="tiff_deflate"),
    "BMP": _save("BMP"),
    "HEIF": _heif,
}
"""Engine format name -> how this check writes a picture in it."""


def round_trip_failures() -> list[str]:
    """Encode :func:`_picture` in every accepted format and resize it with the engine.

    Returns:
        One line per format that could not be written, was rejected by the engine, or
        came out at another size than 500x375 (empty when all passed).
    """
    from imgproc.engine import process
    from imgproc.errors import ImageRejected

    picture = _picture()
    failures: list[str] = []
    for fmt, encode in ENCODERS.items():
        try:
            data = encode(picture)
        except (OSError, KeyError, ValueError, ImportError) as e:
            failures.append(f"{fmt}: cannot encode the test picture: {type(e).__name__}: {e}")
            continue
        try:
            result = process(data)
        except ImageRejected as e:
            failures.append(f"{fmt}: the engine rejected it as {e.reason}: {e}")
            continue
        if (result.original_format, result.width, result.height) != (fmt, 500, 375):
            got = f"{result.original_format} {result.width}x{result.height}"
            failures.append(f"{fmt}: expected {fmt} 500x375, got {got}")
    return failures


def warm() -> list[str]:
    """Import :data:`WARM_MODULES` and build one client per :data:`AWS_SERVICES`.

    Returns:
        One line per module that did not import or client that could not be built.
    """
    failures: list[str] = []
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception as e:  # report every broken entry module, not just the first
            failures.append(f"import {name}: {type(e).__name__}: {e}")
    import boto3

    session: Any = boto3.session.Session(  # Any: service names come from a tuple
        region_name="us-east-1", aws_access_key_id="warm", aws_secret_access_key="warm"
    )
    for service in AWS_SERVICES:
        try:
            session.client(service, endpoint_url="http://127.0.0.1:9")
        except Exception as e:  # UnknownServiceError when the model was pruned away
            failures.append(f"boto3 client {service!r}: {type(e).__name__}: {e}")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print what was checked; exit 0 when complete, 1 with the problems on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.image_check",
        description="Check the image's codecs (and warm its bytecode with --warm).",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="also import the image's entry modules and build its boto3 clients",
    )
    args = parser.parse_args(argv)
    import PIL

    problems = [f"missing codec: {line}" for line in missing_codecs()]
    problems += round_trip_failures()
    if args.warm:
        problems += warm()
    for line in problems:
        print(f"image check: {line}", file=sys.stderr)
    if problems:
        print(f"image check: FAILED ({len(problems)} problems)", file=sys.stderr)
        return 1
    codecs = ", ".join(REQUIRED_FEATURES)
    print(
        f"image check: Pillow {PIL.__version__} with {codecs}, pillow-heif; "
        f"{len(ENCODERS)} formats resized"
        + (
            f"; {len(WARM_MODULES)} modules and {len(AWS_SERVICES)} clients warmed"
            if args.warm
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
