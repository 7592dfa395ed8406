"""`mlpatterns-server batch` as a real process: Parquet, CSV (on a real S3-compatible server) and
SQL tables in and out, rejects with their row numbers and reasons, re-runs that replace their
output, shards that each write their own part, and a run stopped by too many bad rows."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tests.support.model_server import Iris
from tests.support.services import S3Server, start_s3

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def batch(
    iris: Iris, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mlpatterns_server", "batch", "--model_name", "iris",
               "--model_dir", str(iris.joblib_dir), "--model_version", "3", *args]  # fmt: skip
    environment = {
        "MLPATTERNS_HOME": str(tmp_path / "home"),
        "MLPATTERNS_DOWNLOAD_DIR": str(tmp_path / "dl"),
        **(env or {}),
    }
    import os

    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **environment})


def frame(iris: Iris) -> pd.DataFrame:
    table = pd.DataFrame(iris.features.copy(), columns=COLUMNS)  # a copy: the tests spoil it
    table.insert(0, "flower_id", np.arange(len(table)) + 1000)
    return table


def test_parquet_in_and_out_with_the_model_version_and_run_id(iris: Iris, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame(iris), preserve_index=False), source, row_group_size=40)
    out = tmp_path / "out"
    done = batch(iris, tmp_path, "--input", str(source), "--output", str(out), "--run_id", "r1",
                 "--key_columns", "flower_id", "--chunk_rows", "64")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "150 rows, 150 predicted, 0 rejected" in done.stderr
    written = pq.read_table(out / "run_id=r1" / "part-00000.parquet").to_pandas()
    assert written["prediction"].tolist() == iris.estimator.predict(iris.features).tolist()
    assert written["flower_id"].tolist() == list(range(1000, 1150))
    assert written["row"].tolist() == list(range(150))
    assert set(written["model_version"]) == {"3"}
    assert set(written["run_id"]) == {"r1"}
    assert not (out / "run_id=r1" / "rejects-00000.parquet").exists()


def test_bad_rows_go_to_the_rejects_with_their_row_and_reason_and_a_rerun_replaces(iris: Iris, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    table = frame(iris).astype({"sepal_width": object})
    table.loc[7, "sepal_width"] = "wide"
    table.loc[20, "petal_length"] = np.nan
    table.to_csv(source, index=False)
    out = tmp_path / "out"
    args = ["--input", str(source), "--output", str(out), "--run_id", "nightly", "--key_columns", "flower_id",
            "--max_reject_fraction", "0.05"]  # fmt: skip
    for _ in range(2):  # the second run replaces the first's output, never adds to it
        done = batch(iris, tmp_path, *args)
        assert done.returncode == 0, done.stderr
    predictions = pq.read_table(out / "run_id=nightly" / "part-00000.parquet").to_pandas()
    assert len(predictions) == 148
    assert 7 not in set(predictions["row"])
    good = np.delete(iris.features, [7, 20], axis=0)
    assert predictions["prediction"].tolist() == iris.estimator.predict(good).tolist()
    rejects = pq.read_table(out / "run_id=nightly" / "rejects-00000.parquet").to_pandas()
    assert rejects[["row", "flower_id"]].values.tolist() == [[7, 1007], [20, 1020]]
    assert rejects["reason"].tolist() == ["column sepal_width: 'wide' is not a number", "column petal_length is empty"]
    assert sorted(path.name for path in (out / "run_id=nightly").iterdir()) == ["part-00000.parquet",
                                                                               "rejects-00000.parquet"]  # fmt: skip


def test_too_many_bad_rows_stop_the_run_and_publish_nothing(iris: Iris, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    table = frame(iris)
    table.loc[:30, "petal_width"] = np.nan
    table.to_csv(source, index=False)
    done = batch(iris, tmp_path, "--input", str(source), "--output", str(tmp_path / "out"), "--run_id", "bad",
                 "--key_columns", "flower_id")  # fmt: skip
    assert done.returncode == 1
    assert "31 of 150 rows rejected, above --max_reject_fraction 0.01" in done.stderr
    assert not (tmp_path / "out" / "run_id=bad" / "part-00000.parquet").exists()


def test_a_sql_table_in_and_out_and_a_rerun_replaces_its_rows(iris: Iris, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = sa.create_engine(url)
    frame(iris).to_sql("flowers", engine, index=False)
    args = ["--input", url, "--input_table", "flowers", "--output", url, "--output_table", "predictions",
            "--run_id", "sql-1", "--key_columns", "flower_id"]  # fmt: skip
    for _ in range(2):
        done = batch(iris, tmp_path, *args)
        assert done.returncode == 0, done.stderr
    written = pd.read_sql("SELECT * FROM predictions ORDER BY row", engine)
    assert len(written) == 150
    assert written["prediction"].tolist() == iris.estimator.predict(iris.features).tolist()
    assert set(written["run_id"]) == {"sql-1"}
    engine.dispose()


def test_shards_of_an_indexed_job_write_their_own_parts(iris: Iris, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    table = frame(iris)
    for index, part in enumerate(np.array_split(table, 3)):
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / f"part-{index}.parquet")
    out = tmp_path / "out"
    for shard in (0, 1):
        shard_env = {"JOB_COMPLETION_INDEX": str(shard)}
        done = batch(iris, tmp_path, "--input", str(folder), "--output", str(out), "--run_id", "sharded",
                     "--shard_count", "2", "--key_columns", "flower_id", env=shard_env)  # fmt: skip
        assert done.returncode == 0, done.stderr
    parts = sorted((out / "run_id=sharded").glob("part-*.parquet"))
    assert [path.name for path in parts] == ["part-00000.parquet", "part-00001.parquet"]
    written = pd.concat([pq.read_table(path).to_pandas() for path in parts]).sort_values("flower_id")
    assert written["flower_id"].tolist() == table["flower_id"].tolist()
    assert written["prediction"].tolist() == iris.estimator.predict(iris.features).tolist()


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    server = start_s3(tmp_path)
    yield server
    server.process.stop()


def test_csv_from_object_storage_to_parquet_on_object_storage(iris: Iris, tmp_path: Path, s3: S3Server) -> None:
    client = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip
    client.create_bucket(Bucket="data")
    client.put_object(Bucket="data", Key="flowers/day=1.csv", Body=frame(iris).to_csv(index=False).encode())
    done = batch(iris, tmp_path, "--input", "s3://data/flowers", "--output", "s3://data/predictions",
                 "--run_id", "s3-run", "--key_columns", "flower_id", env=s3.env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = client.get_object(Bucket="data", Key="predictions/run_id=s3-run/part-00000.parquet")["Body"].read()
    written = pq.read_table(pa.BufferReader(body)).to_pandas()
    assert written["prediction"].tolist() == iris.estimator.predict(iris.features).tolist()
    # Only the part: its temporary name is gone (Arrow may leave zero-byte folder markers, ending in /).
    keys = [entry["Key"] for entry in client.list_objects_v2(Bucket="data", Prefix="predictions/")["Contents"]]
    assert [key for key in keys if not key.endswith("/")] == ["predictions/run_id=s3-run/part-00000.parquet"]


def test_max_rows_predicts_only_the_first_rows(iris: Iris, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame(iris), preserve_index=False), source)
    args = ["--input", str(source), "--output", str(tmp_path / "out"), "--run_id", "smoke", "--max_rows", "10",
            "--chunk_rows", "4"]  # fmt: skip
    unnamed = batch(iris, tmp_path, *args)
    assert unnamed.returncode == 1
    assert (
        "reads 4 features, and the input has 5 columns besides --key_columns (flower_id, sepal_length" in unnamed.stderr
    )
    done = batch(iris, tmp_path, *args, "--key_columns", "flower_id")
    assert done.returncode == 0, done.stderr
    assert pq.read_table(tmp_path / "out" / "run_id=smoke" / "part-00000.parquet").num_rows == 10


def test_a_database_that_refuses_says_so_without_a_traceback(iris: Iris, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(url).dispose()
    done = batch(iris, tmp_path, "--input", url, "--input_table", "flowers", "--output", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "has no table flowers" in done.stderr
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame(iris), preserve_index=False), source)
    target = f"sqlite:///{readonly / 'missing-dir' / 'out.db'}"
    done = batch(iris, tmp_path, "--input", str(source), "--output", target, "--output_table", "predictions",
                 "--key_columns", "flower_id")  # fmt: skip
    assert done.returncode == 1
    assert "failed in the database" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_input_says_so(iris: Iris, tmp_path: Path) -> None:
    done = batch(iris, tmp_path, "--input", str(tmp_path / "absent.parquet"), "--output", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "absent.parquet does not exist" in done.stderr
