"""Settings for both Lambda functions, read once from the environment.

Every variable the handlers read is declared here, with its unit and default.
Required variables depend on the function (``role``):

- ``METADATA_TABLE``: DynamoDB table name (both functions).
- ``PROCESSED_BUCKET``: bucket the renditions are written to (resize).
- ``UPLOADS_BUCKET``: bucket uploads are stored in (api; resize reads it when set).

Tunables (unset or empty means the default):

========================  ==========  ========================================================
variable                  default     meaning
========================  ==========  ========================================================
MAX_DIMENSION             500         longest side of a rendition, pixels
MAX_PIXELS                engine's    largest decoded image accepted, pixels (width x height)
MAX_OBJECT_BYTES          52428800    resize refuses bigger objects after a HEAD, bytes
API_MAX_BODY_BYTES        4500000     POST /images image size limit, bytes. Lambda's 6 MB
                                      invocation payload bites first and API Gateway sends
                                      binary bodies base64-encoded (4/3 larger), so about
                                      4.5 MB of image fits; bigger files use POST /uploads.
UPLOAD_MAX_BYTES          52428800    presigned POST content-length-range maximum, bytes
UPLOAD_URL_EXPIRES_S      300         presigned POST lifetime, seconds
DOWNLOAD_URL_EXPIRES_S    3600        presigned GET lifetime for renditions, seconds
CORS_ALLOW_ORIGINS        *           comma-separated allowed origins, or ``*``
UPLOADS_PREFIX            uploads/    key prefix of API uploads (a ``/`` is appended)
PROCESSED_PREFIX          (empty)     key prefix of renditions (a ``/`` is appended)
RENDITION_CACHE_CONTROL   public,     Cache-Control header stored on renditions
                          max-age=
                          86400
PUBLIC_S3_ENDPOINT_URL    (unset)     endpoint used only to sign URLs handed to clients
S3_ADDRESSING_STYLE       auto        ``auto``, ``path`` or ``virtual`` for S3 requests
AWS_CONNECT_TIMEOUT_S     5           SDK connect timeout, seconds
AWS_READ_TIMEOUT_S        30          SDK read timeout, seconds
AWS_MAX_ATTEMPTS          3           SDK attempts per call (standard retry mode)
POWERTOOLS_METRICS_       ImagePipe-  CloudWatch namespace of the EMF metrics
NAMESPACE                 line
========================  ==========  ========================================================

Region comes from ``AWS_REGION`` or ``AWS_DEFAULT_REGION``; endpoints from the SDK's own
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` variables, which boto3 honours itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from imgproc import DEFAULT_MAX_PIXELS

Role = Literal["resize", "api", "any"]

REQUIRED: dict[str, tuple[str, ...]] = {
    "resize": ("METADATA_TABLE", "PROCESSED_BUCKET"),
    "api": ("METADATA_TABLE", "UPLOADS_BUCKET"),
    "any": ("METADATA_TABLE",),
}
ADDRESSING_STYLES = ("auto", "path", "virtual")


class ConfigError(ValueError):
    """The environment is incomplete or malformed; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of the handlers; build it with :meth:`from_env`."""

    metadata_table: str
    processed_bucket: str | None = None
    uploads_bucket: str | None = None
    max_dim_px: int = 500
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_object_bytes: int = 52_428_800
    api_max_body_bytes: int = 4_500_000
    upload_max_bytes: int = 52_428_800
    upload_url_expires_s: int = 300
    download_url_expires_s: int = 3600
    cors_allow_origins: tuple[str, ...] = ("*",)
    uploads_prefix: str = "uploads/"
    processed_prefix: str = ""
    rendition_cache_control: str = "public, max-age=86400"
    public_s3_endpoint_url: str | None = None
    s3_addressing_style: str = "auto"
    region: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_attempts: int = 3
    metrics_namespace: str = "ImagePipeline"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, role: Role = "any") -> Settings:
        """Build settings from ``environ`` (usually ``os.environ``).

        Args:
            environ: the environment mapping.
            role: ``"resize"``, ``"api"`` or ``"any"``; decides which variables are required.

        Raises:
            ConfigError: listing every missing required variable and every malformed
                tunable in one message.
        """
        problems: list[str] = []
        missing = [name for name in REQUIRED[role] if not environ.get(name, "").strip()]
        if missing:
            problems.append(f"missing required environment variables: {', '.join(missing)}")

        def read(name: str, parse: Callable[[str], object], default: object) -> object:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                return parse(raw)
            except ValueError as e:
                problems.append(f"{name}={raw!r} is invalid: {e}")
                return default

        def positive_int(raw: str) -> int:
            value = int(raw)
            if value <= 0:
                msg = f"expected a positive integer, got {value}"
                raise ValueError(msg)
            return value

        def positive_float(raw: str) -> float:
            value = float(raw)
            if value <= 0:
                msg = f"expected a positive number, got {value}"
                raise ValueError(msg)
            return value

        def addressing(raw: str) -> str:
            if raw not in ADDRESSING_STYLES:
                msg = f"expected one of {', '.join(ADDRESSING_STYLES)}"
                raise ValueError(msg)
            return raw

        d = cls.__dataclass_fields__
        values = {
            "max_dim_px": read("MAX_DIMENSION", positive_int, d["max_dim_px"].default),
            "max_pixels": read("MAX_PIXELS", positive_int, d["max_pixels"].default),
            "max_object_bytes": read(
                "MAX_OBJECT_BYTES", positive_int, d["max_object_bytes"].default
            ),
            "api_max_body_bytes": read(
                "API_MAX_BODY_BYTES", positive_int, d["api_max_body_bytes"].default
            ),
            "upload_max_bytes": read(
                "UPLOAD_MAX_BYTES", positive_int, d["upload_max_bytes"].default
            ),
            "upload_url_expires_s": read(
                "UPLOAD_URL_EXPIRES_S", positive_int, d["upload_url_expires_s"].default
            ),
            "download_url_expires_s": read(
                "DOWNLOAD_URL_EXPIRES_S", positive_int, d["download_url_expires_s"].default
            ),
            "s3_addressing_style": read(
                "S3_ADDRESSING_STYLE", addressing, d["s3_addressing_style"].default
            ),
            "connect_timeout_s": read(
                "AWS_CONNECT_TIMEOUT_S", positive_float, d["connect_timeout_s"].default
            ),
            "read_timeout_s": read(
                "AWS_READ_TIMEOUT_S", positive_float, d["read_timeout_s"].default
            ),
            "max_attempts": read("AWS_MAX_ATTEMPTS", positive_int, d["max_attempts"].default),
        }
        if problems:
            raise ConfigError("; ".join(problems))

        origins = tuple(
            o.strip() for o in environ.get("CORS_ALLOW_ORIGINS", "").split(",") if o.strip()
        )
        return cls(
            metadata_table=environ["METADATA_TABLE"].strip(),
            processed_bucket=_optional(environ, "PROCESSED_BUCKET"),
            uploads_bucket=_optional(environ, "UPLOADS_BUCKET"),
            cors_allow_origins=origins or ("*",),
            uploads_prefix=normalise_prefix(environ.get("UPLOADS_PREFIX", "uploads/")),
            processed_prefix=normalise_prefix(environ.get("PROCESSED_PREFIX", "")),
            rendition_cache_control=_optional(environ, "RENDITION_CACHE_CONTROL")
            or d["rendition_cache_control"].default,
            public_s3_endpoint_url=_optional(environ, "PUBLIC_S3_ENDPOINT_URL"),
            region=_optional(environ, "AWS_REGION") or _optional(environ, "AWS_DEFAULT_REGION"),
            metrics_namespace=_optional(environ, "POWERTOOLS_METRICS_NAMESPACE")
            or d["metrics_namespace"].default,
            **values,  # type: ignore[arg-type]
        )


def normalise_prefix(raw: str) -> str:
    """Return a key prefix that is empty or ends with exactly one ``/``, without leading ``/``.

    ``"processed"`` -> ``"processed/"``; ``"/a//b/"`` -> ``"a/b/"``; ``""`` -> ``""``.
    """
    parts = [p for p in raw.strip().split("/") if p]
    return "/".join(parts) + "/" if parts else ""


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None
