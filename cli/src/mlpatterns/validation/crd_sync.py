"""Derive the schemas the CLI ships from the upstream CRDs: only the kinds and versions the kit
renders, with the upstream repository and commit of each recorded beside it.

Users do not have the upstream CRD files, so `mlpatterns validate` reads these packaged schemas.
`mlpatterns crds sync` regenerates them from a folder of upstream CRDs (and its README, which
names the repository and commit of each file); the tests fail when they drift. To keep the files
small and their diffs readable, descriptions are dropped (validation never reads them) and large
sub-schemas that repeat (KServe's pod spec, once per component) are stored once under
`definitions` and referenced."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpatterns.errors import UserError
from mlpatterns.validation.crds import INDEX, PACKAGED, crd_versions, schema_file

# Upstream CRDs of kinds the kit renders that the reference folder lacks (Seldon Core 2's
# Pipeline), unchanged, with a README recording their origin like the reference folder's.
OWN_UPSTREAM = Path(__file__).resolve().parents[3] / "upstream-crds"

# The custom resources the kit renders, as (apiVersion, kind). A test keeps this list equal to
# what the charts and manifests/ render; add a kind here when a chart starts rendering it.
KINDS: list[tuple[str, str]] = [
    ("serving.kserve.io/v1beta1", "InferenceService"),
    ("serving.kserve.io/v1alpha1", "ServingRuntime"),
    ("serving.kserve.io/v1alpha1", "ClusterServingRuntime"),
    ("serving.kserve.io/v1alpha1", "InferenceGraph"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("security.istio.io/v1", "AuthorizationPolicy"),
    ("security.istio.io/v1", "PeerAuthentication"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("networking.istio.io/v1", "VirtualService"),
    ("networking.istio.io/v1", "DestinationRule"),
    ("networking.istio.io/v1alpha3", "EnvoyFilter"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("flagger.app/v1beta1", "MetricTemplate"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    ("machinelearning.seldon.io/v1", "SeldonDeployment"),
    ("mlops.seldon.io/v1alpha1", "Model"),
    ("mlops.seldon.io/v1alpha1", "Experiment"),
    ("mlops.seldon.io/v1alpha1", "Pipeline"),
]

# A repeated sub-schema is stored once when it is at least this big (compact JSON characters).
SHARED_MIN_CHARS = 2000


class UpstreamError(UserError):
    """The upstream folder lacks a kind the kit needs, or does not say where a file came from."""


@dataclass(frozen=True)
class Upstream:
    """Where one upstream CRD file came from, as the folder's README records it."""

    repository: str
    commit: str
    note: str
    path: str


_SOURCE = re.compile(
    r"^(?P<repository>[\w.-]+/[\w.-]+) @ (?P<commit>[0-9a-f]{7,40})(?: \((?P<note>[^)]*)\))?(?:, (?P<path>.+))?$"
)


def _expand_braces(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    return [
        expanded
        for choice in match[1].split(",")
        for expanded in _expand_braces(pattern[: match.start()] + choice + pattern[match.end() :])
    ]


def upstream_sources(readme: str) -> list[tuple[list[str], Upstream]]:
    """(file patterns, origin) for each row of the README's table; "same" repeats the row above."""
    rows: list[tuple[list[str], Upstream]] = []
    previous: Upstream | None = None
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].endswith(".yaml"):
            continue
        origin_text = cells[2]
        if origin_text == "same" and previous is not None:
            origin = previous
        else:
            match = _SOURCE.match(origin_text)
            if not match:
                raise UpstreamError(f"README row for {cells[0]}: cannot read the origin {origin_text!r}")
            origin = Upstream(match["repository"], match["commit"], match["note"] or "", match["path"] or "")
        rows.append((_expand_braces(cells[0]), origin))
        previous = origin
    return rows


def _origin(file_name: str, sources: list[tuple[list[str], Upstream]]) -> Upstream:
    for patterns, origin in sources:
        if any(fnmatch.fnmatch(file_name, pattern) for pattern in patterns):
            return origin
    raise UpstreamError(f"{file_name}: the upstream README does not say which repository and commit it is from")


