"""`mlpatterns-server batch`: predictions for a whole table. Chunks are read, split into rows the
model can take and rows it cannot (with their reasons), predicted in one vectorised call each,
and written with the model version, the run id and the shard; at the end the output replaces what
the same run id and shard wrote before. Rejects above --max_reject_fraction stop the run (status 1)
and publish nothing."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from sqlalchemy.exc import SQLAlchemyError

from mlpatterns_server.arrowfs import StorageError, shut_down
from mlpatterns_server.batch.outputs import open_output
from mlpatterns_server.batch.rows import ColumnsError, feature_columns, split_rows
from mlpatterns_server.batch.settings import BatchSettings
from mlpatterns_server.batch.sources import Chunk, read_chunks
from mlpatterns_server.errors import InvalidInput
from mlpatterns_server.loading.loaded import LoadedModel
from mlpatterns_server.model import ServedModel

log = logging.getLogger(__name__)

# Below this many rows read, the reject fraction is not judged yet (one bad row of ten is noise).
JUDGE_AFTER_ROWS = 1000


class BatchFailed(Exception):
    pass


class Counts:
    def __init__(self) -> None:
        self.rows = 0
        self.predicted = 0
        self.rejected = 0


def predict_chunk(
    model: ServedModel, settings: BatchSettings, chunk: Chunk, columns: list[str]
) -> tuple[pa.Table, pa.Table]:
    """The chunk's predictions and its rejects, as the tables written."""
    split = split_rows(model, chunk.table, columns)
    output = model.v1_output
    predicted = model.infer(split.inputs, (output,))[output] if len(split.good) else np.empty(0)
    good = pa.array(split.good)
    table: dict[str, pa.Array | pa.ChunkedArray] = {
        key: chunk.table.column(key).take(good) for key in settings.key_columns
    }
    table["source"] = _constant(chunk.source, len(split.good))
    table["row"] = pa.array(split.good + chunk.first_row, pa.int64())
    table["prediction"] = pa.array(list(predicted)) if predicted.ndim > 1 else pa.array(predicted)
    table["model_version"] = _constant(model.version, len(split.good))
    table["run_id"] = _constant(settings.run_id, len(split.good))
    table["shard"] = pa.array(np.full(len(split.good), settings.shard_index), pa.int32())
    bad = pa.array(split.rejected, pa.int64())
    rejects = {key: chunk.table.column(key).take(bad) for key in settings.key_columns}
    rejects["source"] = _constant(chunk.source, len(split.rejected))
    rejects["row"] = pa.array(split.rejected + chunk.first_row, pa.int64())
    rejects["reason"] = pa.array(split.reasons, pa.string())
    rejects["run_id"] = _constant(settings.run_id, len(split.rejected))
    rejects["shard"] = pa.array(np.full(len(split.rejected), settings.shard_index), pa.int32())
    return pa.table(table), pa.table(rejects)


def _constant(value: str, rows: int) -> pa.DictionaryArray:
    """One string on every row, stored once (Parquet keeps it dictionary-encoded too)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array([value], pa.string()))


def predict_all(model: ServedModel, settings: BatchSettings, chunks: Iterator[Chunk], counts: Counts) -> str:
    output = open_output(settings)
    columns: list[str] | None = None
    try:
        for chunk in chunks:
            if columns is None:
                columns = feature_columns(
                    model, chunk.table.column_names, settings.feature_columns, settings.key_columns
                )
            missing = [key for key in settings.key_columns if key not in chunk.table.column_names]
            if missing:
                raise ColumnsError(f"{chunk.source} has no key column {', '.join(missing)}")
            predictions, rejects = predict_chunk(model, settings, chunk, columns)
            output.write(predictions, rejects)
            counts.rows += chunk.table.num_rows
            counts.predicted += predictions.num_rows
            counts.rejected += rejects.num_rows
            if counts.rows >= JUDGE_AFTER_ROWS and counts.rejected > settings.max_reject_fraction * counts.rows:
                raise BatchFailed(
                    f"{counts.rejected} of {counts.rows} rows rejected, above --max_reject_fraction "
                    f"{settings.max_reject_fraction:g}; the first reasons are in the rejects"
                )
        if counts.rows and counts.rejected > settings.max_reject_fraction * counts.rows:
            raise BatchFailed(f"{counts.rejected} of {counts.rows} rows rejected, above --max_reject_fraction "
                              f"{settings.max_reject_fraction:g}")  # fmt: skip
    except BaseException:
        output.abort()
        raise
    return output.commit()


def run(settings: BatchSettings, loaded: LoadedModel, load_seconds: float) -> int:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    model = ServedModel.from_settings(settings, loaded)
    counts = Counts()
    started = time.perf_counter()
    show = sys.stdout.isatty() if settings.progress is None else settings.progress
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), disable=not show) as bar:
        task = bar.add_task("predicting", total=None)

        def tracked() -> Iterator[Chunk]:
            for chunk in read_chunks(settings):
                if settings.max_rows is not None:
                    room = settings.max_rows - counts.rows
                    if room <= 0:
                        return
                    chunk.table = chunk.table.slice(0, room)
                yield chunk
                bar.update(task, description=f"predicting: {counts.rows:,} rows, {counts.rejected:,} rejected")

        try:
            where = predict_all(model, settings, tracked(), counts)
        except (StorageError, ColumnsError, InvalidInput, BatchFailed, OSError) as error:
            log.error("batch run %s (shard %d) failed: %s", settings.run_id, settings.shard_index, error)
            return 1
        except SQLAlchemyError as error:  # a database that refuses the connection, the table or the rows
            reason = str(error).splitlines()[0]
            log.error(
                "batch run %s (shard %d) failed in the database: %s", settings.run_id, settings.shard_index, reason
            )
            return 1
        finally:
            shut_down()
    seconds = time.perf_counter() - started
    log.info(
        "batch run %s (shard %d of %d): %d rows, %d predicted, %d rejected, in %.1f s (%.0f rows/s); output %s",
        settings.run_id, settings.shard_index, settings.shard_count, counts.rows, counts.predicted, counts.rejected,
        seconds, counts.rows / seconds if seconds else 0, where,
    )  # fmt: skip
    return 0
