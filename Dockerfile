# syntax=docker/dockerfile:1
#
# One image, both Lambda functions. The handler is chosen by CMD:
#   handlers.resize.handler  (default)  - S3 / SQS-wrapped S3 / EventBridge events
#   handlers.api.handler                - API Gateway REST proxy events
# The AWS Lambda Runtime Interface Client (awslambdaric) is the entry point, so the
# image runs on Lambda as is (PackageType Image, ImageConfig.Command per function), and
# under docker compose the same way: the compose file's `resize` and `api` services only
# set the command and AWS_LAMBDA_RUNTIME_API (the local Lambda service, which runs from
# this image too: python -m deploy.local.lambda_service). See docker-compose.yml.
#
# Build:
#   docker build -t image-pipeline .                                 # Pillow from PyPI wheels
#   docker build --build-arg PILLOW_SIMD=1 -t image-pipeline:simd .  # Pillow-SIMD, x86_64 only
#   docker build --platform linux/arm64 -t image-pipeline:arm64 .    # Graviton (no SIMD)
#
# The build fails when Pillow lacks a codec the engine needs (JPEG, PNG, WebP, AVIF,
# TIFF/libtiff, LittleCMS, HEIF through pillow-heif): python -m deploy.image_check.
# Every Python package is pinned and hash-checked (requirements*.txt, made with
# pip-compile --generate-hashes from the matching *.in files). The runtime stage has no
# pip, no compiler and no -dev package.

ARG PYTHON_IMAGE=python:3.12-slim-trixie

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# 1 = replace Pillow by Pillow-SIMD, compiled here from its hashed sdist.
ARG PILLOW_SIMD=0
# Compiler for Pillow-SIMD; -mavx2 enables its AVX2 paths (every x86_64 Lambda host has
# AVX2). Use "cc" for SSE4-only machines.
ARG PILLOW_SIMD_CC="cc -mavx2"

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

COPY requirements.txt requirements-simd.txt requirements-build.txt requirements-zlib-ng.txt /tmp/req/

# Runtime venv without pip: the base image's pip installs into it (pip --python), so the
# venv holds the requirements and nothing else. Wheels only (awslambdaric, pillow,
# pillow-heif and simplejson ship manylinux wheels for x86_64 and aarch64), every file
# checked against its hash. numpy comes with pyspng, whose libspng decodes PNG pixels
# (imgproc/png_fast.py); the engine calls libspng through ctypes and imports neither pyspng's
# Python module nor numpy, so numpy (55 MB, more than the image's size goal allows) goes.
RUN python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install --no-compile --require-hashes \
        --no-deps --only-binary=:all: -r /tmp/req/requirements.txt \
 && python -m pip --python /opt/venv/bin/python uninstall -y numpy

# botocore carries the models of every AWS service (about 28 MB); the image's code
# creates clients for these only (deploy/image_check.py AWS_SERVICES; tests/deploy checks
# that both lists agree and that the code names no other service).
ARG BOTOCORE_SERVICES="s3 dynamodb sqs lambda iam apigateway sts"
RUN set -eu; \
    cd /opt/venv/lib/python3*/site-packages/botocore/data; \
    for model in */; do \
      case " $BOTOCORE_SERVICES " in *" ${model%/} "*) ;; *) rm -rf "$model" ;; esac; \
    done; \
    find . -name 'examples-*.json' -delete; \
    echo "botocore models kept: $(ls -d */ | tr -d / | tr '\n' ' ')"

# zlib-ng in place of the system zlib. Pillow's manylinux wheel is compiled against zlib-ng
# but loads the system's libz.so.1 (auditwheel leaves libz out of wheels), trixie's zlib
# 1.3.1; zlib-ng inflates about twice as fast: PNG decoding 10-21 % less CPU (issue 14,
# benchmarks/README.md "Levers measured"). Built in compat mode (an ABI-compatible
# libz.so.1, what Fedora ships as its zlib) from the zlib-ng tree in the hashed
# python-zlib-ng sdist on PyPI; the runtime stage puts it first in the loader's path.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends build-essential cmake; \
    python -m pip download --no-deps --no-binary :all: --require-hashes \
        -r /tmp/req/requirements-zlib-ng.txt -d /tmp/zlib-ng; \
    tar -xzf /tmp/zlib-ng/zlib_ng-*.tar.gz -C /tmp/zlib-ng; \
    cmake -S /tmp/zlib-ng/zlib_ng-*/src/zlib_ng/zlib-ng -B /tmp/zlib-ng/build \
        -DZLIB_COMPAT=ON -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF -DWITH_GTEST=OFF \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/opt/zlib-ng; \
    cmake --build /tmp/zlib-ng/build -j "$(nproc)"; \
    cmake --install /tmp/zlib-ng/build; \
    rm -rf /tmp/zlib-ng

