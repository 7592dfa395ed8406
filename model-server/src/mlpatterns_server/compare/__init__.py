"""The shadow comparison: the primary's and the shadow's prediction-log events joined by request
id, their agreement and differences exported as Prometheus metrics and summarised on demand."""
