"""Realistic rows for a model: the user's own (--data: CSV with a header, or JSON lines of lists),
else scikit-learn's bundled dataset with as many features as the model's v2 metadata declares (the
datasets the training pipeline trains on), else standard-normal noise of the declared width."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import httpx

# The training pipeline's bundled datasets (sklearn://<name>), by feature count.
BUNDLED = {4: "iris", 13: "wine", 30: "breast_cancer"}


class NoRows(Exception):
    pass


def from_file(path: Path) -> list[list[float]]:
    try:
        if path.suffix in (".jsonl", ".ndjson"):
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        else:
            with path.open(newline="") as handle:
                reader = csv.reader(handle)
                next(reader, None)  # the header
                rows = [[float(cell) for cell in row] for row in reader if row]
    except (OSError, ValueError) as error:
        raise NoRows(f"{path}: cannot read rows ({error})") from None
    if not rows or not all(isinstance(row, list) for row in rows):
        raise NoRows(f"{path}: no rows (CSV with a header, or JSON lines each a list of numbers)")
    return rows


def features(base_url: str, model: str) -> int | None:
    """The model's feature count from its Open Inference Protocol metadata (shape [-1, N])."""
    try:
        answer = httpx.get(f"{base_url}/v2/models/{model}", timeout=5)
        shape = answer.json()["inputs"][0]["shape"]
        return int(shape[-1]) if answer.status_code == 200 and len(shape) == 2 and shape[-1] > 0 else None
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
        return None


def bundled(width: int) -> tuple[list[list[float]], str] | None:
    name = BUNDLED.get(width)
    if name is None:
        return None
    from sklearn import datasets

    data: Any = getattr(datasets, f"load_{name}")()
    return [list(map(float, row)) for row in data.data], f"scikit-learn's {name} dataset"


def noise(width: int, count: int = 1000, seed: int = 0) -> list[list[float]]:
    generator = random.Random(seed)
    return [[generator.gauss(0, 1) for _ in range(width)] for _ in range(count)]


def choose(data: Path | None, base_url: str | None, model: str, seed: int) -> tuple[list[list[float]], str]:
    """The rows to send, shuffled once (each sent in turn, so shares of planted rows are exact), and where
    they came from."""
    if data is not None:
        rows, source = from_file(data), str(data)
    else:
        width = features(base_url, model) if base_url else None
        found = bundled(width or 4)
        if found is not None:
            rows, source = found
        else:
            assert width is not None
            rows, source = noise(width, seed=seed), f"random rows of {width} features (no dataset of that width)"
    random.Random(seed).shuffle(rows)
    return rows, source
