"""The deploy tool's port to Docker: build an image, log in to a registry, push.

:class:`ImageBuilder` is the port; :class:`DockerCli` drives the ``docker`` command. Tests
swap in a fake, so nothing here runs without a Docker engine.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol


class DockerError(RuntimeError):
    """A docker command failed; the message holds the command and its output tail."""


class ImageBuilder(Protocol):
    """Build and push container images."""

    def login(self, registry: str, username: str, password: str) -> None:
        """Log in to ``registry`` (host name, no scheme)."""

    def build(
        self,
        *,
        context: Path,
        dockerfile: Path,
        tag: str,
        platform: str,
        build_args: Mapping[str, str],
    ) -> None:
        """Build ``context`` into the local image ``tag`` for ``platform`` (linux/amd64...)."""

    def push(self, tag: str) -> None:
        """Push the local image ``tag`` (REGISTRY/REPO:TAG) to its registry."""


class DockerCli:
    """:class:`ImageBuilder` on the ``docker`` command line (Docker Engine with buildx)."""

    def __init__(self, executable: str = "docker") -> None:
        self.executable = executable

    def available(self) -> bool:
        """True when the ``docker`` command exists (the engine may still be down)."""
        return shutil.which(self.executable) is not None

    def login(self, registry: str, username: str, password: str) -> None:
        """``docker login --password-stdin``: the password never shows in ``ps``."""
        self._run(["login", "--username", username, "--password-stdin", registry], stdin=password)

    def build(
        self,
        *,
        context: Path,
        dockerfile: Path,
        tag: str,
        platform: str,
        build_args: Mapping[str, str],
    ) -> None:
        """``docker build`` of a single-platform image Lambda accepts.

        ``--provenance=false --sbom=false``: BuildKit otherwise wraps the image in an OCI
        index with attestation manifests, and Lambda rejects such an image
        ("The image manifest, config or layer media type ... is not supported").
        """
        args = [
            "build",
            "--platform",
            platform,
            "--provenance=false",
            "--sbom=false",
            "--file",
            str(dockerfile),
            "--tag",
            tag,
        ]
        for name, value in sorted(build_args.items()):
            args += ["--build-arg", f"{name}={value}"]
        self._run([*args, str(context)], capture=False)

    def push(self, tag: str) -> None:
        """``docker push``."""
        self._run(["push", tag], capture=False)

    def _run(self, args: Sequence[str], *, stdin: str | None = None, capture: bool = True) -> None:
        command = [self.executable, *args]
        try:
            done = subprocess.run(
                command, input=stdin, text=True, check=False, capture_output=capture
            )
        except FileNotFoundError as e:
            msg = f"{self.executable!r} not found: install Docker (Engine or Desktop)"
            raise DockerError(msg) from e
        if done.returncode != 0:
            tail = ((done.stderr or "") + (done.stdout or ""))[-2000:] if capture else ""
            msg = f"{' '.join(command[:3])} ... exited {done.returncode}\n{tail}".rstrip()
            raise DockerError(msg)
