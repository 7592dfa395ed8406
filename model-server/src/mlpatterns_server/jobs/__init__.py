"""The asynchronous pattern: jobs accepted by an HTTP API into a Redis Stream, predicted by
workers in a consumer group, their results kept in Redis until fetched."""
