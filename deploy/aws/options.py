"""What a deploy tool command works with: :class:`Options`, resolved from the command line."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = Path(__file__).resolve().parent / "template.yaml"
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}

Say = Callable[[str], None]  # where a step reports progress: print, or a test's list.append


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a command needs, resolved from the command line."""

    stack_name: str = "image-pipeline"
    region: str | None = None
    name_prefix: str | None = None  # default: the stack name
    repository: str | None = None  # default: the name prefix
    image_tag: str | None = None  # default: the git commit SHA
    architecture: str = "x86_64"
    pillow_simd: bool = False
    max_dimension: int | None = None  # None: the stack's current value (template default)
    cors_allow_origins: str | None = None  # None: likewise
    auth_mode: str = "jwt"  # always passed: never a public API by inheritance
    public: bool = False  # --public: AuthMode none is what the operator means
    renditions: str | None = None  # None: likewise (RENDITIONS; template default "default")
    extra_parameters: Mapping[str, str] = field(default_factory=dict)
    template_path: Path = TEMPLATE_PATH
    project_root: Path = PROJECT_ROOT

    @property
    def prefix(self) -> str:
        """The template's NamePrefix."""
        return self.name_prefix or self.stack_name

    @property
    def repository_name(self) -> str:
        """The ECR repository name."""
        return self.repository or self.prefix

    @property
    def platform(self) -> str:
        """The docker --platform for :attr:`architecture`."""
        return PLATFORMS[self.architecture]

    def parameters(self, image_uri: str) -> dict[str, str]:
        """The stack parameters for ``image_uri`` (REPO@sha256:...).

        Settings left unset are left out: an update keeps the stack's current value
        (see :func:`deploy.aws.stack.create_change_set`), a new stack gets the template default.
        """
        optional = {
            "MaxDimension": self.max_dimension,
            "CorsAllowOrigins": self.cors_allow_origins,
            "Renditions": self.renditions,
        }
        return {
            "ImageUri": image_uri,
            "NamePrefix": self.prefix,
            "Architecture": self.architecture,
            "AuthMode": self.auth_mode,
            **{name: str(value) for name, value in optional.items() if value is not None},
            **self.extra_parameters,
        }
