"""The local gateway's routing decisions in-process, read from what the charts render: Istio's
first match, Gateway API's most specific match, weights, mirrors, the sticky filter (its Lua run
by LuaJIT against the gateway's Python), and what is reported as not emulated."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mlpatterns.charts.rendering import render
from mlpatterns.local.routes import Match, Route, TextMatch, bucket, canary_route, table
from mlpatterns.paths import charts_dir

PREDICT = "/v1/models/iris:predict"


def documents(chart: str, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [m.document for m in render(charts_dir() / chart, values or {}) if not m.is_test_hook]


def split(route: Route, draws: int = 10_000) -> Counter[str]:
    generator = random.Random(7)
    return Counter(backend.host.split(".")[0] for backend in (route.pick(generator.random()) for _ in range(draws))
                   if backend)  # fmt: skip


def test_online_ab_overrides_first_then_the_weights() -> None:
    routes = table(documents("online-ab"))
    forced = routes.find("POST", PREDICT, {"x-mlpatterns-variant": "canary"})
    assert forced is not None
    assert [b.host for b in forced.backends] == ["demo-online-ab-canary-predictor.mlpatterns.svc.cluster.local"]
    weighted = routes.find("POST", PREDICT, {})
    assert weighted is not None
    assert weighted.name == "weighted"
    shares = split(weighted)
    assert abs(shares["demo-online-ab-canary-predictor"] / 10_000 - 0.10) < 0.02


def test_sticky_users_follow_their_bucket_to_one_variant() -> None:
    routes = table(documents("online-ab", {"sticky": {"header": "x-user-id"}}))
    assert [(s.header, s.bucket_header) for s in routes.sticky] == [("x-user-id", "x-mlpatterns-bucket")]
    seen: dict[str, set[str]] = {}
    for user in (f"user-{n}" for n in range(300)):
        for _ in range(3):
            headers = {"x-user-id": user}
            routes.prepare(headers)
            route = routes.find("POST", PREDICT, headers)
            assert route is not None
            seen.setdefault(user, set()).add(route.name)
    assert all(len(names) == 1 for names in seen.values())
    canary = sum("sticky-canary" in names for names in seen.values())
    assert 10 < canary < 60  # about 10% of 300 users
    sent = {"x-mlpatterns-bucket": "95"}  # a client's own bucket is not trusted
    routes.prepare(sent)
    assert "x-mlpatterns-bucket" not in sent


def test_condition_based_first_match_and_the_default() -> None:
    routes = table(documents("condition-based"))
    assert routes.find("POST", PREDICT, {"x-region": "eu"}).name == "eu"  # type: ignore[union-attr]
    assert routes.find("POST", PREDICT, {"x-user-tier": "platinum"}).name == "premium"  # type: ignore[union-attr]
    assert routes.find("POST", PREDICT, {"x-user-tier": "platinum-plus"}).name == "default"  # type: ignore[union-attr]
    assert routes.find("POST", PREDICT, {}).name == "default"  # type: ignore[union-attr]


def test_gateway_api_prefers_the_most_specific_match_whatever_the_order() -> None:
    values = {"trafficRouter": "gateway-api", "routes": [
        {"name": "any-v2", "match": {"uriPrefix": "/v2/"}, "model": {"uri": "s3://m/a", "format": "sklearn"}},
        {"name": "mobile", "match": {"uriPrefix": "/v2/", "headers": {"x-client": {"prefix": "mobile-"}}},
         "model": {"uri": "s3://m/b", "format": "sklearn"}},
    ]}  # fmt: skip
    routes = table(documents("condition-based", values))
    infer = "/v2/models/iris/infer"
    assert routes.find("POST", infer, {"x-client": "mobile-ios"}).name == "mobile"  # type: ignore[union-attr]
    assert routes.find("POST", infer, {}).name == "any-v2"  # type: ignore[union-attr]
    assert routes.find("POST", "/v2x", {}).name == "default"  # type: ignore[union-attr]  # whole path elements


def test_mirrors_and_timeouts_as_rendered() -> None:
    (route,) = table(documents("shadow-ab", {"mirror": {"percent": 25}})).routes
    assert [(m.backend.host.split(".")[0], m.percent) for m in route.mirrors] == [
        ("demo-shadow-ab-shadow-predictor", 25.0)
    ]
    assert route.timeout == 30
    assert route.retries is not None
    assert route.retries.attempts == 2
    assert "503" in route.retries.retry_on
    (http_route,) = table(documents("shadow-ab", {"mirror": {"percent": 25}, "trafficRouter": "gateway-api"})).routes
    assert [(m.backend.host.split(".")[0], m.percent) for m in http_route.mirrors] == [
        ("demo-shadow-ab-shadow-predictor", 25.0)
    ]


def test_what_is_not_emulated_is_said() -> None:
    notes = table(documents("shadow-ab")).notes
    assert "DestinationRule/demo-shadow-ab-primary: spec.trafficPolicy.outlierDetection is not emulated" in notes
    faulty = {"kind": "VirtualService", "metadata": {"name": "v"}, "spec": {"http": [
        {"fault": {"abort": {"httpStatus": 500}}, "route": [{"destination": {"host": "x", "subset": "v2"}}],
         "match": [{"queryParams": {"debug": {"exact": "1"}}}]}]}}  # fmt: skip
    said = table([faulty]).notes
    assert "VirtualService/v: http[0].fault is not emulated" in said
    assert "VirtualService/v: http[0].match[0].queryParams is not emulated" in said
    assert any("subset v2 is not emulated" in note for note in said)


def test_kserve_canaries_split_by_their_traffic_percent() -> None:
    values = {"trafficRouter": "kserve", "override": {"header": ""}}
    (isvc,) = [d for d in documents("online-ab", values) if d["kind"] == "InferenceService"]
    route = canary_route(isvc)
    assert route is not None
    shares = split(route)
    assert abs(shares["demo-online-ab-canary-predictor"] / 10_000 - 0.10) < 0.02
    assert abs(shares["demo-online-ab-predictor"] / 10_000 - 0.90) < 0.02


def test_header_matches() -> None:
    assert TextMatch("regex", "gold|platinum").matches("gold")
    assert not TextMatch("regex", "gold|platinum").matches("golden")  # a full match, as Envoy's
    assert Match(headers=(("x-a", TextMatch("exact", "1")),)).matches("GET", "/", {"x-a": "1"})
    assert not Match(headers=(("x-a", TextMatch("exact", "1")),)).matches("GET", "/", {})


@pytest.mark.skipif(shutil.which("luajit") is None, reason="LuaJIT is not installed (make setup installs it)")
def test_the_envoy_filters_lua_puts_users_in_the_gateways_buckets(tmp_path: Path) -> None:
    (sticky,) = [d for d in documents("online-ab", {"sticky": {"header": "x-user-id"}}) if d["kind"] == "EnvoyFilter"]
    code = sticky["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["defaultSourceCode"]["inlineString"]
    users = ["", "a", "user-42", "élodie", "0123456789abcdef", *(f"customer-{n}" for n in range(200))]
    # Envoy's side of the Lua API, as small as the filter uses: headers get/replace/remove, clearRouteCache.
    harness = (
        code
        + """
