# mlpatterns: `make setup` once, then `make demo` or `make test`.
VENV := .venv/bin
PYTEST_ARGS ?=

.PHONY: setup test lint typecheck unit demo bench lock

setup:
	bash scripts/setup.sh

test: lint typecheck unit

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck:
	$(VENV)/mypy

unit:
	$(VENV)/pytest $(PYTEST_ARGS)

demo:
	$(VENV)/python scripts/demo.py

bench:
	$(VENV)/python bench/serving.py

# Refresh uv.lock after changing a pyproject.toml.
lock:
	.tools/bin/uv lock
