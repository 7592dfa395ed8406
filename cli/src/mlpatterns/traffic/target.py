"""Where `mlpatterns load` sends: a pattern running under `mlpatterns up` (its gateway, and the jobs
API for the asynchronous pattern), or a URL (a base URL gets the model's v1 predict path)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from mlpatterns.local.supervisor import states


class NoTarget(Exception):
    pass


@dataclass(frozen=True)
class Target:
    url: str  # where each request is POSTed
    base: str  # scheme://host:port, for the model's metadata
    model: str
    jobs: bool  # the asynchronous pattern's jobs API (202 + an id), not a prediction


def resolve(target: str, model: str | None) -> Target:
    if "://" in target:
        parts = urlsplit(target)
        base = f"{parts.scheme}://{parts.netloc}"
        name = model or "iris"
        if parts.path.strip("/"):
            return Target(target, base, name, parts.path.rstrip("/").endswith("/v1/jobs"))
        return Target(f"{base}/v1/models/{name}:predict", base, name, False)
    running = [state for state in states() if state["chart"] == target and state.get("gateway")]
    if not running:
        raise NoTarget(f"{target} is not running: start it with `mlpatterns up {target}`, or give a URL")
    state = running[-1]
    name = model or state.get("model") or "iris"
    base = state["gateway"]
    if state.get("front") == "jobs":
        return Target(f"{base}/v1/jobs", base, name, True)
    return Target(f"{base}/v1/models/{name}:predict", base, name, False)