# Optional Pillow-SIMD. Headers and compilers stay in this stage; the shared libraries the
# built extension links against are listed (ldd -> dpkg -S) in /opt/runtime-debs.txt, and
# only those are installed in the final stage. Every codec the engine needs is
# "-C X=enable": the compile stops when a library is not found (trixie's tiff.h and
# avif.h are only found through pkg-config). JPEG 2000, FreeType, raqm, imagequant and
# XCB stay out: the engine accepts none of them. pillow-heif keeps working: it only needs
# the PIL API.
RUN set -eux; \
    : > /opt/runtime-debs.txt; \
    if [ "$PILLOW_SIMD" = "1" ]; then \
      arch="$(dpkg --print-architecture)"; \
      if [ "$arch" != "amd64" ]; then \
        echo "PILLOW_SIMD=1 needs x86_64 (amd64), got $arch: Pillow-SIMD has SSE4/AVX2 code only" >&2; \
        exit 1; \
      fi; \
      apt-get update; \
      apt-get install -y --no-install-recommends \
        build-essential pkg-config libjpeg62-turbo-dev zlib1g-dev libpng-dev libwebp-dev \
        libtiff-dev liblcms2-dev libavif-dev; \
      python -m venv /opt/build; \
      /opt/build/bin/pip install --require-hashes --no-deps -r /tmp/req/requirements-build.txt; \
      CC="$PILLOW_SIMD_CC" /opt/build/bin/pip wheel --no-deps --no-build-isolation \
        -C jpeg=enable -C zlib=enable -C tiff=enable -C webp=enable -C avif=enable \
        -C lcms=enable -C jpeg2000=disable -C freetype=disable -C raqm=disable \
        -C imagequant=disable -C xcb=disable \
        --no-binary pillow-simd --require-hashes -r /tmp/req/requirements-simd.txt -w /tmp/wheels; \
      python -m pip --python /opt/venv/bin/python uninstall -y pillow; \
      python -m pip --python /opt/venv/bin/python install --no-compile --no-deps --no-index \
        /tmp/wheels/pillow_simd-*.whl; \
      find /opt/venv/lib/python*/site-packages/PIL -name '*.so' -exec ldd {} + \
        | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u \
        | while read -r lib; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true; done \
        | cut -d: -f1 | sort -u > /opt/runtime-debs.txt; \
      echo "runtime packages for Pillow-SIMD:"; cat /opt/runtime-debs.txt; \
      /opt/venv/bin/python -c "import PIL; assert 'post' in PIL.__version__, PIL.__version__"; \
    fi

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="image-pipeline" \
      org.opencontainers.image.description="S3 image resize + API Lambda handlers (one image, CMD picks the handler)"

# Shared libraries Pillow-SIMD links against (empty list for the default build).
COPY --from=builder /opt/runtime-debs.txt /opt/runtime-debs.txt
RUN set -eux; \
    if [ -s /opt/runtime-debs.txt ]; then \
      apt-get update; \
      xargs -a /opt/runtime-debs.txt apt-get install -y --no-install-recommends; \
      rm -rf /var/lib/apt/lists/*; \
    fi

# No pip at run time: the base image's pip and ensurepip's bundled wheel go (they stay in
# the base layer's bytes, but nothing in the image can install packages).
RUN rm -rf /usr/local/bin/pip* /usr/local/lib/python3*/site-packages/pip \
        /usr/local/lib/python3*/site-packages/pip-*.dist-info /usr/local/lib/python3*/ensurepip \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv
# zlib-ng's libz.so.1 (builder stage) ahead of the system's: /usr/local/lib comes first in
# the loader's search order; Pillow, Python's zlib and every other user load it.
COPY --from=builder /opt/zlib-ng/lib/libz.so.1* /usr/local/lib/
RUN ldconfig \
 && /opt/venv/bin/python -c "from PIL import features; v = features.version('zlib'); \
assert 'zlib-ng' in v, f'Pillow loads zlib {v}, expected zlib-ng'; print('zlib', v)"
# libspng (pyspng's extension module, used by imgproc/png_fast.py) carries zlib 1.2.11 linked
# in statically but called through exported symbols: preloading zlib-ng's libz.so.1 makes it
# inflate with zlib-ng too (6 MP RGBA PNG: 138 -> 111 ms of engine CPU). No other library in
# the venv exports a zlib of its own (readelf), so nothing else changes.
ENV LD_PRELOAD=/usr/local/lib/libz.so.1

ENV PATH=/opt/venv/bin:$PATH \
    LAMBDA_TASK_ROOT=/var/task \
    PYTHONPATH=/var/task \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /var/task
COPY imgproc/ imgproc/
COPY handlers/ handlers/
COPY deploy/ deploy/
# Lambda's file system is read-only, so cold starts cannot cache bytecode: compile the
# project and the venv now; then check the codecs (the build fails when one is missing)
# and warm: importing the entry modules with bytecode writing on leaves .pyc files for
# the standard-library modules they use (the base image ships none; compiling them at
# every cold start cost about 0.3 s of init).
RUN python -m compileall -q -j 0 /var/task /opt/venv/lib \
 && PYTHONDONTWRITEBYTECODE= python -m deploy.image_check --warm \
 && python -c "from imgproc import png_fast; assert png_fast.available(), 'libspng cannot load'"

# Numeric user so "run as non-root" policies can verify it. Lambda runs the image as its
# own unprivileged user anyway; this matters for docker compose and scanners.
USER 10001:10001

ENTRYPOINT ["python", "-m", "awslambdaric"]
CMD ["handlers.resize.handler"]
