"""The container image in ECR: its tag, its repository, and building and pushing it once."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws.docker_cli import ImageBuilder
from deploy.aws.errors import DeployError, UsageError
from deploy.aws.options import Options, Say

TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # ECR image tag rule


def git_image_tag(root: Path, *, now: datetime | None = None) -> str:
    """The immutable image tag for the work tree at ``root``: its commit SHA.

    A tree with uncommitted changes gets ``SHA-dirty-YYYYMMDDTHHMMSSZ`` so the tag never
    names code that differs from the commit.

    Raises:
        DeployError: not a git work tree, or no commit yet.
    """

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            msg = (
                f"cannot name the image after a git commit ({done.stderr.strip()}); "
                "commit first or pass --image-tag"
            )
            raise DeployError(msg)
        return done.stdout.strip()

    sha = git("rev-parse", "--verify", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return f"{sha}-dirty-{stamp}"
    return sha


def check_tag(tag: str) -> str:
    """Return ``tag`` if ECR accepts it; raise :class:`UsageError` otherwise."""
    if not TAG_PATTERN.match(tag):
        msg = f"image tag {tag!r} is not valid for ECR (letters, digits, _ . -; max 128)"
        raise UsageError(msg)
    return tag


def ensure_repository(ecr: Any, name: str, *, say: Say = print) -> str:
    """Create the ECR repository ``name`` (immutable tags, scan on push) unless it exists.

    Returns:
        The repository URI (``ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME``).
    """
    try:
        repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ClientError as e:
        if e.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        repo = ecr.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "AES256"},
        )["repository"]
        say(f"created ECR repository {repo['repositoryUri']} (immutable tags)")
    return str(repo["repositoryUri"])


def image_digest(ecr: Any, repository: str, tag: str) -> str | None:
    """The digest (``sha256:...``) of ``repository:tag`` in ECR, or ``None``."""
    try:
        images = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])[
            "imageDetails"
        ]
    except ClientError as e:
        if e.response["Error"]["Code"] in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return None
        raise
    return str(images[0]["imageDigest"]) if images else None


def registry_credentials(ecr: Any) -> tuple[str, str, str]:
    """``(registry_host, username, password)`` from ECR's authorization token (12 h)."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    registry = re.sub(r"^https?://", "", data["proxyEndpoint"])
    return registry, username, password


def publish_image(
    ecr: Any, builder: ImageBuilder, opts: Options, tag: str, *, say: Say = print
) -> str:
    """Build and push the image as ``REPO:tag`` unless ECR has it already.

    Returns:
        The image URI pinned by digest: ``REPO_URI@sha256:...`` (what the functions run).

    Raises:
        DeployError: the push finished but ECR does not list the tag.
    """
    repo_uri = ensure_repository(ecr, opts.repository_name, say=say)
    digest = image_digest(ecr, opts.repository_name, tag)
    if digest:
        say(f"{repo_uri}:{tag} is in ECR already ({digest}); not rebuilding")
        return f"{repo_uri}@{digest}"
    registry, username, password = registry_credentials(ecr)
    builder.login(registry, username, password)
    local_tag = f"{repo_uri}:{tag}"
    say(
        f"building {local_tag} for {opts.platform}"
        + (" with Pillow-SIMD" if opts.pillow_simd else "")
    )
    builder.build(
        context=opts.project_root,
        dockerfile=opts.project_root / "Dockerfile",
        tag=local_tag,
        platform=opts.platform,
        build_args={"PILLOW_SIMD": "1" if opts.pillow_simd else "0"},
    )
    say(f"pushing {local_tag}")
    builder.push(local_tag)
    digest = image_digest(ecr, opts.repository_name, tag)
    if not digest:
        msg = f"pushed {local_tag} but ECR does not list it"
        raise DeployError(msg)
    return f"{repo_uri}@{digest}"


def planned_image_uri(ecr: Any, sts: Any, opts: Options, tag: str, *, say: Say = print) -> str:
    """The image URI a deploy of ``tag`` would pass to the stack; builds nothing.

    Returns:
        ``ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:...``: the digest in ECR, or 64
        zeros when the tag is not built yet (deploy would build it).
    """
    digest = image_digest(ecr, opts.repository_name, tag)
    say(
        f"image {opts.repository_name}:{tag}: "
        + (f"in ECR ({digest})" if digest else "not built yet; deploy will build it")
    )
    account = sts.get_caller_identity()["Account"]
    region = opts.region or ecr.meta.region_name
    return (
        f"{account}.dkr.ecr.{region}.amazonaws.com/{opts.repository_name}"
        f"@{digest or 'sha256:' + '0' * 64}"
    )
