"""The prediction log: one event per prediction, buffered in memory and sent in the background."""
