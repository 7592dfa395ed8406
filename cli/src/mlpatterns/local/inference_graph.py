"""KServe's InferenceGraph router (cmd/router/main.go in kserve/kserve) as the local gateway runs
it: the graph's nodes read from the rendered object, and each request walked through them from
`root` with the router's semantics. Conditions are GJSON, evaluated by tidwall's gjson.rs (pygjson),
the Rust port of the Go library the router uses.

- Sequence: steps in order; a step's data is the client's request, or with `data: $response` the
  answer of the step before; `mapPredictionsToInstances` renames that answer's predictions to
  instances; a step with a `condition` runs only when the condition exists in the answer before
  it, else the chain ends with that answer (200). A Hard step that answers non-2xx ends the chain
  with its status; a Soft one's answer is passed on as any other.
- Switch: the first step whose condition exists in the request; none is a 404.
- Ensemble: every step at once; the answer is one object of each step's answer under its name
  (or its index). A Hard step that fails fails the node with its status; a Soft one's answer
  (its error) is kept under its name.
- Splitter: one step, drawn by weight (the weights sum to 100).
- serviceName is the InferenceService's predict URL as KServe's controller resolves it:
  http://<isvc>.<namespace>.svc.cluster.local/v1/models/<model name>:predict (v2: /infer).

Where this differs from the router (said at start, docs/local-runtime.md):
- A step that cannot be reached or does not answer in time is answered as an Istio sidecar
  answers it (503, 504), so its dependency decides; KServe's router outside a mesh fails the whole
  request with a 500 for it, Soft or not.
- A failed Hard step's answer is {"error": "<node> step <name> (<url>) failed with <status>",
  "cause": <its answer>} with its status, naming the step; the router passes the step's body on.
  A node step passes on what its node answered.
- Headers: x-request-id and content-type reach every step (KServe passes on only those its router
  config lists), so each step's prediction log joins on the client's request id."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pygjson

ROOT = "root"
ROUTERS = ("Sequence", "Switch", "Ensemble", "Splitter")
_STEP_KEYS = {"name", "nodeName", "serviceName", "serviceUrl", "data", "mapPredictionsToInstances", "weight",
              "condition", "dependency"}  # fmt: skip
_SPEC_KEYS = {"nodes", "routerTimeouts", "resources", "affinity", "minReplicas", "maxReplicas", "scaleTarget",
              "scaleMetric", "tolerations", "nodeSelector", "serviceAccountName", "timeout"}  # fmt: skip


@dataclass(frozen=True)
class Step:
    name: str  # its name, or its index as the router keys an unnamed Ensemble step
    node: str | None = None
    url: str | None = None
    data: str = ""
    map_predictions: bool = False
    weight: int = 0
    condition: pygjson.Path | None = None
    condition_text: str = ""
    hard: bool = False


@dataclass(frozen=True)
class Node:
    name: str
    router: str
    steps: tuple[Step, ...]


@dataclass
class Graph:
    name: str
    nodes: dict[str, Node]
    # routerTimeouts.serviceClient: the longest a step may take (none: the request's own timeout)
    step_seconds: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


# Calls a step's URL: (url, body, headers, seconds) -> its reply; raises StepUnreachable.
Call = Callable[[str, bytes, Mapping[str, str], float], Awaitable[Reply]]


class StepUnreachable(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status  # 503 (not reachable) or 504 (no answer in time), as a sidecar says


class RoutingError(Exception):
    """The router's own failures, answered {"error": "Failed to process request", "cause": ...}."""

    def __init__(self, status: int, cause: str) -> None:
        super().__init__(cause)
        self.status = status


# -- reading the object


def predict_urls(documents: Iterable[Mapping[str, Any]], namespace: str) -> dict[str, str]:
    """Each InferenceService's predict URL, as KServe's controller resolves a step's serviceName:
    its address, then the path of the first protocol (v1, v2) its runtime speaks, for the model
    name in its arguments (else the InferenceService's name)."""
    documents = list(documents)
    protocols = {
        d["metadata"]["name"]: d.get("spec", {}).get("protocolVersions") or ["v1"]
        for d in documents if d.get("kind") in ("ServingRuntime", "ClusterServingRuntime")
    }  # fmt: skip
    urls = {}
    for document in documents:
        if document.get("kind") != "InferenceService":
            continue
        name = document["metadata"]["name"]
        spec = document.get("spec", {})
        component = spec.get("transformer") or spec.get("predictor") or {}
        model = component.get("model") or {}
        args = [*model.get("args", []), *((component.get("containers") or [{}])[0].get("args", []))]
        model_name = next((a.split("=", 1)[1] for a in reversed(args) if str(a).startswith("--model_name=")), name)
        runtime = protocols.get(model.get("runtime", ""), ["v1"])
        protocol = next((p for p in runtime if p in ("v1", "v2")), "v1") if not spec.get("transformer") else "v1"
        path = f"/v1/models/{model_name}:predict" if protocol == "v1" else f"/v2/models/{model_name}/infer"
        urls[name] = f"http://{name}.{document['metadata'].get('namespace', namespace)}.svc.cluster.local{path}"
    return urls


