"""What a chart's rendered objects run as on this machine: each InferenceService component,
Deployment and Job container as a local process with the arguments and environment its manifest
gives it, each Service as the local address of the process it selects, and the routing objects
for the gateway. What Kubernetes, KServe or the mesh would add is emulated where a pattern needs
it, said where it is not (notes), and refused where it cannot run (problems).

- KServe: a predictor's ServingRuntime container (with {{.Name}}) plus the model's arguments; its
  storageUri becomes --model_uri (the server fetches it, as the storage initializer would); a
  transformer gets --predictor_host, as KServe injects it; spec.canary[] are processes of their
  own; spec.predictor.logger is the server's own http sink to the logger's URL.
- Kubernetes: a Service's selector and ports; env fieldRefs to the pod's name, namespace and
  labels; an Indexed Job's JOB_COMPLETION_INDEX; one replica of everything.
- Addresses: every in-cluster host of a Service in arguments and environment (svc, svc.ns,
  svc.ns.svc, svc.ns.svc.cluster.local, with or without a port) becomes 127.0.0.1:<port>; the
  container's own ports become free local ones; /tmp, /mnt/models and /data a folder of its own."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlpatterns.paths import REPOSITORY

NAMESPACE = "mlpatterns"
# Kinds that shape nothing a local run can show (security, scheduling, monitoring objects).
IGNORED = {
    "NetworkPolicy": "network policies (everything is on loopback)",
    "AuthorizationPolicy": "Istio's authorization (no mesh here)",
    "PeerAuthentication": "Istio's mutual TLS (no mesh here)",
    "PodDisruptionBudget": "disruption budgets (one process each)",
    "ServiceAccount": "identities",
    "PodMonitor": "Prometheus Operator monitors (Prometheus, when installed, scrapes every process)",
    "ServiceMonitor": "Prometheus Operator monitors (Prometheus, when installed, scrapes every process)",
    "PrometheusRule": "the release's alert rules (Prometheus here loads the kit's, manifests/monitoring/rules)",
    "HorizontalPodAutoscaler": "autoscaling (one process each)",
    "ScaledObject": "KEDA's scaling (one worker runs)",
    "TriggerAuthentication": "KEDA's credentials",
    "PersistentVolumeClaim": "volumes (data stays in the process's folder)",
    "MetricTemplate": "Flagger's gates",
    "AnalysisTemplate": "Argo Rollouts' gates",
    "ServingRuntime": None,  # read, not run
    "DestinationRule": None,  # the gateway reads it
    "VirtualService": None,
    "HTTPRoute": None,
    "EnvoyFilter": None,
    "Service": None,
    "InferenceGraph": None,  # the gateway runs its router
}
# Seldon's resources need Seldon's operator and servers: `up` runs the kserve backend's topology.
SELDON = {"SeldonDeployment", "Model", "Experiment", "Pipeline"}
ROUTING = {"VirtualService", "DestinationRule", "HTTPRoute", "EnvoyFilter", "InferenceService", "InferenceGraph"}


@dataclass
class Process:
    name: str
    component: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # container port -> local port
    ports: dict[int, int] = field(default_factory=dict)
    port_names: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    # (local port, path) answering 200 when ready; a port alone: it accepts connections
    ready: tuple[int, str | None] | None = None
    metrics: tuple[int, str] | None = None
    job: bool = False
    # Our server (python -m mlpatterns_server) or redis-server: who takes which local arguments.
    program: str = "server"

    @property
    def http_port(self) -> int | None:
        return self.ports.get(8080) or next(iter(self.ports.values()), None)


@dataclass
class Topology:
    processes: list[Process] = field(default_factory=list)
    # host, and host:port, in every DNS form -> 127.0.0.1:<local port>
    services: dict[str, str] = field(default_factory=dict)
    routing: list[dict[str, Any]] = field(default_factory=list)
    # The host the gateway sends a request to when no route matches or the chart has no routes.
    fallback: str | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def jobs(self) -> list[Process]:
        return [process for process in self.processes if process.job]

    @property
    def long_running(self) -> list[Process]:
        return [process for process in self.processes if not process.job]


class PortPool:
    """Free local ports, handed out once each."""

    def __init__(self, free: Any) -> None:
        self._free = free
        self.taken: set[int] = set()

    def take(self) -> int:
        while True:
            port = int(self._free())
            if port not in self.taken:
                self.taken.add(port)
                return port


@dataclass
class Options:
    workdir: Path
    ports: PortPool
    namespace: str = NAMESPACE
    # The folder of a model baked into an image (model-in-image), which cannot run here.
    baked_model: Path | None = None
    python: str = "python"
    environment: Mapping[str, str] = field(default_factory=dict)
    # The local MLflow store the pipelines and the server use (MLPATTERNS_HOME).
    local_tracking_uri: str = "sqlite:///" + str(Path("~/.mlpatterns/mlflow.db").expanduser())


def build(documents: list[dict[str, Any]], options: Options) -> Topology:
    topology = Topology()
    runtimes = _runtimes(documents)
    seen_kinds: set[str] = set()
    for document in documents:
        kind = document.get("kind", "")
        if _is_test_hook(document):
            continue
        if kind in ROUTING:
            topology.routing.append(document)
        if kind == "InferenceService":
            _inference_service(document, runtimes, options, topology)
        elif kind in ("Deployment", "StatefulSet"):
            _workload(document, document["spec"]["template"], options, topology)
        elif kind in ("CronJob", "Job"):
            _job(document, options, topology)
        elif kind in SELDON:
            if not seen_kinds & SELDON:
                topology.problems.append(
                    f"{kind}/{document['metadata']['name']}: the Seldon backends need Seldon's operator; `mlpatterns "
                    "up` runs the kserve backend (leave backend unset), and `mlpatterns validate` checks this one"
                )
        elif kind in IGNORED:
            reason = IGNORED[kind]
            if reason and kind not in seen_kinds:
                topology.notes.append(f"{kind}: not emulated: {reason}")
        else:
            topology.notes.append(f"{kind}/{document['metadata']['name']}: not run here")
        seen_kinds.add(kind)
    for document in documents:
        if document.get("kind") == "Service" and not _is_test_hook(document):
            _service(document, options, topology)
    for process in topology.processes:
        _rewrite(process, topology, options)
    topology.fallback = _fallback(documents, options, topology)
    return topology


def _is_test_hook(document: Mapping[str, Any]) -> bool:
    return "test" in str(document.get("metadata", {}).get("annotations", {}).get("helm.sh/hook", ""))


def _runtimes(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {
        d["metadata"]["name"]: d for d in documents if d.get("kind") in ("ServingRuntime", "ClusterServingRuntime")
    }
    platform = REPOSITORY / "manifests" / "kserve" / "cluster-serving-runtime.yaml"
    if platform.is_file():  # runtime.create=false names the platform's ClusterServingRuntime
        cluster = yaml.safe_load(platform.read_text())
        found.setdefault(cluster["metadata"]["name"], cluster)
    return found


# -- KServe


def _inference_service(
    isvc: dict[str, Any], runtimes: dict[str, dict[str, Any]], options: Options, topology: Topology
) -> None:
    name = isvc["metadata"]["name"]
    spec = isvc["spec"]
    labels = {**isvc["metadata"].get("labels", {}), "serving.kserve.io/inferenceservice": name}
    predictor = spec["predictor"]
    predictor_process = _predictor(
        f"{name}-predictor", name, predictor, runtimes, {**labels, "component": "predictor"}, options, topology
    )
    if "canaryTrafficPercent" in predictor:
        topology.notes.append(
            f"InferenceService/{name}: canaryTrafficPercent {predictor['canaryTrafficPercent']} is not emulated: the "
            "revision rolled out before this one is not here, so this one answers everything"
        )
    for canary in spec.get("canary") or []:
        canary_name = canary["predictor"]["name"]
        _predictor(f"{name}-{canary_name}-predictor", name, canary["predictor"], runtimes,
                   {**labels, "component": "predictor", "serving.kserve.io/canary": canary_name}, options,
                   topology)  # fmt: skip
    transformer = spec.get("transformer")
    if transformer:
        container = transformer["containers"][0]
        process = _container_process(f"{name}-transformer", "transformer", container,
                                     {**labels, "component": "transformer"}, options, topology)  # fmt: skip
        if process is not None and predictor_process is not None:
            # KServe gives the transformer its predictor's address.
            process.command += [f"--predictor_host={name}-predictor.{options.namespace}"]
    # KServe's Services: one per component, port 80 to the container's 8080.
    for component in ("predictor", "transformer"):
        selector = {"serving.kserve.io/inferenceservice": name, "component": component}
        if component == "predictor":
            selector["mlpatterns.dev/stable"] = "true"
        _expose(f"{name}-{component}", selector, {80: 8080}, options, topology)
    for canary in spec.get("canary") or []:
        selector = {"serving.kserve.io/canary": canary["predictor"]["name"], "serving.kserve.io/inferenceservice": name}
        _expose(f"{name}-{canary['predictor']['name']}-predictor", selector, {80: 8080}, options, topology)
    entry = "transformer" if transformer else "predictor"
    entry_selector = {"serving.kserve.io/inferenceservice": name, "component": entry}
    if entry == "predictor":
        entry_selector["mlpatterns.dev/stable"] = "true"
    _expose(name, entry_selector, {80: 8080}, options, topology)


def _predictor(
    process_name: str, isvc: str, predictor: dict[str, Any], runtimes: dict[str, dict[str, Any]],
    labels: dict[str, str], options: Options, topology: Topology,
) -> Process | None:  # fmt: skip
    stable = "serving.kserve.io/canary" not in labels
    labels = {**labels, **({"mlpatterns.dev/stable": "true"} if stable else {})}
    model = predictor.get("model")
    if model is None:  # a container of its own (model-in-image)
        container = predictor["containers"][0]
        process = _container_process(process_name, "predictor", container, labels, options, topology)
        aggregator = process is not None and process.command[3:4] == ["aggregate"]  # no model: it combines answers
        if (
            process is not None
            and not aggregator
            and not any(arg.startswith(("--model_dir", "--model_uri")) for arg in process.command)
        ):
            if options.baked_model is None:
                topology.problems.append(
                    f"InferenceService/{isvc}: the model is baked into the image {container.get('image')}, which "
                    "cannot run here: give the model's folder with --baked-model PATH"
                )
            else:
                process.env["MLPATTERNS_MODEL_DIR"] = str(options.baked_model)
        return process
    runtime = runtimes.get(model.get("runtime", ""))
    if runtime is None:
        topology.problems.append(f"InferenceService/{isvc}: no ServingRuntime named {model.get('runtime')!r}")
        return None
    container = {**runtime["spec"]["containers"][0]}
    container["args"] = [str(arg).replace("{{.Name}}", isvc) for arg in container.get("args", [])]
    container["args"] += [str(arg) for arg in model.get("args", [])]
    if "storageUri" in model:  # the storage initializer's job, done by the server itself
        container["args"].append(f"--model_uri={model['storageUri']}")
    container["env"] = [*container.get("env", []), *model.get("env", [])]
    for probe in ("readinessProbe", "startupProbe"):
        if probe in model:
            container[probe] = model[probe]
    process = _container_process(process_name, "predictor", container, labels, options, topology)
    logger = predictor.get("logger")
    if process is not None and logger:
        process.command += ["--prediction_log_sink=http", f"--prediction_log_http_url={logger['url']}"]
        topology.notes.append(
            f"InferenceService/{isvc}: KServe's logger is emulated by the server's own http sink to {logger['url']} "
            "(whole events, where KServe sends a request and a response event)"
        )
    return process


# -- Kubernetes workloads


def _workload(owner: dict[str, Any], template: dict[str, Any], options: Options, topology: Topology,
              job: bool = False, extra_env: dict[str, str] | None = None) -> list[Process]:  # fmt: skip
    name = owner["metadata"]["name"]
    replicas = owner.get("spec", {}).get("replicas")
    if isinstance(replicas, int) and replicas > 1:
        topology.notes.append(f"{owner['kind']}/{name}: {replicas} replicas asked, one runs here")
    labels = dict(template.get("metadata", {}).get("labels", {}))
    processes = []
    containers = template["spec"]["containers"]
    for container in containers:
        process_name = name if len(containers) == 1 else f"{name}-{container['name']}"
        component = labels.get("app.kubernetes.io/component", container["name"])
        process = _container_process(process_name, component, container, labels, options, topology, extra_env)
        if process is not None:
            process.job = job
            processes.append(process)
    return processes


def _job(cronjob: dict[str, Any], options: Options, topology: Topology) -> None:
    job_spec = cronjob["spec"]["jobTemplate"]["spec"] if cronjob["kind"] == "CronJob" else cronjob["spec"]
    name = cronjob["metadata"]["name"]
    run = f"{name}-local"
    template = job_spec["template"]
    template = {**template, "metadata": {**template.get("metadata", {}), "labels": {
        **template.get("metadata", {}).get("labels", {}), "batch.kubernetes.io/job-name": run}}}  # fmt: skip
    indexed = job_spec.get("completionMode") == "Indexed"
    completions = int(job_spec.get("completions", 1)) if indexed else 1
    if cronjob["kind"] == "CronJob":
        topology.notes.append(f"CronJob/{name}: runs once now (schedule {cronjob['spec'].get('schedule')!r} is not)")
    for index in range(completions):
        env = {"JOB_COMPLETION_INDEX": str(index)} if indexed else {}
        for process in _workload({"kind": "Job", "metadata": {"name": f"{run}-{index}" if indexed else run}},
                                 template, options, topology, job=True, extra_env=env):  # fmt: skip
            process.labels["batch.kubernetes.io/job-completion-index"] = str(index)


_SERVER_IMAGE = re.compile(r"(^|/)(model-server|iris-server)[:@]|(^|/)[a-z0-9-]*-server[:@]")


def _container_process(
    name: str, component: str, container: dict[str, Any], labels: dict[str, str], options: Options,
    topology: Topology, extra_env: dict[str, str] | None = None,
) -> Process | None:  # fmt: skip
    image = str(container.get("image", ""))
    command = [str(part) for part in container.get("command", [])]
    args = [str(arg) for arg in container.get("args", [])]
    if "redis" in image.split("/")[-1]:
        program, argv = "redis", ["redis-server", *args]
    elif command and command[0] == "mlpatterns-pipelines":
        program, argv = "pipelines", [options.python, "-m", "mlpatterns_pipelines", *command[1:], *args]
    elif command[:1] == ["python"] or not _SERVER_IMAGE.search(image):
        topology.problems.append(f"{name}: the image {image} with {command or 'its entrypoint'} cannot run here")
        return None
    else:  # the model server image: its entrypoint is python -m mlpatterns_server
        program, argv = "server", [options.python, "-m", "mlpatterns_server", *command[2:], *args]
    process = Process(name, component, argv, labels=dict(labels), program=program)
    for port in container.get("ports", []):
        local = options.ports.take()
        process.ports[int(port["containerPort"])] = local
        if port.get("name"):
            process.port_names[port["name"]] = int(port["containerPort"])
    if program == "redis" and not process.ports:
        process.ports[6379] = options.ports.take()
    process.env.update(_env(name, container, labels, options, topology))
    process.env.update(extra_env or {})
    process.ready = _readiness(container.get("readinessProbe"), process)
    if program == "server":
        process.metrics = _metrics_endpoint(process)
    topology.processes.append(process)
    return process


def _env(name: str, container: dict[str, Any], labels: dict[str, str], options: Options,
         topology: Topology) -> dict[str, str]:  # fmt: skip
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        key = entry["name"]
        if "value" in entry:
            env[key] = str(entry["value"])
            continue
        source = entry.get("valueFrom", {})
        field_path = source.get("fieldRef", {}).get("fieldPath", "")
        label = re.fullmatch(r"metadata\.labels\['(.+)'\]", field_path)
        if label:
            env[key] = labels.get(label[1], "")
        elif field_path == "metadata.name":
            env[key] = name
        elif field_path == "metadata.namespace":
            env[key] = options.namespace
        elif field_path in ("status.podIP", "status.hostIP"):
            env[key] = "127.0.0.1"
        elif "secretKeyRef" in source or "configMapKeyRef" in source:
            reference = source.get("secretKeyRef") or source.get("configMapKeyRef")
            if key in options.environment:
                env[key] = options.environment[key]
                topology.notes.append(f"{name}: {key} (from {reference['name']}) is taken from your environment")
            else:
                topology.notes.append(f"{name}: {key} comes from {reference['name']}, not here: set {key} in your "
                                      "environment to give it")  # fmt: skip
        else:
            topology.notes.append(f"{name}: the value of {key} is not emulated")
    for source in container.get("envFrom", []):
        reference = source.get("secretRef") or source.get("configMapRef") or {}
        topology.notes.append(f"{name}: the environment from {reference.get('name')} is not here (your own is used)")
    # Where the pod has a writable /tmp: the process's own folder; HOME stays the user's (the local
    # MLflow store is under it).
    env.pop("HOME", None)
    return env


def _readiness(probe: Mapping[str, Any] | None, process: Process) -> tuple[int, str | None] | None:
    if not probe:
        http = process.http_port
        return (http, None) if http and process.program != "pipelines" else None
    if "httpGet" in probe:
        port = _container_port(probe["httpGet"]["port"], process)
        return (process.ports[port], str(probe["httpGet"].get("path", "/"))) if port in process.ports else None
    if "tcpSocket" in probe:
        port = _container_port(probe["tcpSocket"]["port"], process)
        return (process.ports[port], None) if port in process.ports else None
    first = next(iter(process.ports.values()), None)  # an exec probe (redis-cli ping): the port opens
    return (first, None) if first else None


def _container_port(port: int | str, process: Process) -> int:
    return process.port_names[port] if isinstance(port, str) else int(port)


def _metrics_endpoint(process: Process) -> tuple[int, str] | None:
    """Where Prometheus reads the server: --metrics_port if it has one, else its HTTP port."""
    for arg in process.command:
        if arg.startswith("--metrics_port=") and arg.split("=", 1)[1].isdigit():
            port = int(arg.split("=", 1)[1])
            if port in process.ports:
                return process.ports[port], "/metrics"
    http = process.http_port
    return (http, "/metrics") if http else None


# -- Services and addresses


def _service(document: dict[str, Any], options: Options, topology: Topology) -> None:
    spec = document["spec"]
    selector = spec.get("selector") or {}
    ports: dict[int, int | str] = {int(p["port"]): p.get("targetPort", p["port"]) for p in spec.get("ports", [])}
    _expose(document["metadata"]["name"], selector, ports, options, topology)


def _expose(name: str, selector: Mapping[str, str], ports: Mapping[int, int | str], options: Options,
            topology: Topology) -> None:  # fmt: skip
    if not selector:
        return
    chosen = [p for p in topology.long_running if all(p.labels.get(k) == v for k, v in selector.items())]
    if not chosen:
        return
    process = chosen[0]  # one replica: the first process the selector picks
    for port, target in ports.items():
        container_port = process.port_names.get(target, 0) if isinstance(target, str) else int(target)
        local = process.ports.get(container_port)
        if local is None:
            continue
        address = f"127.0.0.1:{local}"
        for host in hosts(name, options.namespace):
            topology.services.setdefault(f"{host}:{port}", address)
            # The host alone: port 80 where the Service has it (a URL's default), else its first port.
            if port == 80:
                topology.services[host] = address
            else:
                topology.services.setdefault(host, address)


def hosts(name: str, namespace: str) -> list[str]:
    return [f"{name}.{namespace}.svc.cluster.local", f"{name}.{namespace}.svc", f"{name}.{namespace}", name]


def _rewrite(process: Process, topology: Topology, options: Options) -> None:
    folder = options.workdir / process.name
    process.command = [_local_arg(arg, process, topology, folder) for arg in process.command]
    for index, arg in enumerate(process.command[:-1]):  # --port 6379, as redis-server takes it
        value = process.command[index + 1]
        if re.fullmatch(r"--[a-z_-]*port", arg) and value.isdigit() and int(value) in process.ports:
            process.command[index + 1] = str(process.ports[int(value)])
    process.env = {key: _local_value(value, topology, folder) for key, value in process.env.items()}
    if process.program == "server":
        process.command.append("--host=127.0.0.1")
        process.env.setdefault("MLPATTERNS_DOWNLOAD_DIR", str(folder / "downloads"))
        process.env.setdefault("MLPATTERNS_PREDICTION_LOG_SPOOL_DIR", str(folder / "spool"))
        tracking = process.env.get("MLFLOW_TRACKING_URI", "")
        if re.search(r"\.svc(\.cluster\.local)?(:\d+)?(/|$)", tracking):
            del process.env["MLFLOW_TRACKING_URI"]
            topology.notes.append(f"{process.name}: MLFLOW_TRACKING_URI {tracking} is a cluster's: the local MLflow "
                                  "store (~/.mlpatterns, where run-local registers) is used")  # fmt: skip
    elif process.program == "redis":
        process.command += ["--bind", "127.0.0.1", "--dir", str(folder)]
    elif process.program == "pipelines":
        for index, arg in enumerate(process.command):
            given = re.fullmatch(r"--param=tracking_uri=(.+)", arg)
            if given and re.search(r"\.svc(\.cluster\.local)?(:\d+)?(/|$)", given[1]):
                process.command[index] = f"--param=tracking_uri={options.local_tracking_uri}"
                topology.notes.append(f"{process.name}: the tracking server {given[1]} is a cluster's: the local "
                                      "MLflow store (~/.mlpatterns, where run-local registers) is used")  # fmt: skip
    for value in [*process.command, *process.env.values()]:
        for host in re.findall(r"://([a-z0-9.-]+\.svc(?:\.cluster\.local)?)", value):
            topology.notes.append(f"{process.name}: {host} is not a Service of this chart: not reachable here")


def _local_arg(arg: str, process: Process, topology: Topology, folder: Path) -> str:
    match = re.fullmatch(r"(--[a-z_]*port)=(\d+)", arg)
    if match and int(match[2]) in process.ports:
        return f"{match[1]}={process.ports[int(match[2])]}"
    return _local_value(arg, topology, folder)


def _local_value(value: str, topology: Topology, folder: Path) -> str:
    """A value with every in-cluster address of a Service made local: in a URL (after :// or an
    @), or as a whole host[:port] value (--predictor_host=svc.ns); a bare name with no dot or
    port is left alone (--model_name=demo-x is a name, not an address)."""
    for host in sorted({key.split(":")[0] for key in topology.services}, key=len, reverse=True):

        def local(match: re.Match[str], host: str = host) -> str:
            port = match["port"] or "80"
            address = topology.services.get(f"{host}:{port}") or topology.services.get(host)
            return f"{match['lead']}{address}" if address else match[0]

        in_url = rf"(?P<lead>://|@){re.escape(host)}(?::(?P<port>\d+))?(?![\w.-])"
        value = re.sub(in_url, local, value)
        whole = rf"(?P<lead>^|=){re.escape(host)}(?::(?P<port>\d+))?$"
        if "." in host or re.search(rf"{re.escape(host)}:\d+$", value):
            value = re.sub(whole, local, value)
    # The pod's own paths (exactly these: a user's path under /tmp is left alone).
    return re.sub(r"(?<![\w./-])(/mnt/models|/tmp/models?|/tmp/helm-test)(?![\w.-])",
                  lambda match: f"{folder}{match[1]}", value)  # fmt: skip


def _fallback(documents: list[dict[str, Any]], options: Options, topology: Topology) -> str | None:
    """The chart's front door when it has no routes: its InferenceGraph, or else its (first)
    InferenceService, or else its first Service in front of a model server."""
    for kind in ("InferenceGraph", "InferenceService"):
        for document in documents:
            if document.get("kind") == kind:
                name = document["metadata"]["name"]
                return f"{name}.{options.namespace}.svc.cluster.local"
    for document in documents:
        if document.get("kind") == "Service" and not _is_test_hook(document):
            host = f"{document['metadata']['name']}.{options.namespace}.svc.cluster.local"
            address = topology.services.get(host) or next(
                (address for key, address in topology.services.items() if key.startswith(f"{host}:")), None
            )
            process = next((p for p in topology.processes if address and p.http_port == int(address.split(":")[1])),
                           None)  # fmt: skip
            if process is not None and process.program == "server":
                return host
    return None