local results = {}
for user in io.lines(arg[1]) do
  local values = {["x-user-id"] = user ~= "" and user or nil, ["x-mlpatterns-bucket"] = "7"}
  local headers = {}
  function headers:get(name) return values[name] end
  function headers:replace(name, value) values[name] = value end
  function headers:remove(name) values[name] = nil end
  local cleared = false
  local handle = {}
  function handle:headers() return headers end
  function handle:clearRouteCache() cleared = true end
  envoy_on_request(handle)
  print((values["x-mlpatterns-bucket"] or "none") .. " " .. tostring(cleared))
end
"""
    )
    (tmp_path / "sticky.lua").write_text(harness)
    (tmp_path / "users.txt").write_text("\n".join(users) + "\n")
    done = subprocess.run(["luajit", str(tmp_path / "sticky.lua"), str(tmp_path / "users.txt")],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    expected = [f"{bucket(user)} true" if user else "none true" for user in users]
    assert done.stdout.splitlines() == expected


def test_the_gateway_buckets_a_users_bytes_as_sent_without_surrounding_whitespace() -> None:
    from mlpatterns.local.routes import Sticky

    sticky = Sticky("x-user-id", "x-mlpatterns-bucket")

    def bucket_of(sent: bytes) -> str:
        headers = {"x-user-id": sent.decode("latin-1")}  # how the front end reads a header
        sticky.apply(headers)
        return headers["x-mlpatterns-bucket"]

    assert bucket_of("jösé".encode()) == str(bucket("jösé")) != str(bucket("jösé".encode().decode("latin-1")))
    assert bucket_of(b"u0 ") == bucket_of(b" u0\t") == bucket_of(b"u0") == str(bucket("u0"))
    headers = {"x-user-id": "  ", "x-mlpatterns-bucket": "7"}  # blank: no user, and no bucket a client chose
    sticky.apply(headers)
    assert "x-mlpatterns-bucket" not in headers
