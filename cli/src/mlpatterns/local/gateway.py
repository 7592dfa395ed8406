"""The local gateway of `mlpatterns up`: one port in front of a chart's processes that routes the
way the chart's routing objects say (routes.py), as the caller's Envoy would in a cluster.

- A request without x-request-id gets one (Envoy's behaviour; the shadow comparison joins on it).
- The sticky filter runs first, then the first route that matches (Gateway API: the most
  specific), its header changes, and a backend drawn by weight.
- Mirrors are fire and forget: sent once the answer is ready (Envoy sends them beside the
  request; here the machine is shared, so the copy waits its turn), with the same x-request-id
  and the Host suffixed -shadow as Envoy does, never awaited by the client and never failing it;
  beyond MAX_MIRRORS in flight, a mirror is dropped and counted.
- The route's timeout bounds the whole exchange (504); retries follow retryOn (connect failures,
  resets, 5xx, gateway errors, status codes given by number).
- mlpatterns_gateway_* metrics, /ready and /routes (the table and what is not emulated) are on the
  admin port.

Run by `mlpatterns up`, or alone: python -m mlpatterns.local.gateway CONFIG.json"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pygjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder

from mlpatterns.local import front
from mlpatterns.local.front import Request, Response
from mlpatterns.local.inference_graph import Graph, Reply, Router, StepUnreachable, predict_urls, read_graph
from mlpatterns.local.routes import Backend, Route, RouteTable, canary_route, table
from mlpatterns.local.topology import NAMESPACE, hosts
from mlpatterns.local.upstream import Answer, Upstream, UpstreamFailed

log = logging.getLogger("mlpatterns.gateway")

MAX_MIRRORS = 512
ANSWER_HOP_BY_HOP = frozenset({b"connection", b"transfer-encoding", b"content-length", b"keep-alive"})
JSON = [(b"content-type", b"application/json")]


class Services:
    """In-cluster hosts (every DNS form of a Service, with its port) to local addresses, and the
    hosts of the chart's InferenceGraphs to their routers (graph:<name>)."""

    def __init__(self, addresses: dict[str, str]) -> None:
        self.addresses = addresses
        self.upstreams: dict[str, Upstream | GraphRouter] = {}
        self.graphs: dict[str, Graph] = {}

    def add_graph(self, graph: Graph, namespace: str) -> None:
        self.graphs[graph.name] = graph
        for host in hosts(graph.name, namespace):
            self.addresses.setdefault(host, f"graph:{graph.name}")
            self.addresses.setdefault(f"{host}:80", f"graph:{graph.name}")

    def resolve(self, backend: Backend) -> Upstream | GraphRouter | None:
        keys = [f"{backend.host}:{backend.port}"] if backend.port else []
        keys.append(backend.host)
        address = next((self.addresses[key] for key in keys if key in self.addresses), None)
        if address is None:
            return None
        upstream = self.upstreams.get(address)
        if upstream is None:
            if address.startswith("graph:"):
                upstream = GraphRouter(self.graphs[address.removeprefix("graph:")], self)
            else:
                upstream = Upstream(address)
            self.upstreams[address] = upstream
        return upstream

    def close(self) -> None:
        for upstream in self.upstreams.values():
            upstream.close()


class GraphRouter:
    """An InferenceGraph's router where a Service would be (inference_graph.py): routes reach it
    by the graph's host, and each of its steps is a call to a local process."""

    def __init__(self, graph: Graph, services: Services) -> None:
        self.address = f"InferenceGraph/{graph.name}"
        self.services = services
        self.router = Router(graph, self._call)

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, seconds: float
    ) -> Answer:
        reply = await self.router.answer(body, dict(headers), seconds)
        content = [(b"content-type", b"application/json")] if pygjson.validate(reply.body) else []
        return Answer(reply.status, content, reply.body)

    async def _call(self, url: str, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        parts = urlsplit(url)
        upstream = self.services.resolve(Backend(parts.hostname or "", parts.port))
        if upstream is None:
            raise StepUnreachable(503, f"{parts.hostname} is not a Service this chart runs here")
        sent = [("content-type", "application/json")]
        if "x-request-id" in headers:
            sent.append(("x-request-id", headers["x-request-id"]))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            answer = await upstream.request("POST", target or "/", sent, body, seconds)
        except UpstreamFailed as failed:
            raise StepUnreachable(504 if failed.reason == "timeout" else 503, str(failed)) from None
        return Reply(answer.status, answer.body)

    def close(self) -> None:
        return None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlpatterns_gateway_requests", "Requests the local gateway answered, by route, destination and status.",
            ["route", "destination", "code"], registry=self.registry,
        )  # fmt: skip
        self.duration = Histogram(
            "mlpatterns_gateway_request_duration_seconds", "Time to answer a request, retries included.",
            ["route", "destination"], registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )  # fmt: skip
        self.mirrored = Counter(
            "mlpatterns_gateway_mirrored_requests", "Mirrored copies, by route, destination and result "
            "(sent: answered; error: failed or refused; dropped: too many in flight).",
            ["route", "destination", "result"], registry=self.registry,
        )  # fmt: skip


