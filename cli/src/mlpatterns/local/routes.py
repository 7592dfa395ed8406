"""A chart's routes as the local gateway runs them, read from the objects the chart renders: Istio
VirtualServices (first match wins), Gateway API HTTPRoutes (the most specific match wins), the
kit's sticky EnvoyFilter, and KServe's own canary split. Pure data and decisions, no I/O.

What the gateway emulates (docs/local-runtime.md):
- VirtualService http[]: match (headers and uri: exact, prefix, regex; method), route[] weights,
  mirror / mirrors with mirrorPercentage, timeout, retries (attempts, perTryTimeout, retryOn),
  headers.request set/add/remove.
- HTTPRoute rules[]: matches (path Exact, PathPrefix, RegularExpression; headers Exact,
  RegularExpression; method), backendRefs weights, RequestMirror (percent or fraction) and
  RequestHeaderModifier filters, timeouts.request.
- The EnvoyFilter of charts/online-ab (sticky users), by the annotations it carries.
- An InferenceService's spec.canary[] (KServe's own split, Standard mode).
Every other field of these objects is reported by `notes`, never ignored in silence."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

BUCKETS = 100
DEFAULT_TIMEOUT_SECONDS = 30.0
# Envoy's retry_on conditions the gateway can tell apart.
# What Istio retries when a VirtualService's retries say nothing of it.
ISTIO_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
RETRY_CONDITIONS = {"connect-failure", "refused-stream", "unavailable", "cancelled", "reset", "5xx",
                    "gateway-error", "retriable-status-codes"}  # fmt: skip


def bucket(user: str | bytes) -> int:
    """A user's bucket: FNV-1a (32 bit) of the id's UTF-8 bytes (bytes: as they are), modulo 100,
    as the EnvoyFilter of charts/online-ab computes it in Lua on the header's bytes (a test runs
    both on the same ids)."""
    value = 2166136261
    for byte in user.encode() if isinstance(user, str) else user:
        value = ((value ^ byte) * 16777619) % 2**32
    return value % BUCKETS


@dataclass(frozen=True)
class TextMatch:
    # exact, prefix, regex (a full match, as Envoy's safe_regex), or segments: Gateway API's
    # PathPrefix, a prefix of whole path elements (/v2 matches /v2 and /v2/x, not /v2x).
    kind: str
    value: str

    def matches(self, text: str | None) -> bool:
        if text is None:
            return False
        if self.kind == "exact":
            return text == self.value
        if self.kind == "prefix":
            return text.startswith(self.value)
        if self.kind == "segments":
            base = self.value.rstrip("/")
            return text == base or text.startswith(base + "/")
        return re.fullmatch(self.value, text) is not None


@dataclass(frozen=True)
class Match:
    headers: tuple[tuple[str, TextMatch], ...] = ()
    path: TextMatch | None = None
    method: str | None = None

    def matches(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and not self.path.matches(path):
            return False
        return all(match.matches(headers.get(name)) for name, match in self.headers)

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        """Gateway API's precedence: an exact path, then the longest prefix, then a method, then
        the most header matches (smaller sorts first)."""
        exact = self.path is not None and self.path.kind == "exact"
        prefix = len(self.path.value) if self.path is not None and self.path.kind in ("prefix", "segments") else 0
        return (0 if exact else 1, -prefix, 0 if self.method else 1, -len(self.headers))


@dataclass(frozen=True)
class Backend:
    host: str
    port: int | None
    weight: int = 1


@dataclass(frozen=True)
class Mirror:
    backend: Backend
    percent: float


@dataclass(frozen=True)
class Retries:
    attempts: int
    per_try_timeout: float | None
    retry_on: frozenset[str]


@dataclass(frozen=True)
class HeaderChanges:
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()

    def apply(self, headers: dict[str, str]) -> None:
        for name in self.remove:
            headers.pop(name, None)
        for name, value in self.set:
            headers[name] = value
        for name, value in self.add:
            headers[name] = f"{headers[name]},{value}" if name in headers else value


@dataclass(frozen=True)
class Route:
    name: str
    source: str  # e.g. VirtualService/demo-online-ab
    matches: tuple[Match, ...]  # empty: every request
    backends: tuple[Backend, ...]
    mirrors: tuple[Mirror, ...] = ()
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    retries: Retries | None = None
    headers: HeaderChanges = field(default_factory=HeaderChanges)

    def matched(self, method: str, path: str, headers: Mapping[str, str]) -> Match | None:
        if not self.matches:
            return Match()
        return next((match for match in self.matches if match.matches(method, path, headers)), None)

    def pick(self, draw: float) -> Backend | None:
        """The backend for a draw in [0, 1): each backend's share is its weight."""
        total = sum(backend.weight for backend in self.backends)
        if total <= 0:
            return None
        point = draw * total
        for backend in self.backends:
            if point < backend.weight:
                return backend
            point -= backend.weight
        return self.backends[-1]


