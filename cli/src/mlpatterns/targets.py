"""What the kit targets: the oldest release of each platform piece its charts are written and
checked for, and the API versions they use. `mlpatterns version` prints this table and the chart
READMEs' requirements (charts/install_docs.py) quote it, so the two never disagree."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import metadata


@dataclass(frozen=True)
class Target:
    name: str
    minimum: str  # the oldest release supported
    apis: str  # the API versions the charts use, and where their schemas come from

    @property
    def or_newer(self) -> str:
        return f"{self.name} {self.minimum} or newer"


KUBERNETES = Target("Kubernetes", "1.30", "core kinds validated against 1.30's schemas (kubernetes-validate)")
HELM = Target("Helm", "3.8", "chart apiVersion v2; rendered and linted here by Helm's own Go SDK")
KSERVE = Target(
    "KServe", "0.15", "serving.kserve.io/v1beta1 InferenceService, v1alpha1 InferenceGraph and ServingRuntime; "
    "schemas of KServe 0.20's CRDs"
)  # fmt: skip
ISTIO = Target("Istio", "1.22", "networking.istio.io/v1 VirtualService and DestinationRule, security.istio.io/v1")
GATEWAY_API = Target("Gateway API", "1.2", "gateway.networking.k8s.io/v1 HTTPRoute")
KEDA = Target("KEDA", "2.10", "keda.sh/v1alpha1 ScaledObject and TriggerAuthentication")
KUBEFLOW_PIPELINES = Target("Kubeflow Pipelines", "2.0", "pipelines compiled to KFP's v2 IR")

TARGETS = (KUBERNETES, HELM, KSERVE, ISTIO, GATEWAY_API, KEDA, KUBEFLOW_PIPELINES)


def kit_version() -> str:
    return metadata.version("mlpatterns")


def helm_sdk_version() -> str:
    """The Helm release whose Go SDK renders and lints charts here (helm-python-sdk embeds it)."""
    import helm_python

    return str(helm_python.helm_sdk_version())


def as_text() -> str:
    width = max(len(target.name) for target in TARGETS)
    lines = [f"mlpatterns {kit_version()} (renders with Helm SDK {helm_sdk_version()})", "targets:"]
    lines += [f"  {target.name:<{width}}  {target.minimum + '+':<6} {target.apis}" for target in TARGETS]
    return "\n".join(lines)


def as_json() -> str:
    document = {"version": kit_version(), "helmSdk": helm_sdk_version(),
                "targets": [asdict(target) for target in TARGETS]}  # fmt: skip
    return json.dumps(document, indent=2)
