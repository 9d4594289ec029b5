# Entry points for a fresh machine with Python 3.11+: `make run` (the demo), `make test`.
# Plain `make` lists the targets.
#
# PYTHON: the interpreter that makes .venv (default: the first of python3, python3.13,
# python3.12, python3.11 that is 3.11 or newer). It is checked before anything is created,
# and a .venv made by an older Python is made again.
PYTHON ?=
VENV   ?= .venv
BIN    := $(VENV)/bin
IMAGES ?=
ARGS   ?=

RUN_STAMP   := $(VENV)/.installed-run
DEV_STAMP   := $(VENV)/.installed-dev
CONSTRAINTS := $(VENV)/constraints.txt
PY_CHECK    := import sys; sys.exit(sys.version_info < (3, 11))
CANDIDATES  := python3 python3.13 python3.12 python3.11

.DEFAULT_GOAL := help
.PHONY: help run serve demo-images test lint bench cost clean check-images image image-simd

# .venv exists and was made by Python 3.11+? If not, everything below is made again.
VENV_OK := $(shell $(BIN)/python -c '$(PY_CHECK)' 2>/dev/null && echo yes)
ifneq ($(VENV_OK),yes)
.PHONY: $(BIN)/python $(CONSTRAINTS) $(RUN_STAMP) $(DEV_STAMP)
endif

help: ## list the targets
	@echo "make TARGET [IMAGES=path...] [ARGS='...'] [PYTHON=python3.12]"
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: check-images $(RUN_STAMP) ## process the demo set, or IMAGES=photo.jpg|folder..., print a table, exit
	$(BIN)/python -m deploy.local $(if $(strip $(IMAGES)),$(IMAGES),--demo) $(ARGS)

serve: $(RUN_STAMP) ## serve the upload page and API on http://127.0.0.1:8080/ until Ctrl-C
	$(BIN)/python -m deploy.local $(ARGS)

demo-images: $(RUN_STAMP) ## write the generated demo set to demo-images/ (make run does it too)
	$(BIN)/python -m deploy.local.demo

test: $(DEV_STAMP) ## ruff, ruff format --check, mypy, then the whole test suite (ARGS for pytest)
	@failed=""; \
	for step in "ruff check ." "ruff format --check ." "mypy imgproc handlers deploy"; do \
	    echo "== $$step"; $(BIN)/$$step || failed="$$failed, $$step"; \
	done; \
	echo "== pytest $(ARGS)"; $(BIN)/python -m pytest $(ARGS) || failed="$$failed, pytest"; \
	if [ -n "$$failed" ]; then echo "make test: failed: $${failed#, }" >&2; exit 1; fi

lint: $(DEV_STAMP) ## ruff, ruff format --check, mypy, cfn-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy imgproc handlers deploy
	$(BIN)/cfn-lint deploy/aws/template.yaml

bench: $(DEV_STAMP) ## time the engine against plain Pillow, pyvips and the JPEG decode floor
	$(BIN)/python benchmarks/engine.py $(ARGS)

cost: $(DEV_STAMP) ## measure the resize function per image and rewrite the README's cost table
	$(BIN)/python benchmarks/cost.py --write README.md $(ARGS)

image: ## build the container image (podman through ../shared/container-lab, else Docker)
	bash .ci/lab build

image-simd: ## the same with Pillow-SIMD (x86_64): image-pipeline:simd
	bash .ci/lab build simd

clean: ## remove .venv, out/, demo-images/ and test-artifacts/
	rm -rf $(VENV) out demo-images test-artifacts

# A path that does not exist is a usage error before anything is installed or started.
check-images:
	@missing=""; for path in $(IMAGES); do [ -e "$$path" ] || missing="$$missing $$path"; done; \
	if [ -n "$$missing" ]; then \
	    echo "make run: no such file or folder:$$missing (IMAGES= takes image files and folders)" >&2; \
	    exit 2; \
	fi

# The virtualenv. The Python is checked first, so a wrong one leaves nothing behind.
$(BIN)/python:
	@python="$(PYTHON)"; \
	if [ -z "$$python" ]; then \
	    for candidate in $(CANDIDATES); do \
	        if $$candidate -c '$(PY_CHECK)' 2>/dev/null; then python=$$candidate; break; fi; \
	    done; \
	fi; \
	if [ -z "$$python" ] || ! $$python -c '$(PY_CHECK)' 2>/dev/null; then \
	    tried="$${python:-$(CANDIDATES)}"; \
	    found=$$($${python:-python3} -c 'import platform; print(platform.python_version())' 2>/dev/null); \
	    echo "error: this project needs Python 3.11 or newer; $$tried: $${found:-not found}." >&2; \
	    echo "  Install one (python.org, your package manager, pyenv or uv) and name it, e.g." >&2; \
	    echo "  make $(or $(MAKECMDGOALS),run) PYTHON=python3.12" >&2; \
	    if [ -e $(VENV) ]; then echo "  ($(VENV) is left as it is: it was not made by Python 3.11+ either)" >&2; \
	    else echo "  (nothing was created)" >&2; fi; \
	    exit 2; \
	fi; \
	if [ -e $(VENV) ]; then \
	    old=$$($(BIN)/python -V 2>&1) || old="a Python that no longer runs"; \
	    echo "$(VENV) was made by $$old; this project needs 3.11+: making it again with $$python"; \
	    rm -rf $(VENV); \
	fi; \
	echo "creating $(VENV) with $$python ($$($$python -V 2>&1))"; \
	$$python -m venv $(VENV) || { \
	    rm -rf $(VENV); \
	    echo "error: $$python -m venv failed (on Debian/Ubuntu: apt install python3-venv)" >&2; \
	    exit 2; \
	}

# The runtime versions pinned for the Lambda image (requirements.txt, without its hashes:
# pip refuses an editable install in hash-checking mode), as constraints for .venv.
$(CONSTRAINTS): requirements.txt | $(BIN)/python
	@sed -e '/^ *--hash=/d' -e 's/ *\\$$//' requirements.txt > $@

$(RUN_STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@echo "installing what running needs into $(VENV) (once; about half a minute)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e .
	@touch $@

$(DEV_STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@echo "installing the test, lint and benchmark tools into $(VENV) (once)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e '.[dev]'
	@touch $@ $(RUN_STAMP)