@dataclass(frozen=True)
class Sticky:
    """The kit's sticky EnvoyFilter: the bucket of the user in `header`, written to `bucket_header`."""

    header: str
    bucket_header: str

    def apply(self, headers: dict[str, str]) -> None:
        """`headers` as the front end reads them (latin-1, one character per byte): the user's bytes
        are hashed as sent, and without the whitespace around them, which Envoy's HTTP/1 codec trims
        before the Lua filter sees the value."""
        user = (headers.get(self.header) or "").strip(" \t")
        if user:
            headers[self.bucket_header] = str(bucket(user.encode("latin-1")))
        else:
            headers.pop(self.bucket_header, None)


@dataclass
class RouteTable:
    """Ordered routes: Istio's in their order; Gateway API's in precedence order (routes of both
    kinds in one chart do not happen; Istio's come first if they do)."""

    istio: list[Route] = field(default_factory=list)
    gateway_api: list[Route] = field(default_factory=list)
    sticky: list[Sticky] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def routes(self) -> list[Route]:
        return self.istio + self.gateway_api

    def prepare(self, headers: dict[str, str]) -> None:
        """What the caller's proxy does before it routes (the sticky filter)."""
        for sticky in self.sticky:
            sticky.apply(headers)

    def find(self, method: str, path: str, headers: Mapping[str, str]) -> Route | None:
        for route in self.istio:
            if route.matched(method, path, headers) is not None:
                return route
        best: tuple[tuple[int, int, int, int], int, Route] | None = None
        for order, route in enumerate(self.gateway_api):
            match = route.matched(method, path, headers)
            if match is not None and (best is None or (match.specificity, order) < best[:2]):
                best = (match.specificity, order, route)
        return best[2] if best else None


# -- reading the objects


def table(documents: Iterable[Mapping[str, Any]]) -> RouteTable:
    found = RouteTable()
    for document in documents:
        kind, name = document.get("kind"), document.get("metadata", {}).get("name", "")
        spec = document.get("spec") or {}
        if kind == "VirtualService":
            found.istio += _virtual_service(f"VirtualService/{name}", spec, found.notes)
        elif kind == "HTTPRoute":
            found.gateway_api += _http_route(f"HTTPRoute/{name}", spec, document, found.notes)
        elif kind == "DestinationRule":
            for key in spec.get("trafficPolicy") or {}:
                found.notes.append(f"DestinationRule/{name}: spec.trafficPolicy.{key} is not emulated")
            for key in set(spec) - {"host", "trafficPolicy"}:
                found.notes.append(f"DestinationRule/{name}: spec.{key} is not emulated")
        elif kind == "EnvoyFilter":
            annotations = document.get("metadata", {}).get("annotations") or {}
            header, bucket_header = (
                annotations.get("mlpatterns.dev/sticky-header"),
                annotations.get("mlpatterns.dev/bucket-header"),
            )
            if header and bucket_header:
                sticky = Sticky(header.lower(), bucket_header.lower())
                if sticky not in found.sticky:
                    found.sticky.append(sticky)
            else:
                found.notes.append(f"EnvoyFilter/{name} is not emulated (only the kit's sticky filter is)")
    found.gateway_api.sort(key=lambda route: min((m.specificity for m in route.matches), default=Match().specificity))
    return found


def _seconds(text: Any) -> float | None:
    if text is None:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(text))
    if match is None:
        return None
    value, unit = float(match[1]), match[2]
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def _text_match(value: Mapping[str, Any], where: str, notes: list[str]) -> TextMatch | None:
    for kind in ("exact", "prefix", "regex"):
        if kind in value:
            return TextMatch(kind, str(value[kind]))
    notes.append(f"{where}: {', '.join(value)} is not emulated")
    return None