def _without_descriptions(schema: Any) -> Any:
    """The schema minus `description` annotations; a field *named* description is kept."""
    if isinstance(schema, list):
        return [_without_descriptions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "description" and isinstance(value, str):
            continue
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            kept[key] = {name: _without_descriptions(child) for name, child in value.items()}
        else:
            kept[key] = _without_descriptions(value)
    return kept


def _python_patterns(schema: Any) -> Any:
    """Go's regexp takes a flag group anywhere (`^(?i)(abort|warn)?$`, in PrometheusRule); Python's
    only at the start, where it means the same."""
    if isinstance(schema, list):
        return [_python_patterns(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    fixed = {key: _python_patterns(value) for key, value in schema.items()}
    pattern = fixed.get("pattern")
    if isinstance(pattern, str) and pattern.startswith("^(?i)"):
        fixed["pattern"] = "(?i)^" + pattern.removeprefix("^(?i)")
    return fixed


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


def _subschemas(node: Any, name: str = "schema") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object in the schema with the property name it sits under, in document order."""
    if isinstance(node, dict):
        yield name, node
        for key in sorted(node):
            child_name = name if key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf") else key
            if key in ("properties", "patternProperties") and isinstance(node[key], dict):
                for field in sorted(node[key]):
                    yield from _subschemas(node[key][field], field)
            else:
                yield from _subschemas(node[key], child_name)
    elif isinstance(node, list):
        for item in node:
            yield from _subschemas(item, name)


def _replace(node: Any, text: str, reference: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if _canonical(node) == text:
            return dict(reference)
        return {key: _replace(value, text, reference) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace(item, text, reference) for item in node]
    return node


def _shared_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each large repeated sub-schema moved to `definitions`, biggest saving first."""
    definitions: dict[str, Any] = {}
    while True:
        counts: Counter[str] = Counter()
        first_name: dict[str, str] = {}
        for name, node in _subschemas([schema, *definitions.values()]):
            text = _canonical(node)
            counts[text] += 1
            first_name.setdefault(text, name)
        repeated = [text for text, count in counts.items() if count > 1 and len(text) >= SHARED_MIN_CHARS]
        if not repeated:
            break
        best = max(repeated, key=lambda text: (len(text) * (counts[text] - 1), text))
        name = f"{first_name[best]}-{hashlib.sha256(best.encode()).hexdigest()[:8]}"
        reference = {"$ref": f"#/definitions/{name}"}
        schema = _replace(schema, best, reference)
        definitions = {key: _replace(value, best, reference) for key, value in definitions.items()}
        definitions[name] = json.loads(best)
    if definitions:
        schema = {**schema, "definitions": dict(sorted(definitions.items()))}
    return schema


def derive(upstream: Path) -> dict[str, str]:
    """The packaged files (name -> content) derived from the upstream folder and the kit's own."""
    sources: list[tuple[list[str], Upstream]] = []
    found: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
    for folder in (upstream, OWN_UPSTREAM):
        readme = folder / "README.md"
        if not readme.is_file():
            raise UpstreamError(f"{readme} is missing: it records which repository and commit each CRD file is from")
        sources += upstream_sources(readme.read_text())
        for path, api_version, kind, schema in crd_versions(folder):
            found.setdefault((api_version, kind), (path, schema))
    files: dict[str, str] = {}
    index = []
    for api_version, kind in KINDS:
        if (api_version, kind) not in found:
            raise UpstreamError(f"no CRD for {api_version} {kind} in {upstream}")
        path, schema = found[(api_version, kind)]
        origin = _origin(path.name, sources)
        name = schema_file(api_version, kind)
        portable = _shared_definitions(_python_patterns(_without_descriptions(schema)))
        files[name] = json.dumps(portable, indent=1, sort_keys=True) + "\n"
        index.append(
            {
                "apiVersion": api_version,
                "kind": kind,
                "schema": name,
                "upstream": {
                    "repository": origin.repository,
                    "commit": origin.commit,
                    "note": origin.note,
                    "folder": origin.path,
                    # The reference copy the schema was derived from, and its digest.
                    "file": path.name,
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                },
            }
        )
    files[INDEX] = json.dumps({"kinds": index}, indent=2) + "\n"
    return files


def sync(upstream: Path, check: bool = False) -> list[str]:
    """What differs between the packaged schemas and those derived from `upstream`; unless
    `check`, the packaged folder is rewritten to match."""
    wanted = derive(upstream)
    present = {path.name: path.read_text() for path in PACKAGED.glob("*.json")}
    drift = [f"{name} is not up to date" for name in sorted(wanted) if present.get(name) != wanted[name]]
    drift += [f"{name} is no longer derived (remove it)" for name in sorted(set(present) - set(wanted))]
    if not check:
        PACKAGED.mkdir(parents=True, exist_ok=True)
        for name in set(present) - set(wanted):
            (PACKAGED / name).unlink()
        for name, content in wanted.items():
            if present.get(name) != content:
                (PACKAGED / name).write_text(content)
    return drift
