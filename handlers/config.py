"""Settings of the two Lambda functions, each declared once and read from the environment.

Every variable the handlers read is one declaration below (:func:`setting`,
:func:`required` or :func:`optional`): field name and type, variable name, parser, default,
unit and meaning. Parsing (:meth:`Settings.from_env`), the variables each function
requires (:data:`REQUIRED`) and the table at the end of this docstring
(:func:`variables_table`; ``python -m handlers.config`` prints it) are all derived from
those declarations.

One class per function role, with the buckets that role needs required:

- :class:`ResizeSettings`: ``METADATA_TABLE`` and ``PROCESSED_BUCKET``;
- :class:`ApiSettings`: ``METADATA_TABLE`` and ``UPLOADS_BUCKET``;
- :class:`Settings` (role ``any``): ``METADATA_TABLE`` and the tunables both share.

Tunables are unset or empty for their default (``UPLOADS_PREFIX`` and
``PROCESSED_PREFIX`` excepted: set and empty means no prefix). Every function checks every
tunable at cold start, so one malformed value fails fast wherever it is set. Endpoints come
from the SDK's own ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` variables, which
boto3 honours itself.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, Self, TypeVar, overload

from imgproc import DEFAULT_MAX_PIXELS, PRESETS, RenditionSet, SpecError
from imgproc.encode import missing_encoders
from imgproc.renditions import PRIMARY_NAME, Rendition, parse_renditions, preset

T = TypeVar("T")
N = TypeVar("N", int, float)
Role = Literal["resize", "api", "any"]

ADDRESSING_STYLES = ("auto", "path", "virtual")
AUTH_MODES = ("none", "jwt", "iam")
DEFAULT_METRICS_NAMESPACE = "ImagePipeline"


class ConfigError(ValueError):
    """The environment is incomplete or malformed; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class Variable(Generic[T]):
    """One environment variable: how it is read, its default, unit and meaning.

    Attributes:
        names: the variable, then fallbacks (the first one set wins).
        parse: raw (stripped) text -> value; raises ``ValueError`` when malformed, returns
            ``None`` when the text holds no value (a list of only commas).
        default: the value when unset; ignored when ``required``.
        unit: what the number counts (``pixels``, ``bytes``, ``seconds``), or ``""``.
        doc: one line for the table.
        required: the function cannot run without it.
        empty_is_value: set-but-empty is a value (``""``), not "use the default".
    """

    names: tuple[str, ...]
    parse: Callable[[str], T | None]
    default: T
    unit: str
    doc: str
    required: bool = False
    empty_is_value: bool = False

    @property
    def name(self) -> str:
        """The variable's own name (without fallbacks)."""
        return self.names[0]

    def raw(self, environ: Mapping[str, str]) -> str | None:
        """The stripped text of the first of :attr:`names` that is set, else ``None``."""
        for name in self.names:
            value = environ.get(name)
            if value is None:
                continue
            value = value.strip()
            if value or self.empty_is_value:
                return value
        return None


# ---------------------------------------------------------------- parsers


def text(raw: str) -> str:
    """Any non-empty text."""
    return raw


def positive_int(raw: str) -> int:
    """An integer above zero."""
    return _positive(int(raw), "integer")


def positive_float(raw: str) -> float:
    """A number above zero."""
    return _positive(float(raw), "number")


def _positive(value: N, kind: str) -> N:
    if value <= 0:
        msg = f"expected a positive {kind}, got {value}"
        raise ValueError(msg)
    return value


