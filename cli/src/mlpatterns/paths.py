"""Where the kit's charts are, and where CRD schemas come from when not from the CLI's own package."""

from __future__ import annotations

import os
from pathlib import Path

# cli/src/mlpatterns/paths.py -> the repository root (the CLI is installed editable from it).
REPOSITORY = Path(__file__).resolve().parents[3]


def charts_dir() -> Path:
    """MLPATTERNS_CHARTS_DIR, else the repository's charts/."""
    return Path(os.environ.get("MLPATTERNS_CHARTS_DIR", REPOSITORY / "charts"))


def crds_dir() -> Path | None:
    """MLPATTERNS_CRDS_DIR, a folder of CRD files to validate against instead of the packaged schemas."""
    override = os.environ.get("MLPATTERNS_CRDS_DIR")
    return Path(override) if override else None


def upstream_crds_dir() -> Path:
    """Where `mlpatterns crds sync` reads upstream CRDs by default: MLPATTERNS_CRDS_DIR, else a
    `shared/crds` folder beside the repository or above it (the maintainers' reference copy)."""
    override = crds_dir()
    if override is not None:
        return override
    for parent in REPOSITORY.parents:
        if (parent / "shared" / "crds").is_dir():
            return parent / "shared" / "crds"
    return REPOSITORY.parent / "shared" / "crds"
