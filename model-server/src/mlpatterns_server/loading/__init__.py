"""Fetching a model from storage or the MLflow registry, detecting its format, and loading it."""
