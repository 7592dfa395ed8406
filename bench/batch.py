"""Batch prediction end to end: Parquet in, Parquet out, beside the model's raw vectorised predict.

BENCH_BATCH_ROWS rows (5,000,000 by default) of iris-like features and an id, in one Parquet file;
`mlpatterns-server batch` reads them in chunks, checks every row, predicts, and writes the
predictions with the id, row number, model version and run id. Beside it, in the same run,
`model.predict` on the same rows already in memory (no I/O, no checks): the floor.
Target: at least 1,000,000 rows/s end to end. Run: make bench (or python -m bench.batch)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from bench.common import ROOT

ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "5000000"))


def main() -> None:
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    rng = np.random.default_rng(0)
    rows = features[rng.integers(0, len(features), ROWS)] + rng.normal(0, 0.05, (ROWS, 4))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "model").mkdir()
        joblib.dump(model, work / "model" / "model.joblib")
        columns = {
            name: rows[:, i] for i, name in enumerate(["sepal_length", "sepal_width", "petal_length", "petal_width"])
        }
        pq.write_table(pa.table({"id": np.arange(ROWS), **columns}), work / "in.parquet", row_group_size=1_000_000)

        started = time.perf_counter()
        model.predict(rows)
        raw = ROWS / (time.perf_counter() - started)

        command = [sys.executable, "-m", "mlpatterns_server", "batch", "--model_name", "iris", "--model_dir",
                   str(work / "model"), "--input", str(work / "in.parquet"), "--output", str(work / "out"),
                   "--run_id", "bench", "--key_columns", "id"]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        run_rate = float(re.search(r"\(([\d]+) rows/s\)", done.stderr).group(1))  # type: ignore[union-attr]
        written = pq.read_metadata(work / "out" / "run_id=bench" / "part-00000.parquet").num_rows
    print(f"machine: {os.cpu_count()} cores; {ROWS:,} rows of 4 features and an id, LogisticRegression (iris)")
    print(f"raw model.predict on the rows in memory:        {raw:>12,.0f} rows/s")
    print(f"batch run, Parquet in and out (read to written): {run_rate:>12,.0f} rows/s ({run_rate / raw:.2f}x raw)")
    whole = f"{ROWS / wall:>12,.0f} rows/s ({wall:.1f} s); {written:,} written"
    print(f"batch process, start to exit (model load too):   {whole}")


if __name__ == "__main__":
    main()