_VS_ROUTE_KEYS = {"name", "match", "route", "mirror", "mirrors", "mirrorPercentage", "timeout", "retries", "headers"}
_VS_MATCH_KEYS = {"headers", "uri", "method", "name"}


def _virtual_service(source: str, spec: Mapping[str, Any], notes: list[str]) -> list[Route]:
    for key in set(spec) - {"hosts", "gateways", "http"}:
        notes.append(f"{source}: spec.{key} is not emulated")
    notes.append(f"{source}: spec.hosts and spec.gateways are not emulated (its routes answer on the gateway's port)")
    routes = []
    for index, http in enumerate(spec.get("http") or []):
        where = f"{source}: http[{index}]"
        for key in set(http) - _VS_ROUTE_KEYS:
            notes.append(f"{where}.{key} is not emulated")
        matches = []
        for position, match in enumerate(http.get("match") or []):
            for key in set(match) - _VS_MATCH_KEYS:
                notes.append(f"{where}.match[{position}].{key} is not emulated")
            headers = []
            for header, value in (match.get("headers") or {}).items():
                text = _text_match(value, f"{where}.match[{position}].headers.{header}", notes)
                if text is not None:
                    headers.append((header.lower(), text))
            uri = _text_match(match["uri"], f"{where}.match[{position}].uri", notes) if "uri" in match else None
            method = (match.get("method") or {}).get("exact")
            matches.append(Match(tuple(headers), uri, method))
        destinations = http.get("route") or []
        # One destination without a weight takes everything (Istio's default).
        default_weight = 100 if len(destinations) == 1 else 0
        backends = tuple(
            _destination(route.get("destination") or {}, route.get("weight", default_weight), f"{where}.route", notes)
            for route in destinations
        )
        mirrors = []
        if "mirror" in http:
            percent = float((http.get("mirrorPercentage") or {}).get("value", 100))
            mirrors.append(Mirror(_destination(http["mirror"], 1, f"{where}.mirror", notes), percent))
        for mirror in http.get("mirrors") or []:
            percent = float((mirror.get("percentage") or {}).get("value", 100))
            mirrors.append(Mirror(_destination(mirror.get("destination") or {}, 1, f"{where}.mirrors", notes),
                                  percent))  # fmt: skip
        retries = None
        if http.get("retries"):
            given = http["retries"]
            retry_on = str(given.get("retryOn", ISTIO_RETRY_ON))
            conditions = frozenset(part.strip() for part in retry_on.split(",") if part.strip())
            for unknown in sorted(conditions - RETRY_CONDITIONS):
                if not unknown.isdigit():
                    notes.append(f"{where}.retries.retryOn {unknown} is not emulated")
            retries = Retries(int(given.get("attempts", 0)), _seconds(given.get("perTryTimeout")), conditions)
        request = (http.get("headers") or {}).get("request") or {}
        for key in set(http.get("headers") or {}) - {"request"}:
            notes.append(f"{where}.headers.{key} is not emulated")
        changes = HeaderChanges(
            tuple((k.lower(), str(v)) for k, v in (request.get("set") or {}).items()),
            tuple((k.lower(), str(v)) for k, v in (request.get("add") or {}).items()),
            tuple(str(k).lower() for k in request.get("remove") or []),
        )
        name = http.get("name") or f"http-{index}"
        timeout = _seconds(http.get("timeout")) or DEFAULT_TIMEOUT_SECONDS
        routes.append(Route(name, source, tuple(matches), backends, tuple(mirrors), timeout, retries, changes))
    return routes


def _destination(destination: Mapping[str, Any], weight: int, where: str, notes: list[str]) -> Backend:
    if "subset" in destination:
        notes.append(f"{where}: subset {destination['subset']} is not emulated (the whole host is used)")
    port = (destination.get("port") or {}).get("number")
    return Backend(str(destination.get("host", "")), int(port) if port else None, int(weight))


_RULE_KEYS = {"name", "matches", "backendRefs", "filters", "timeouts"}
PATH_KINDS = {"Exact": "exact", "PathPrefix": "segments", "RegularExpression": "regex"}


