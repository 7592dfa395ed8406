"""The prediction log's collector: events in over HTTP (KServe's logger, our servers), into a
Redis Stream, landed as Parquet."""