class Gateway:
    def __init__(self, routes: RouteTable, services: Services, fallback: Route | None) -> None:
        self.table = routes
        self.services = services
        self.fallback = fallback
        self.metrics = Metrics()
        self.mirrors_in_flight = 0
        self.random = random.Random()
        # Label children by (route, destination, code): the hot path looks them up, not builds them.
        self._counted: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        headers = request.headers
        if "x-request-id" not in headers:
            headers["x-request-id"] = os.urandom(16).hex()
        self.table.prepare(headers)
        route = self.table.find(request.method, request.path, headers) or self.fallback
        if route is None:
            return _error(404, f"no route of this chart matches {request.method} {request.path}", headers)
        route.headers.apply(headers)
        backend = route.pick(self.random.random())
        target = f"{request.path}?{request.query}" if request.query else request.path
        answer = await self._forward(route, backend, request.method, target, headers, request.body)
        # Mirrors leave once the answer is ready (it is written before they run): they never wait
        # for, delay or fail it.
        for mirror in route.mirrors:
            if self.random.random() * 100 < mirror.percent:
                self._mirror(route, mirror.backend, request.method, target, headers, request.body)
        out = [(name, value) for name, value in answer.headers if name not in ANSWER_HOP_BY_HOP]
        if not any(name == b"x-request-id" for name, _ in out):
            out.append((b"x-request-id", headers["x-request-id"].encode("latin-1")))
        self._count(route, backend, answer.status, time.perf_counter() - started)
        return Response(answer.status, out, answer.body)

    def _count(self, route: Route, backend: Backend | None, status: int, seconds: float) -> None:
        destination = backend.host if backend else "none"
        key = (route.name, destination, status)
        children = self._counted.get(key)
        if children is None:
            children = self._counted[key] = (
                self.metrics.requests.labels(route=route.name, destination=destination, code=str(status)),
                self.metrics.duration.labels(route=route.name, destination=destination),
            )
        children[0].inc()
        children[1].observe(seconds)

    async def _forward(
        self, route: Route, backend: Backend | None, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Answer:
        upstream = self.services.resolve(backend) if backend else None
        if upstream is None:
            where = backend.host if backend else "no backend (the weights are 0)"
            return _answer(503, f"route {route.name}: {where} is not a Service this chart runs here")
        deadline = time.monotonic() + route.timeout
        retries = route.retries
        attempts = 1 + (retries.attempts if retries else 0)
        pairs = list(headers.items())
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            per_try = min(remaining, retries.per_try_timeout) if retries and retries.per_try_timeout else remaining
            last = attempt + 1 == attempts
            try:
                answer = await upstream.request(method, target, pairs, body, per_try)
            except UpstreamFailed as failed:
                if not last and _retried(retries, failed.reason, None):
                    continue
                timed_out = failed.reason == "timeout" and per_try >= remaining
                return _answer(504 if timed_out else 503, f"route {route.name}: {failed}")
            if last or not _retried(retries, None, answer.status):
                return answer
        return _answer(504, f"route {route.name}: no answer from {upstream.address} within {route.timeout:g} s")

    def _mirror(self, route: Route, backend: Backend, method: str, target: str, headers: dict[str, str],
                body: bytes) -> None:  # fmt: skip
        if self.mirrors_in_flight >= MAX_MIRRORS:
            self.metrics.mirrored.labels(route=route.name, destination=backend.host, result="dropped").inc()
            return
        upstream = self.services.resolve(backend)
        if upstream is None:
            self.metrics.mirrored.labels(route=route.name, destination=backend.host, result="error").inc()
            return
        copy = dict(headers)
        if "host" in copy:  # Envoy's shadow Host: <host>-shadow
            copy["host"] = f"{copy['host']}-shadow"
        self.mirrors_in_flight += 1

        async def send_copy() -> None:
            result = "error"
            try:
                answer = await upstream.request(method, target, list(copy.items()), body, route.timeout)
                result = "sent" if answer.status < 500 else "error"
            except Exception as error:  # a mirror's failure is counted, never the client's
                log.debug("mirror to %s failed: %s", backend.host, error)
            finally:
                self.mirrors_in_flight -= 1
                self.metrics.mirrored.labels(route=route.name, destination=backend.host, result=result).inc()

        task = asyncio.get_running_loop().create_task(send_copy())
        _MIRRORS.add(task)
        task.add_done_callback(_MIRRORS.discard)


# The tasks of mirrors in flight, held so they are not collected before they end.
_MIRRORS: set[asyncio.Task[None]] = set()


def _retried(retries: Any, failure: str | None, status: int | None) -> bool:
    if retries is None:
        return False
    on = retries.retry_on
    if failure is not None:
        return bool({"connect-failure", "reset", "5xx", "gateway-error", "refused-stream"} & on) or (
            failure == "timeout" and bool({"5xx", "gateway-error"} & on)
        )
    assert status is not None
    return ("5xx" in on and status >= 500) or ("gateway-error" in on and status in (502, 503, 504)) or str(status) in on


def _answer(status: int, message: str) -> Answer:
    return Answer(status, list(JSON), json.dumps({"error": message}).encode())


def _error(status: int, message: str, headers: dict[str, str]) -> Response:
    answer = _answer(status, message)
    return Response(
        status, [*answer.headers, (b"x-request-id", headers["x-request-id"].encode("latin-1"))], answer.body
    )


class Admin:
    """The admin port: /ready, /metrics, /routes (plain asyncio: a few GETs from people and
    Prometheus, and one uvicorn per process keeps its signal handling to itself)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            path = head.split(b" ", 2)[1].decode("latin-1").split("?")[0]
            accept = next((line.split(b":", 1)[1].strip().decode("latin-1") for line in head.split(b"\r\n")
                           if line.lower().startswith(b"accept:")), "")  # fmt: skip
            status, content_type, body = self.answer(path, accept)
            writer.write(f"HTTP/1.1 {status} OK\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
                         "connection: close\r\n\r\n".encode() + body)  # fmt: skip
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, IndexError):
            pass
        finally:
            writer.close()

    def answer(self, path: str, accept: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            encoder, content_type = choose_encoder(accept)
            return 200, content_type, encoder(self.gateway.metrics.registry)
        if path == "/ready":
            return 200, "application/json", b'{"ready": true}'
        if path == "/routes":
            routes = self.gateway.table.routes + ([self.gateway.fallback] if self.gateway.fallback else [])
            document = {"routes": [asdict(route) for route in routes], "not_emulated": self.gateway.table.notes,
                        "sticky": [asdict(sticky) for sticky in self.gateway.table.sticky]}  # fmt: skip
            return 200, "application/json", json.dumps(document, indent=1, default=sorted).encode()
        return 404, "application/json", b'{"error": "the admin port has /ready, /metrics and /routes"}'


def build(config: dict[str, Any]) -> Gateway:
    """The gateway for a config that `mlpatterns up` writes: the routing documents, the service
    addresses, and the default backend for a chart with no routing objects."""
    documents = config["documents"]
    routes = table(documents)
    services = Services(config["services"])
    namespace = config.get("namespace", NAMESPACE)
    urls = predict_urls(documents, namespace)
    for document in documents:
        if document.get("kind") == "InferenceService" and (canary := canary_route(document)):
            routes.istio.append(canary)
        if document.get("kind") == "InferenceGraph":
            graph = read_graph(document, urls)
            routes.notes += graph.notes
            services.add_graph(graph, document["metadata"].get("namespace", namespace))
    if services.graphs:
        routes.notes += GRAPH_DIFFERENCES
    fallback = None
    if config.get("fallback"):
        fallback = Route("default", "the chart's entry Service", (), (Backend(config["fallback"], None),))
    # The hosts a route names that no Service of the chart answers to: said at start.
    for route in routes.routes:
        for backend in [*route.backends, *(mirror.backend for mirror in route.mirrors)]:
            if services.resolve(backend) is None:
                routes.notes.append(f"{route.source}: route {route.name} names {backend.host}, no Service here")
    return Gateway(routes, services, fallback)


# What the local InferenceGraph router does otherwise than KServe's (inference_graph.py).
GRAPH_DIFFERENCES = [
    "InferenceGraph: a step that is down or too slow is answered 503/504 as a sidecar would, so Soft steps stay "
    "Soft (KServe's router outside a mesh answers 500 for the whole request)",
    "InferenceGraph: a failed Hard step's answer names the step, with its own answer as the cause (KServe passes "
    "the step's body on as it is)",
    "InferenceGraph: steps get x-request-id and content-type only (KServe: the headers its router config lists)",
]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    config = json.loads(Path(args[0]).read_text())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gateway = build(config)
    for note in gateway.table.notes:
        log.warning("not emulated: %s", note)

    async def serve() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        admin = await asyncio.start_server(Admin(gateway).handle, "127.0.0.1", config["admin_port"])
        async with admin:
            await front.serve(gateway.handle, config.get("host", "127.0.0.1"), config["port"], stopping)
        gateway.services.close()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
