# Two entry points for a fresh machine (Python 3.11+): `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
IMAGES ?=
ARGS   ?=

.PHONY: run test lint bench clean image image-simd

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run the local pipeline; with IMAGES=path... it processes them and exits
run: $(STAMP)
	$(BIN)/python -m deploy.local $(IMAGES) $(ARGS)

## run the whole test suite (Docker-only tests skip without an engine)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint deploy/aws/template.yaml

## time the engine against plain Pillow, pyvips and the JPEG decode floor
bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py $(ARGS)

## build the container image (podman through ../shared/container-lab, else Docker)
image:
	bash .ci/lab build

## the same with Pillow-SIMD (x86_64): image-pipeline:simd
image-simd:
	bash .ci/lab build simd

clean:
	rm -rf $(VENV) out test-artifacts