def read_graph(document: Mapping[str, Any], urls: Mapping[str, str]) -> Graph:
    name = document["metadata"]["name"]
    spec = document.get("spec") or {}
    graph = Graph(name, {})
    source = f"InferenceGraph/{name}"
    unused = sorted(set(spec) & _SPEC_KEYS - {"nodes", "routerTimeouts"})
    if unused:
        graph.notes.append(f"{source}: spec.{', spec.'.join(unused)} not emulated (one router process)")
    timeouts = spec.get("routerTimeouts") or {}
    if timeouts.get("serviceClient"):
        graph.step_seconds = float(timeouts["serviceClient"])
    for node_name, node in (spec.get("nodes") or {}).items():
        router = node.get("routerType", "")
        if router not in ROUTERS:
            graph.notes.append(f"{source}: node {node_name} has routerType {router!r}, which the router refuses")
        steps = []
        for index, step in enumerate(node.get("steps") or []):
            for key in sorted(set(step) - _STEP_KEYS):
                graph.notes.append(f"{source}: nodes.{node_name}.steps[{index}].{key} is not emulated")
            url = step.get("serviceUrl")
            if step.get("serviceName"):
                url = urls.get(step["serviceName"])
                if url is None:
                    graph.notes.append(f"{source}: step {step.get('name', index)} names the InferenceService "
                                       f"{step['serviceName']}, which this chart does not run")  # fmt: skip
            condition = str(step.get("condition") or "")
            steps.append(Step(
                str(step.get("name") or index), step.get("nodeName") or None, url, str(step.get("data") or ""),
                bool(step.get("mapPredictionsToInstances")), int(step.get("weight") or 0),
                pygjson.compile(condition) if condition else None, condition, step.get("dependency") == "Hard",
            ))  # fmt: skip
        graph.nodes[node_name] = Node(node_name, router, tuple(steps))
    if ROOT not in graph.nodes:
        graph.notes.append(f"{source}: no node named root: the router answers nothing")
    return graph


# -- running a request


class Router:
    def __init__(self, graph: Graph, call: Call, draw: Callable[[], float] | None = None) -> None:
        self.graph = graph
        self.call = call
        self.draw = draw or random.random

    async def answer(self, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        try:
            return await self.node(ROOT, body, headers, seconds)
        except RoutingError as error:
            document = {"error": "Failed to process request", "cause": str(error)}
            return Reply(error.status, json.dumps(document).encode())

    async def node(self, name: str, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        node = self.graph.nodes.get(name)
        if node is None:
            raise RoutingError(500, f"the graph has no node named {name}")
        if node.router == "Splitter":
            step = self._split(node)
            if step is None:
                raise RoutingError(500, "no route was selected by the splitter")
            return await self.step(node, step, body, headers, seconds)
        if node.router == "Switch":
            valid = pygjson.validate(body)
            step = next((s for s in node.steps if valid and s.condition and pygjson.get_bytes(body, s.condition)
                         .exists()), None)  # fmt: skip
            if step is None:
                raise RoutingError(404, "None of the routes matched with the switch condition")
            return await self.step(node, step, body, headers, seconds)
        if node.router == "Ensemble":
            return await self._ensemble(node, body, headers, seconds)
        if node.router == "Sequence":
            return await self._sequence(node, body, headers, seconds)
        raise RoutingError(500, f"invalid route type: {node.router}")

    def _split(self, node: Node) -> Step | None:
        point = int(self.draw() * 100)
        end = 0
        for step in node.steps:
            end += step.weight
            if point < end:
                return step
        return None

    async def _sequence(self, node: Node, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        reply: Reply | None = None
        for index, step in enumerate(node.steps):
            request = reply.body if step.data == "$response" and index > 0 and reply else body
            if step.map_predictions:
                request = _predictions_as_instances(request)
            if step.condition is not None:
                before = reply.body if reply else b""
                if not pygjson.validate(before):
                    raise RoutingError(500, "invalid response")
                if not pygjson.get_bytes(before, step.condition).exists():
                    return Reply(200, before)  # the condition does not hold: the chain ends here
            reply = await self.step(node, step, request, headers, seconds)
            if step.hard and not 200 <= reply.status < 300:
                return reply
        return reply or Reply(200, b"")

    async def _ensemble(self, node: Node, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        replies = await asyncio.gather(*(self.step(node, step, body, headers, seconds) for step in node.steps))
        merged: dict[str, Any] = {}
        for step, reply in zip(node.steps, replies, strict=True):
            try:
                answer = json.loads(reply.body)
            except ValueError as error:
                raise RoutingError(500, f"step {step.name} answered no JSON: {error}") from None
            if step.hard and not 200 <= reply.status < 300:
                return reply
            merged[step.name] = answer
        return Reply(200, json.dumps(merged, separators=(",", ":")).encode())

    async def step(self, node: Node, step: Step, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        if step.node is not None:  # a node's own failures already name their step
            return await self.node(step.node, body, headers, seconds)
        if step.url is None:
            raise RoutingError(500, f"step {step.name} of node {node.name} has no service here")
        limit = min(seconds, self.graph.step_seconds) if self.graph.step_seconds else seconds
        try:
            reply = await self.call(step.url, body, headers, limit)
        except StepUnreachable as failed:
            message = {"error": f"{node.name} step {step.name} ({step.url}) failed: {failed}"}
            return Reply(failed.status, json.dumps(message).encode())
        if step.hard and not 200 <= reply.status < 300:
            cause = reply.body.decode("utf-8", "replace")[:2000]
            message = {"error": f"{node.name} step {step.name} ({step.url}) failed with {reply.status}", "cause": cause}
            return Reply(reply.status, json.dumps(message).encode())
        return reply


def _predictions_as_instances(request: bytes) -> bytes:
    """mapPredictionsToInstances: an answer's predictions become the next request's instances."""
    try:
        decoded = json.loads(request)
    except ValueError:
        return request
    if isinstance(decoded, dict) and decoded.get("predictions"):
        return json.dumps({"instances": decoded["predictions"]}, separators=(",", ":")).encode()
    return request
