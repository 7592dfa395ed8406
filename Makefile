# mlpatterns: `make setup` once, then `make demo` or `make test`.
VENV := .venv/bin
PYTEST_ARGS ?=
# pytest workers; each test file runs whole on one worker, so a module's fixtures start their processes once.
TEST_WORKERS ?= 2
# Where `make images` tags the images and `make push-images` pushes them (the defaults are not published).
REGISTRY ?= ghcr.io/mlpatterns
TAG ?= 0.1.0

.PHONY: setup test lint typecheck unit demo bench soak lock images push-images

setup:
	bash scripts/setup.sh

test: lint typecheck unit

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck:
	$(VENV)/mypy

unit:
	$(VENV)/pytest --numprocesses $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

demo:
	$(VENV)/python scripts/demo.py

bench:
	$(VENV)/python -m bench.serving
	$(VENV)/python -m bench.event_loop
	$(VENV)/python -m bench.cache
	$(VENV)/python -m bench.async_jobs
	$(VENV)/python -m bench.batch
	$(VENV)/python -m bench.gateway
	$(VENV)/python -m bench.graphs

# Ten minutes of steady load, invalid requests and a sink outage: memory, files, 5xx (bench/README.md).
soak:
	$(VENV)/python -m bench.soak

# The model server and training images, with Docker (MODEL_PATH=dir also bakes a model-in-image server).
images:
	bash scripts/images.sh build $(REGISTRY) $(TAG)

push-images:
	bash scripts/images.sh push $(REGISTRY) $(TAG)

# Refresh uv.lock after changing a pyproject.toml.
lock:
	.tools/bin/uv lock
