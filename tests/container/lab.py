"""The container lab from the tests: can the image run here, podman, the lab's namespace.

No Docker engine runs on the project's machines, but podman does, set up by the
container lab (``../shared/container-lab`` beside the project, or ``$CONTAINER_LAB``;
see its README): ``setup`` (podman configured for the kernel), ``base-image`` (a stand-in
for ``python:3.12-slim-trixie``), ``localstack install``. ``.ci/run`` runs those and
builds the image (``make image``); these helpers only look and use.

:func:`why_unavailable` answers, in one plain sentence, why the container tests cannot
run (no lab scripts, not root, no podman, no user namespace..., image not built), or
``None``. Everything that talks to podman goes through :func:`podman`, with the lab's
configuration (``$LAB/env.sh``: vfs storage under ``$LAB``, runc, host network, no CNI
plugins, so no bridge network can be made by accident).
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("IMAGE_PIPELINE_IMAGE", "image-pipeline:local")
"""The default build (``make image``)."""
SIMD_IMAGE = os.environ.get("IMAGE_PIPELINE_SIMD_IMAGE", "image-pipeline:simd")
"""The ``PILLOW_SIMD=1`` build (``make image-simd``)."""
CLONE_NEWNET = 0x40000000


def lab_scripts() -> Path:
    """Where the lab's scripts are: ``$CONTAINER_LAB``, else ``../shared/container-lab``."""
    configured = os.environ.get("CONTAINER_LAB")
    if configured:
        return Path(configured)
    return PROJECT_ROOT.parent / "shared" / "container-lab"


def lab_dir() -> Path:
    """The lab's state (``$LAB``, default ``/var/tmp/container-lab``)."""
    return Path(os.environ.get("LAB") or "/var/tmp/container-lab")


@functools.cache
def podman_env() -> dict[str, str] | None:
    """This process's environment plus what ``$LAB/env.sh`` exports; None without it."""
    env_sh = lab_dir() / "env.sh"
    if not env_sh.is_file():
        return None
    done = subprocess.run(
        ["bash", "-c", '. "$1" && env -0', "env.sh", str(env_sh)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        return None
    pairs = (entry.split("=", 1) for entry in done.stdout.decode().split("\0") if "=" in entry)
    return dict(pairs)


def podman(
    *args: str, timeout_s: float = 120, check: bool = True, input_bytes: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS`` with the lab's configuration; text output captured.

    Raises:
        RuntimeError: the lab is not set up (no ``$LAB/env.sh``).
        subprocess.CalledProcessError: ``check`` and a non-zero exit (output attached).
    """
    env = podman_env()
    if env is None:
        msg = f"the container lab is not set up: no {lab_dir() / 'env.sh'}"
        raise RuntimeError(msg)
    done = subprocess.run(
        ["podman", *args],
        env=env,
        capture_output=True,
        timeout=timeout_s,
        check=False,
        input=input_bytes.decode() if input_bytes is not None else None,
        text=True,
    )
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return done


def image_exists(image: str) -> bool:
    """Is ``image`` in the lab's local storage?"""
    return podman("image", "exists", image, check=False, timeout_s=60).returncode == 0


@functools.cache
def lab_unavailable() -> str | None:
    """Why podman cannot run containers here through the lab, or None when it can."""
    if not sys.platform.startswith("linux"):
        return f"the container lab needs Linux, this is {sys.platform}"
    scripts = lab_scripts()
    if not (scripts / "setup").is_file():
        return (
            f"no container lab at {scripts} (it is ../shared/container-lab beside the project; "
            "set CONTAINER_LAB to use another)"
        )
    if os.geteuid() != 0:
        return "the container lab needs root (podman storage, network namespaces)"
    if shutil.which("podman") is None:
        return f"podman is not installed: run {scripts / 'setup'}"
    if podman_env() is None:
        return (
            f"the container lab is not set up (no {lab_dir() / 'env.sh'}): run {scripts / 'setup'}"
        )
    done = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout_s=60)
    if done.returncode != 0:
        return f"podman does not work here: {done.stderr.strip()[-300:]}"
    return None


def why_unavailable(image: str | None = IMAGE) -> str | None:
    """Why containers of ``image`` cannot run here (lab missing, image not built), or None."""
    reason = lab_unavailable()
    if reason is None and image is not None and not image_exists(image):
        target = "make image-simd" if image == SIMD_IMAGE else "make image"
        reason = f"image {image} is not built: run {target}"
    return reason


def localstack_unavailable() -> str | None:
    """Why the lab's LocalStack cannot run (not installed), or None."""
    venv_python = lab_dir() / "localstack-venv" / "bin" / "python"
    if not venv_python.exists():
        return f"LocalStack is not installed in the lab: run {lab_scripts() / 'localstack'} install"
    return None


def lab_script(name: str, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Run one of the lab's scripts (``compose-up``, ``compose-down``, ...); output captured."""
    return subprocess.run(
        [str(lab_scripts() / name), *args],
        env={**os.environ, "LAB": str(lab_dir())},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def namespace_pid() -> int | None:
    """PID of the process that holds the lab's loopback-only namespace (compose-up's)."""
    netns = lab_dir() / "netns"
    try:
        pid = int((netns / "anchor.pid").read_text().strip())
        expected = (netns / "ns.id").read_text().strip()
        if os.readlink(f"/proc/{pid}/ns/net") == expected:
            return pid
    except (OSError, ValueError):
        return None
    return None


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@contextmanager
def in_namespace(pid: int) -> Iterator[None]:
    """Run the calling thread in the network namespace of ``pid``, then return to its own.

    A network namespace is per thread: sockets made meanwhile (HTTP clients, boto3) and
    processes started meanwhile live there, so ``localhost:8080`` is the compose stack's
    API, as with the lab's ``lab-exec``. Needs root (CAP_SYS_ADMIN).
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def container_logs(names: Sequence[str], tail: int = 40) -> str:
    """The last ``tail`` log lines of each container, for failure messages."""
    parts = []
    for name in names:
        done = podman("logs", "--tail", str(tail), name, check=False, timeout_s=30)
        parts.append(f"--- {name} ---\n{done.stdout}{done.stderr}")
    return "\n".join(parts)
