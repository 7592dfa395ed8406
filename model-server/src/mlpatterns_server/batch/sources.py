"""Where a batch run's rows come from: Parquet or CSV files (one file or a folder, on a local disk
or object storage, through pyarrow's filesystems) or an SQL table (SQLAlchemy), read in chunks,
each chunk with the name of its source and the number of its first row there. A shard reads only
its share: its files (or a single Parquet file's row groups), or its keys of a table."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mlpatterns_server.arrowfs import StorageError, filesystem
from mlpatterns_server.batch.settings import BatchSettings, is_sql


class InputError(StorageError):
    """The input cannot be read as asked: say which and why."""


@dataclass
class Chunk:
    source: str  # the file (or table) the rows come from
    first_row: int  # the number of the chunk's first row in that source, from 0
    table: pa.Table


def _files(uri: str) -> tuple[pafs.FileSystem, list[str], str]:
    fs, path = filesystem(uri)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise InputError(f"{uri} does not exist")
    if info.type == pafs.FileType.File:
        files = [path]
    else:
        selector = pafs.FileSelector(path, recursive=True)
        files = sorted(
            entry.path for entry in fs.get_file_info(selector)
            if entry.type == pafs.FileType.File and entry.path.endswith((".parquet", ".csv"))
        )  # fmt: skip
        if not files:
            raise InputError(f"{uri} holds no .parquet or .csv files")
    kinds = {file.rsplit(".", 1)[-1] for file in files}
    if len(kinds) > 1:
        raise InputError(f"{uri} mixes Parquet and CSV files; give one kind")
    return fs, files, kinds.pop()


def read_chunks(settings: BatchSettings) -> Iterator[Chunk]:
    if is_sql(settings.input):
        yield from _sql_chunks(settings)
        return
    fs, files, kind = _files(settings.input)
    if len(files) == 1 and settings.shard_count > 1:
        if kind != "parquet":
            raise InputError("a single CSV file cannot be split into shards: split it into files, or use one shard")
        yield from _row_group_share(fs, files[0], settings)
        return
    for file in files[settings.shard_index :: settings.shard_count]:
        yield from _file_chunks(fs, file, kind, settings.chunk_rows)


def _file_chunks(fs: pafs.FileSystem, file: str, kind: str, chunk_rows: int) -> Iterator[Chunk]:
    try:
        if kind == "parquet":
            dataset = ds.dataset(file, filesystem=fs, format="parquet")
        else:
            # Columns are read as they are typed; a bad value makes its column text, and the
            # rows that hold one are rejected, not the file.
            dataset = ds.dataset(file, filesystem=fs, format=ds.CsvFileFormat())
        row = 0
        for batch in dataset.to_batches(batch_size=chunk_rows):
            if batch.num_rows:
                yield Chunk(file, row, pa.Table.from_batches([batch]))
                row += batch.num_rows
    except (pa.ArrowInvalid, OSError) as error:
        raise InputError(f"{file}: {error}") from None


def _row_group_share(fs: pafs.FileSystem, file: str, settings: BatchSettings) -> Iterator[Chunk]:
    with fs.open_input_file(file) as handle:
        parquet = pq.ParquetFile(handle)
        metadata = parquet.metadata
        first_rows = [0]
        for group in range(metadata.num_row_groups):
            first_rows.append(first_rows[-1] + metadata.row_group(group).num_rows)
        for group in range(settings.shard_index, metadata.num_row_groups, settings.shard_count):
            table = parquet.read_row_group(group)
            for offset in range(0, table.num_rows, settings.chunk_rows):
                yield Chunk(file, first_rows[group] + offset, table.slice(offset, settings.chunk_rows))


def _sql_chunks(settings: BatchSettings) -> Iterator[Chunk]:
    import sqlalchemy as sa

    assert settings.input_table is not None
    engine = sa.create_engine(settings.input)
    try:
        table = sa.Table(settings.input_table, sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        raise InputError(f"{settings.input} has no table {settings.input_table}") from None
    except sa.exc.SQLAlchemyError as error:
        raise InputError(f"{settings.input}: {error}") from None
    query = sa.select(table)
    if settings.shard_count > 1:
        assert settings.shard_key is not None
        key = table.c[settings.shard_key]
        query = query.where(key % settings.shard_count == settings.shard_index).order_by(key)
    source = f"table {settings.input_table}"
    row = 0
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True).execute(query)
        names = list(result.keys())
        while rows := result.fetchmany(settings.chunk_rows):
            columns = list(zip(*rows, strict=True))
            arrays = {name: _column(values) for name, values in zip(names, columns, strict=True)}
            yield Chunk(source, row, pa.table(arrays))
            row += len(rows)
    engine.dispose()


def _column(values: tuple[object, ...]) -> pa.Array:
    """A column as Arrow types it; one with mixed values (SQLite keeps what it is given) as text,
    whose rows that are not numbers are then rejected one by one."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None else str(value) for value in values], pa.string())
