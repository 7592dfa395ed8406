"""The prediction cache: answers kept in Redis under a key of the model, its version and the input."""
