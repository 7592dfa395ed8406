"""mlpatterns training patterns: Kubeflow Pipelines v2 for batch and pipeline training, with MLflow."""