def _http_route(source: str, spec: Mapping[str, Any], document: Mapping[str, Any], notes: list[str]) -> list[Route]:
    namespace = document.get("metadata", {}).get("namespace", "default")
    notes.append(f"{source}: spec.parentRefs and spec.hostnames are not emulated (its rules answer on the gateway's "
                 "port)")  # fmt: skip
    routes = []
    for index, rule in enumerate(spec.get("rules") or []):
        where = f"{source}: rules[{index}]"
        for key in set(rule) - _RULE_KEYS:
            notes.append(f"{where}.{key} is not emulated")
        matches = []
        for position, match in enumerate(rule.get("matches") or [{}]):
            for key in set(match) - {"path", "headers", "method"}:
                notes.append(f"{where}.matches[{position}].{key} is not emulated")
            path_spec = match.get("path") or {"type": "PathPrefix", "value": "/"}
            kind = PATH_KINDS[path_spec.get("type", "PathPrefix")]
            path = TextMatch(kind, str(path_spec.get("value", "/")))
            headers = []
            for header in match.get("headers") or []:
                header_kind = "regex" if header.get("type") == "RegularExpression" else "exact"
                headers.append((str(header["name"]).lower(), TextMatch(header_kind, str(header["value"]))))
            matches.append(Match(tuple(headers), path, match.get("method")))
        backends = tuple(
            Backend(_service_host(ref, namespace), ref.get("port"), int(ref.get("weight", 1)))
            for ref in rule.get("backendRefs") or []
        )
        mirrors, changes = [], HeaderChanges()
        for filter_ in rule.get("filters") or []:
            if filter_.get("type") == "RequestMirror":
                mirror = filter_.get("requestMirror") or {}
                fraction = mirror.get("fraction")
                percent = (100 * fraction["numerator"] / fraction.get("denominator", 100) if fraction
                           else float(mirror.get("percent", 100)))  # fmt: skip
                ref = mirror.get("backendRef") or {}
                mirrors.append(Mirror(Backend(_service_host(ref, namespace), ref.get("port")), percent))
            elif filter_.get("type") == "RequestHeaderModifier":
                modifier = filter_.get("requestHeaderModifier") or {}
                changes = HeaderChanges(
                    tuple((h["name"].lower(), h["value"]) for h in modifier.get("set") or []),
                    tuple((h["name"].lower(), h["value"]) for h in modifier.get("add") or []),
                    tuple(name.lower() for name in modifier.get("remove") or []),
                )
            else:
                notes.append(f"{where}: filter {filter_.get('type')} is not emulated")
        timeout = _seconds((rule.get("timeouts") or {}).get("request")) or DEFAULT_TIMEOUT_SECONDS
        for key in set(rule.get("timeouts") or {}) - {"request"}:
            notes.append(f"{where}.timeouts.{key} is not emulated")
        name = rule.get("name") or f"rule-{index}"
        routes.append(Route(name, source, tuple(matches), backends, tuple(mirrors), timeout, None, changes))
    return routes


def _service_host(ref: Mapping[str, Any], namespace: str) -> str:
    return f"{ref.get('name')}.{ref.get('namespace', namespace)}.svc.cluster.local"


def canary_route(isvc: Mapping[str, Any]) -> Route | None:
    """KServe's own split of an InferenceService with spec.canary[] (Standard mode): the stable
    predictor's Service gets what the canaries leave."""
    canaries = (isvc.get("spec") or {}).get("canary") or []
    if not canaries:
        return None
    name = isvc["metadata"]["name"]
    namespace = isvc["metadata"].get("namespace", "default")
    stable = 100 - sum(int(canary.get("trafficPercent", 0)) for canary in canaries)
    backends = [Backend(f"{name}-predictor.{namespace}.svc.cluster.local", 80, stable)]
    for canary in canaries:
        canary_name = canary["predictor"]["name"]
        backends.append(Backend(f"{name}-{canary_name}-predictor.{namespace}.svc.cluster.local", 80,
                                int(canary.get("trafficPercent", 0))))  # fmt: skip
    return Route("kserve-canary", f"InferenceService/{name}", (), tuple(backends))
