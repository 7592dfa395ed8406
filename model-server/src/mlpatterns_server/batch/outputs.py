"""Where a batch run's predictions go, replacing what the same run id (and shard) wrote before:
Parquet parts under <output>/run_id=<id>/ (part-<shard>.parquet, and rejects-<shard>.parquet for
the rows that could not be predicted), or rows of an SQL table (its rejects in <table>_rejects),
deleted and inserted in one transaction per shard. A Parquet part is written under a temporary
name and renamed when complete (on object storage an object appears only once whole), so a failed
or retried shard never leaves half a part, and a re-run never duplicates a row."""

from __future__ import annotations

import uuid
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from mlpatterns_server.arrowfs import filesystem
from mlpatterns_server.batch.settings import BatchSettings, is_sql


class Output(Protocol):
    def write(self, predictions: pa.Table, rejects: pa.Table) -> None: ...

    def commit(self) -> str:
        """Publish what was written; returns where it is."""

    def abort(self) -> None: ...


class ParquetOutput:
    def __init__(self, settings: BatchSettings) -> None:
        self.fs, root = filesystem(settings.output)
        self.folder = f"{root.rstrip('/')}/run_id={settings.run_id}"
        self.uri = f"{settings.output.rstrip('/')}/run_id={settings.run_id}"
        import pyarrow.fs as pafs

        if isinstance(self.fs, pafs.LocalFileSystem):  # object stores need no folders (nor their markers)
            self.fs.create_dir(self.folder, recursive=True)
        shard = f"{settings.shard_index:05d}"
        self.parts = {"predictions": f"part-{shard}.parquet", "rejects": f"rejects-{shard}.parquet"}
        self.temporary = {kind: f"{self.folder}/.{name}.{uuid.uuid4().hex}.tmp" for kind, name in self.parts.items()}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.sinks: dict[str, pa.NativeFile] = {}

    def write(self, predictions: pa.Table, rejects: pa.Table) -> None:
        for kind, table in (("predictions", predictions), ("rejects", rejects)):
            if table.num_rows or (kind == "predictions" and kind not in self.writers):
                writer = self.writers.get(kind)
                if writer is None:
                    sink = self.sinks[kind] = self.fs.open_output_stream(self.temporary[kind])
                    writer = self.writers[kind] = pq.ParquetWriter(sink, table.schema)
                writer.write_table(table)

    def _close(self) -> None:
        # The writer does not close a stream it was given; an object store uploads on close.
        for kind, writer in self.writers.items():
            writer.close()
            self.sinks[kind].close()

    def commit(self) -> str:
        self._close()
        for kind in self.writers:
            self.fs.move(self.temporary[kind], f"{self.folder}/{self.parts[kind]}")
        if "rejects" not in self.writers:  # a re-run with no rejects leaves none of the last run's
            self._delete(f"{self.folder}/{self.parts['rejects']}")
        return f"{self.uri}/{self.parts['predictions']}"

    def abort(self) -> None:
        self._close()
        for kind in self.writers:
            self._delete(self.temporary[kind])

    def _delete(self, path: str) -> None:
        import pyarrow.fs as pafs

        if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
            self.fs.delete_file(path)


class SqlOutput:
    """Rows of a table, with the run id and shard in columns; the shard's rows of this run are
    replaced in one transaction at commit (until then they are kept in memory as Arrow tables)."""

    def __init__(self, settings: BatchSettings) -> None:
        import sqlalchemy as sa

        assert settings.output_table is not None
        self.engine = sa.create_engine(settings.output)
        self.table = settings.output_table
        self.run_id = settings.run_id
        self.shard = settings.shard_index
        self.predictions: list[pa.Table] = []
        self.rejects: list[pa.Table] = []

    def write(self, predictions: pa.Table, rejects: pa.Table) -> None:
        self.predictions.append(predictions)
        if rejects.num_rows:
            self.rejects.append(rejects)

    def commit(self) -> str:
        import sqlalchemy as sa

        with self.engine.begin() as connection:
            for name, tables in ((self.table, self.predictions), (f"{self.table}_rejects", self.rejects)):
                if sa.inspect(connection).has_table(name):
                    target = sa.Table(name, sa.MetaData(), autoload_with=connection)
                    connection.execute(
                        sa.delete(target).where(target.c.run_id == self.run_id, target.c.shard == self.shard)
                    )
                if tables:
                    frame = pa.concat_tables(tables).to_pandas()
                    frame.to_sql(name, connection, if_exists="append", index=False, chunksize=50_000)
        self.engine.dispose()
        return f"table {self.table}"

    def abort(self) -> None:
        self.engine.dispose()


def open_output(settings: BatchSettings) -> Output:
    return SqlOutput(settings) if is_sql(settings.output) else ParquetOutput(settings)
