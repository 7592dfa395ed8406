"""Validate rendered Kubernetes objects the way a cluster would, with no cluster: core kinds
against the Kubernetes schemas, custom resources against their upstream CRDs, both strictly."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one object: which object, where in it, and why."""

    source: str
    obj: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.obj}: {self.path}: {self.reason}"