def boolean(raw: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``; any case)."""
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    msg = "expected true or false"
    raise ValueError(msg)


def addressing_style(raw: str) -> str:
    """One of :data:`ADDRESSING_STYLES`."""
    if raw not in ADDRESSING_STYLES:
        msg = f"expected one of {', '.join(ADDRESSING_STYLES)}"
        raise ValueError(msg)
    return raw


def auth_mode(raw: str) -> str:
    """One of :data:`AUTH_MODES` (lower-cased)."""
    mode = raw.lower()
    if mode not in AUTH_MODES:
        msg = f"expected one of {', '.join(AUTH_MODES)}"
        raise ValueError(msg)
    return mode


def non_negative_int(raw: str) -> int:
    """An integer of zero or more (0 usually means "no limit")."""
    value = int(raw)
    if value < 0:
        msg = f"expected zero or a positive integer, got {value}"
        raise ValueError(msg)
    return value


def rendition_spec(raw: str) -> str:
    """A preset name (``default``, ``web``, ``web-large``) or a rendition spec.

    The spec syntax is :mod:`imgproc.renditions`'s.

    Only the syntax is checked here; :func:`resolve_renditions` checks the set against
    ``MAX_DIMENSION`` and the encoders once every variable is read.
    """
    try:
        parse_renditions(raw)
    except SpecError as e:
        raise ValueError(str(e)) from None
    return raw


def comma_list(raw: str) -> tuple[str, ...] | None:
    """``"a, b,"`` -> ``("a", "b")``; ``None`` when no item is left."""
    items = tuple(part.strip() for part in raw.split(",") if part.strip())
    return items or None


def normalise_prefix(raw: str) -> str:
    """Return a key prefix that is empty or ends with exactly one ``/``, without leading ``/``.

    ``"processed"`` -> ``"processed/"``; ``"/a//b/"`` -> ``"a/b/"``; ``""`` -> ``""``.
    """
    parts = [p for p in raw.strip().split("/") if p]
    return "/".join(parts) + "/" if parts else ""


# ---------------------------------------------------------------- declarations


def setting(
    name: str | tuple[str, ...],
    parse: Callable[[str], T | None],
    default: T,
    *,
    unit: str = "",
    doc: str,
    empty_is_value: bool = False,
) -> T:
    """Declare a settings field read from variable ``name`` (a tuple: with fallbacks)."""
    variable = Variable(
        names=(name,) if isinstance(name, str) else name,
        parse=parse,
        default=default,
        unit=unit,
        doc=doc,
        empty_is_value=empty_is_value,
    )
    return dataclasses.field(default=default, metadata={"variable": variable})


def required(name: str, *, doc: str) -> str:
    """Declare a settings field read from the required text variable ``name``."""
    variable = Variable((name,), text, "", unit="", doc=doc, required=True)
    field: str = dataclasses.field(metadata={"variable": variable})
    return field


def optional(name: str, *, doc: str) -> str | None:
    """Declare a settings field read from the text variable ``name``; ``None`` when unset."""
    return setting(name, text, None, doc=doc)


DEFAULT_RENDITIONS = "default"
"""Today's single rendition: ``MAX_DIMENSION`` px, JPEG or PNG (``auto``), at today's key."""
UPLOADS_BUCKET_DOC = "bucket the API stores uploads in; resize trusts API image ids only there"
PROCESSED_BUCKET_DOC = "bucket the renditions are written to"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What both functions read; build it (or a role's subclass) with :meth:`from_env`."""

    metadata_table: str = required("METADATA_TABLE", doc="DynamoDB table of the image items")
    max_dim_px: int = setting(
        "MAX_DIMENSION",
        positive_int,
        500,
        unit="pixels",
        doc="longest side of the default rendition",
    )
    max_pixels: int = setting(
        "MAX_PIXELS",
        positive_int,
        DEFAULT_MAX_PIXELS,
        unit="pixels",
        doc="largest decoded image accepted (width x height)",
    )
    max_object_bytes: int = setting(
        "MAX_OBJECT_BYTES",
        positive_int,
        52_428_800,
        unit="bytes",
        doc="resize refuses bigger objects after a HEAD, without a GET",
    )
    # Lambda's 6 MB invocation payload bites first, and API Gateway sends binary bodies
    # base64-encoded (4/3 larger): about 4.5 MB of image fits in one POST /images.
    api_max_body_bytes: int = setting(
        "API_MAX_BODY_BYTES",
        positive_int,
        4_500_000,
        unit="bytes",
        doc="POST /images image size limit (bigger files use POST /uploads)",
    )
    # 20 MiB: a phone photo (HEIC/JPEG, 2-12 MB) with room to spare; was 50 MiB, which let
    # one anonymous grant reserve a lot of storage (issue 12).
    upload_max_bytes: int = setting(
        "UPLOAD_MAX_BYTES",
        positive_int,
        20_971_520,
        unit="bytes",
        doc="presigned POST content-length-range maximum",
    )
    upload_url_expires_s: int = setting(
        "UPLOAD_URL_EXPIRES_S", positive_int, 300, unit="seconds", doc="presigned POST lifetime"
    )
    download_url_expires_s: int = setting(
        "DOWNLOAD_URL_EXPIRES_S",
        positive_int,
        900,
        unit="seconds",
        doc="presigned GET lifetime for renditions",
    )
    # No cross-origin caller by default: the upload page is served from the API's own
    # origin (locally the runner allows the front's origin; on AWS: CorsAllowOrigins).
    cors_allow_origins: tuple[str, ...] = setting(
        "CORS_ALLOW_ORIGINS",
        comma_list,
        (),
        doc="comma-separated allowed origins, or * (default: none, same-origin only)",
    )
    uploads_prefix: str = setting(
        "UPLOADS_PREFIX",
        normalise_prefix,
        "uploads/",
        doc="key prefix of API uploads (a / is appended)",
        empty_is_value=True,
    )
    processed_prefix: str = setting(
        "PROCESSED_PREFIX",
        normalise_prefix,
        "",
        doc="key prefix of renditions (a / is appended)",
        empty_is_value=True,
    )
    rendition_cache_control: str = setting(
        "RENDITION_CACHE_CONTROL",
        text,
        "private, max-age=900",
        doc="Cache-Control header stored on renditions (private: no shared caches)",
    )
    deleted_item_ttl_days: int = setting(
        "DELETED_ITEM_TTL_DAYS",
        non_negative_int,
        30,
        unit="days",
        doc="how long a deleted image's item is kept (TTL expires_at); 0 keeps it",
    )
    public_s3_endpoint_url: str | None = optional(
        "PUBLIC_S3_ENDPOINT_URL", doc="endpoint used only to sign URLs handed to clients"
    )
    s3_addressing_style: str = setting(
        "S3_ADDRESSING_STYLE",
        addressing_style,
        "auto",
        doc="auto, path or virtual, for S3 requests",
    )
    region: str | None = setting(
        ("AWS_REGION", "AWS_DEFAULT_REGION"), text, None, doc="AWS region of the clients"
    )
    connect_timeout_s: float = setting(
        "AWS_CONNECT_TIMEOUT_S", positive_float, 5.0, unit="seconds", doc="SDK connect timeout"
    )
    read_timeout_s: float = setting(
        "AWS_READ_TIMEOUT_S", positive_float, 30.0, unit="seconds", doc="SDK read timeout"
    )
    max_attempts: int = setting(
        "AWS_MAX_ATTEMPTS", positive_int, 3, doc="SDK attempts per call (standard retry mode)"
    )
    metrics_namespace: str = setting(
        "POWERTOOLS_METRICS_NAMESPACE",
        text,
        DEFAULT_METRICS_NAMESPACE,
        doc="CloudWatch namespace of the EMF metrics",
    )

    @overload
    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, role: Literal["resize"]) -> ResizeSettings: ...
    @overload
    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, role: Literal["api"]) -> ApiSettings: ...
    @overload
    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, role: None = None) -> Self: ...
    @overload
    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, role: Role) -> Settings: ...

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, role: Role | None = None) -> Settings:
        """Build the settings of ``role`` (default: this class) from ``environ``.

        Args:
            environ: the environment mapping (usually ``os.environ``).
            role: ``"resize"`` -> :class:`ResizeSettings`, ``"api"`` -> :class:`ApiSettings`,
                ``"any"`` -> :class:`Settings`; ``None``: the class it is called on.

        Raises:
            ConfigError: listing every missing required variable and every malformed
                tunable in one message.
        """
        kind = cls if role is None else SETTINGS_BY_ROLE[role]
        values: dict[str, Any] = {}
        missing: list[str] = []
        malformed: list[str] = []
        for name, variable in declarations(kind):
            raw = variable.raw(environ)
            value = None
            if raw is not None:
                try:
                    value = variable.parse(raw)
                except ValueError as e:
                    malformed.append(f"{variable.name}={raw!r} is invalid: {e}")
            if value is not None:
                values[name] = value
            elif variable.required and raw is None:
                missing.append(variable.name)
        problems = malformed
        if missing:
            problems = [f"missing required environment variables: {', '.join(missing)}", *problems]
        if problems:
            raise ConfigError("; ".join(problems))
        return kind(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResizeSettings(Settings):
    """Settings of the resize function: the processed bucket is required.

    Raises:
        ConfigError: at construction, when ``RENDITIONS`` does not fit ``MAX_DIMENSION``
            or needs an encoder this Pillow lacks (:func:`resolve_renditions`).
    """

    processed_bucket: str = required("PROCESSED_BUCKET", doc=PROCESSED_BUCKET_DOC)
    uploads_bucket: str | None = optional("UPLOADS_BUCKET", doc=UPLOADS_BUCKET_DOC)
    expiry_keeps_renditions: bool = setting(
        "EXPIRY_KEEPS_RENDITIONS",
        boolean,
        False,
        doc="a lifecycle expiration of an original leaves its renditions and item (a "
        "retention rule that only drops full-size originals); false: it deletes them",
    )
    max_receive_count: int = setting(
        "MAX_RECEIVE_COUNT",
        positive_int,
        3,
        unit="receives",
        doc="the queue's redrive maxReceiveCount: a message failing on this receive is "
        "given up on (item failed, gave_up) as it goes to the DLQ",
    )
    renditions: str = setting(
        "RENDITIONS",
        rendition_spec,
        DEFAULT_RENDITIONS,
        doc="rendition set: a preset (default, web, web-large) or a spec such as 'thumb:200:webp, "
        "1600:avif'; the default rendition is MAX_DIMENSION px",
    )

    def __post_init__(self) -> None:
        self.rendition_set()

    def rendition_set(self) -> RenditionSet:
        """The renditions to make of each upload (:func:`resolve_renditions`; cached)."""
        return resolve_renditions(self.renditions, self.max_dim_px)


@functools.lru_cache(maxsize=8)
def resolve_renditions(spec: str, max_dim_px: int) -> RenditionSet:
    """The rendition set of ``RENDITIONS`` = ``spec`` with ``MAX_DIMENSION`` = ``max_dim_px``.

    - A preset name: that preset (:data:`imgproc.PRESETS`), its ``default`` rendition at
      ``max_dim_px`` (``default``: that rendition alone, today's single output).
    - A spec (:mod:`imgproc.renditions`): its renditions, after ``default:<max_dim_px>:auto``
      when it names no ``default``. A spec that names ``default`` gives it first and at
      ``max_dim_px`` (its format and options are free), so ``MAX_DIMENSION`` alone sizes
      the rendition at the default key that the item's ``processed_*`` fields describe.

    Raises:
        ConfigError: a malformed spec, a ``default`` that is not first or not
            ``max_dim_px`` in size, a size out of range, or a format this Pillow cannot
            encode (:func:`imgproc.encode.missing_encoders`; AVIF in a Pillow built without
            libavif, such as the Pillow-SIMD image).
    """
    where = f"RENDITIONS={spec!r} (MAX_DIMENSION={max_dim_px})"
    try:
        renditions = rendition_set_of(spec, max_dim_px)
    except SpecError as e:
        raise ConfigError(f"{where} is invalid: {e}") from None
    missing = missing_encoders({r.format for r in renditions})
    if missing:
        msg = (
            f"{where} needs {', '.join(missing)}, which this Pillow cannot encode "
            "(PIL.features); use a set without it or a Pillow built with it"
        )
        raise ConfigError(msg)
    return renditions


def rendition_set_of(spec: str, max_dim_px: int) -> RenditionSet:
    """:func:`resolve_renditions` without the encoder check: the set a spec names.

    Raises:
        SpecError: as :func:`resolve_renditions` (its ``ConfigError`` causes but encoders).
    """
    spec = spec.strip()
    if spec in PRESETS:
        return preset(spec, max_dim_px=max_dim_px)
    given = parse_renditions(spec, max_dim_px=max_dim_px).renditions
    if PRIMARY_NAME not in {r.name for r in given}:
        return RenditionSet((Rendition(PRIMARY_NAME, max_dim_px), *given))
    first = given[0]
    if first.name != PRIMARY_NAME:
        raise SpecError(f"the {PRIMARY_NAME} rendition must come first, got {first.name} first")
    if first.max_dim_px != max_dim_px:
        msg = (
            f"the {PRIMARY_NAME} rendition is MAX_DIMENSION px: expected {max_dim_px}, got "
            f"{first.max_dim_px} (set MAX_DIMENSION instead, or leave {PRIMARY_NAME} out)"
        )
        raise SpecError(msg)
    return RenditionSet(given)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings(Settings):
    """Settings of the API function: the uploads bucket is required."""

    uploads_bucket: str = required("UPLOADS_BUCKET", doc=UPLOADS_BUCKET_DOC)
    auth_mode: str = setting(
        "AUTH_MODE",
        auth_mode,
        "none",
        doc="none, jwt (Cognito user pool authorizer) or iam (SigV4): who owns an upload",
    )
    quota_table: str | None = optional(
        "QUOTA_TABLE", doc="DynamoDB table of per-owner daily upload counters; unset: no quota"
    )
    daily_upload_count: int = setting(
        "DAILY_UPLOAD_COUNT",
        non_negative_int,
        200,
        unit="uploads",
        doc="uploads (POST /images + POST /uploads) per owner per UTC day; 0: no limit",
    )
    daily_upload_bytes: int = setting(
        "DAILY_UPLOAD_BYTES",
        non_negative_int,
        1_073_741_824,
        unit="bytes",
        doc="bytes per owner per UTC day (a grant counts its announced size, else the "
        "maximum); 0: no limit",
    )


SETTINGS_BY_ROLE: dict[Role, type[Settings]] = {
    "resize": ResizeSettings,
    "api": ApiSettings,
    "any": Settings,
}


def declarations(kind: type[Settings]) -> list[tuple[str, Variable[Any]]]:
    """``(field name, Variable)`` of every setting of ``kind``, in declaration order."""
    return [(f.name, f.metadata["variable"]) for f in dataclasses.fields(kind)]


REQUIRED: dict[Role, tuple[str, ...]] = {
    role: tuple(v.name for _, v in declarations(kind) if v.required)
    for role, kind in SETTINGS_BY_ROLE.items()
}
"""The variables each role cannot start without (``METADATA_TABLE`` first)."""


def variables_table() -> str:
    """Every variable as a text table: name, default, unit, the functions reading it, meaning."""
    readers: dict[str, list[str]] = {}
    needed_by: dict[str, list[str]] = {}
    variables: dict[str, Variable[Any]] = {}
    for role in ("resize", "api"):
        for _, variable in declarations(SETTINGS_BY_ROLE[role]):
            variables.setdefault(variable.name, variable)
            readers.setdefault(variable.name, []).append(role)
            if variable.required:
                needed_by.setdefault(variable.name, []).append(role)
    header = ["variable", "default", "unit", "read by", "meaning"]
    lines = [header]
    for name, variable in variables.items():
        default = _shown(variable)
        needed = needed_by.get(name, [])
        if needed:
            default = "(required)" if needed == readers[name] else f"(required by {needed[0]})"
        read_by = "both" if len(readers[name]) == 2 else readers[name][0]
        fallback = "".join(f" (else {other})" for other in variable.names[1:])
        lines.append([name, default, variable.unit, read_by, variable.doc + fallback])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    rule = ["-" * width for width in widths] + ["-" * len(header[-1])]
    out = []
    for line in [header, rule, *lines[1:]]:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(out)


def _shown(variable: Variable[Any]) -> str:
    """The default as the table shows it."""
    default = variable.default
    if default is None:
        return "(unset)"
    if isinstance(default, tuple):
        return ",".join(default)
    if default == "":
        return "(empty)"
    return str(default)


if __doc__ is not None:
    __doc__ += "\nThe variables (generated from the declarations above)::\n\n" + "\n".join(
        f"    {line}" for line in variables_table().splitlines()
    )


if __name__ == "__main__":
    print(variables_table())
