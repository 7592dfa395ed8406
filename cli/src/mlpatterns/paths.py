"""Where the kit's charts and the upstream CRD schemas are."""

from __future__ import annotations

import os
from pathlib import Path

# cli/src/mlpatterns/paths.py -> the repository root (the CLI is installed editable from it).
REPOSITORY = Path(__file__).resolve().parents[3]


def charts_dir() -> Path:
    """MLPATTERNS_CHARTS_DIR, else the repository's charts/."""
    return Path(os.environ.get("MLPATTERNS_CHARTS_DIR", REPOSITORY / "charts"))


def crds_dir() -> Path:
    """MLPATTERNS_CRDS_DIR, else a `shared/crds` folder beside the repository or above it."""
    if "MLPATTERNS_CRDS_DIR" in os.environ:
        return Path(os.environ["MLPATTERNS_CRDS_DIR"])
    for parent in REPOSITORY.parents:
        if (parent / "shared" / "crds").is_dir():
            return parent / "shared" / "crds"
    return REPOSITORY.parent / "shared" / "crds"
