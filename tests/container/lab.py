"""The container engine from the tests: can the image run here, the CLI, the lab's namespace.

No Docker engine runs on the project's machines, but podman does, set up by the
container lab (``../shared/container-lab`` beside the project, or ``$CONTAINER_LAB``;
see its README): ``setup`` (podman configured for the kernel), ``base-image`` (a stand-in
for ``python:3.12-slim-trixie``), ``localstack install``. ``.ci/run`` runs those
(``.ci/lab prepare``) and builds the image (``make image``); these helpers only look and
use. Where the lab is not prepared but a Docker engine answers, ``docker`` is used.

:func:`why_unavailable` answers, in one plain sentence, why the container tests cannot
run (no lab and no Docker engine, not root, image not built...), or ``None``. Every
container command goes through :func:`cli`: podman with the lab's configuration
(``$LAB/env.sh``: vfs storage under ``$LAB``, runc, host network, no CNI plugins, so no
bridge network can be made by accident), or docker.
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


def _run(
    argv: Sequence[str], env: dict[str, str] | None, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), env=env, capture_output=True, timeout=timeout_s, check=False, text=True
    )


def cli(*args: str, timeout_s: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS`` (the lab's configuration) or ``docker ARGS``; output captured.

    Raises:
        RuntimeError: no engine (check :func:`why_unavailable` first).
        subprocess.CalledProcessError: ``check`` and a non-zero exit (output attached).
    """
    name = engine()
    if name is None:
        raise RuntimeError(f"no container engine: {engine_unavailable()}")
    env = podman_env() if name == "podman" else None
    done = _run([name, *args], env, timeout_s)
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return done


def image_exists(image: str) -> bool:
    """Is ``image`` in the engine's local storage?"""
    return cli("image", "inspect", image, check=False, timeout_s=60).returncode == 0


@functools.cache
def docker_unavailable() -> str | None:
    """Why no Docker engine can be used, or None."""
    if shutil.which("docker") is None:
        return "no docker command"
    done = _run(["docker", "info", "--format", "{{.ServerVersion}}"], None, 30)
    if done.returncode != 0:
        return "no Docker engine answers"
    return None


@functools.cache
def engine() -> str | None:
    """``"podman"`` (the container lab, when prepared), else ``"docker"``, else None."""
    if lab_unavailable() is None:
        return "podman"
    if docker_unavailable() is None:
        return "docker"
    return None


def engine_unavailable() -> str | None:
    """Why no engine can run containers here (both the lab's and Docker's reason)."""
    if engine() is not None:
        return None
    return f"container lab: {lab_unavailable()}; Docker: {docker_unavailable()}"


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
    env = podman_env()
    done = _run(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], env, 60)
    if done.returncode != 0:
        return f"podman does not work here: {done.stderr.strip()[-300:]}"
    return None


def why_unavailable(image: str | None = IMAGE) -> str | None:
    """Why containers of ``image`` cannot run here (no engine, image not built), or None."""
    reason = engine_unavailable()
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
        ["bash", str(lab_scripts() / name), *args],
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
        done = cli("logs", "--tail", str(tail), name, check=False, timeout_s=30)
        parts.append(f"--- {name} ---\n{done.stdout}{done.stderr}")
    return "\n".join(parts)
