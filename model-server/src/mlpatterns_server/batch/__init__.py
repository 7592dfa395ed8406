"""The batch pattern: predictions for a whole table, read and written in chunks."""
