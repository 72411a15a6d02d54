# `make check` runs every check, the same way CI does (.ci/run calls it).
.PHONY: check lint typecheck test format

check: lint typecheck test

lint:
	uv run ruff check .
	uv run ruff format --check .

typecheck:
	uv run mypy

test:
	uv run pytest

format:
	uv run ruff format .
	uv run ruff check --fix .
