"""KFP v2 components, one per file. Each runs in the training image (pipelines/Dockerfile), which
has this package and its locked dependencies: no pip install at run time, and the heavy imports
stay inside the function bodies."""

TRAINING_IMAGE = "ghcr.io/mlpatterns/training-python:0.1.0"
