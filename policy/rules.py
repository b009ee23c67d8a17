"""The invariants a reviewer would otherwise check by hand, over the resources a stack registers.

Each rule takes every resource of the stack (type, name, input properties) and returns the
violations it finds; policy/__main__.py wraps them as Pulumi stack policies, the tests call them on
what the real program registers.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SERVICE = "kubernetes:serving.knative.dev/v1:Service"
KAFKA_SOURCE_TYPES = ("kubernetes:sources.knative.dev/v1:KafkaSource",
                      "kubernetes:sources.knative.dev/v1beta1:KafkaSource")
TOPIC = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
CHART = "kubernetes:helm.sh/v4:Chart"
KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
AGENT_POOL = "azure-native:containerservice:AgentPool"
DATA_COLLECTION_RULE_ASSOCIATION = "azure-native:monitor:DataCollectionRuleAssociation"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CONFIG_MAP_PATCH = "kubernetes:core/v1:ConfigMapPatch"
MAX_SCALE = "autoscaling.knative.dev/max-scale"
MIN_SCALE = "autoscaling.knative.dev/min-scale"
# eventing-kafka-broker knative-v1.23.0 control-plane/pkg/autoscaler/autoscaler_api.go, keda/keda.go
CONSUMER_SCALING = "autoscaling.eventing.knative.dev/"
KEDA_CLASS = "keda.autoscaling.knative.dev"
VISIBILITY = "networking.knative.dev/visibility"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
# What Pod Security's `restricted` level asks of every container.
RESTRICTED_CONTAINER = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
PINNED_RELEASE_URL = re.compile(r"/download/knative-v\d+\.\d+\.\d+/")
PINNED_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    dependencies: frozenset[str] = frozenset()     # the URNs of what its inputs come from


@dataclass(frozen=True)
class Violation:
    resource: Resource
    message: str


def _spec(r: Resource) -> Mapping[str, Any]:
    return r.props.get("spec") or {}


def _meta(r: Resource) -> Mapping[str, Any]:
    return r.props.get("metadata") or {}


def _partition_bounds(resources: list[Resource]) -> list[tuple[Resource, int]]:
    """Each KafkaSource with the partitions of the smallest topic it reads (0: topic not in the stack)."""
    partitions = {_meta(t).get("name", ""): int(_spec(t).get("partitions", 1)) for t in resources if t.type == TOPIC}
    return [(source, min((partitions.get(t, 0) for t in _spec(source).get("topics", [])), default=0))
            for source in resources if source.type in KAFKA_SOURCE_TYPES]


def _keda_scaled(source: Resource) -> Mapping[str, str] | None:
    """The consumer-scaling annotations of a KafkaSource KEDA scales; None for one with fixed consumers."""
    annotations = _meta(source).get("annotations") or {}
    if annotations.get(CONSUMER_SCALING + "class") != KEDA_CLASS:
        return None
    return {k.removeprefix(CONSUMER_SCALING): v for k, v in annotations.items() if k.startswith(CONSUMER_SCALING)}


def consumers_within_partitions(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    found = []
    for source, bound in _partition_bounds(resources):
        spec = _spec(source)
        scaled = _keda_scaled(source)
        # KEDA sets the consumers up to its max-scale, and eventing-kafka then ignores spec.consumers.
        consumers = int(scaled.get("max-scale", 0)) if scaled is not None else int(spec.get("consumers", 1))
        if bound and consumers > bound:
            found.append(Violation(source, f"consumers {consumers} exceed the {bound} partitions of "
                                           f"{spec.get('topics')}: the extra consumers sit idle"))
    return found


def _template_annotations(source: Resource, services: Mapping[tuple[Any, Any], Resource]
                          ) -> tuple[Resource, Mapping[str, Any]] | None:
    """The Service a KafkaSource delivers to, and its revision template's annotations."""
    ref = (_spec(source).get("sink") or {}).get("ref") or {}
    service = services.get((ref.get("namespace"), ref.get("name")))
    if service is None:
        return None
    return service, ((_spec(service).get("template") or {}).get("metadata") or {}).get("annotations") or {}


def _services(resources: list[Resource]) -> dict[tuple[Any, Any], Resource]:
    return {(_meta(s).get("namespace"), _meta(s).get("name")): s for s in resources if s.type == SERVICE}


def ordered_max_scale_within_partitions(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    services = _services(resources)
    found = []
    for source, bound in _partition_bounds(resources):
        spec = _spec(source)
        if spec.get("ordering", "ordered") != "ordered":
            continue
        sink = _template_annotations(source, services)
        if sink is None or not bound:
            continue
        service, annotations = sink
        max_scale = annotations.get(MAX_SCALE)
        if max_scale is None or int(max_scale) > bound:
            found.append(Violation(service, f"max-scale {max_scale or 'unbounded'} with ordered delivery from "
                                            f"{bound} partitions: replicas beyond {bound} never get an event"))
    return found


def warm_functions_keep_a_consumer(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    """A function kept warm (min-scale 1 or more) says its latency matters; a consumer group KEDA scales to zero
    in front of it makes the first event after a quiet spell wait for KEDA's next lag poll and for a consumer
    to join the group, whatever the warm replicas."""
    services = _services(resources)
    found = []
    for source in (r for r in resources if r.type in KAFKA_SOURCE_TYPES):
        scaled = _keda_scaled(source)
        sink = _template_annotations(source, services)
        if scaled is None or int(scaled.get("min-scale", 0)) > 0 or sink is None:
            continue
        warm = int(sink[1].get(MIN_SCALE, 0))
        if warm > 0:
            found.append(Violation(source, f"consumers scale to zero in front of {sink[0].name}, kept warm at "
                                           f"min-scale {warm}: give it consumerScaling.minConsumers 1 or more"))
    return found


def aks_locked_down(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    found = []
    for aks in (r for r in resources if r.type == MANAGED_CLUSTER):
        if aks.props.get("disableLocalAccounts") is not True:
            found.append(Violation(aks, "local accounts are enabled: a static admin credential exists"))
        aad = aks.props.get("aadProfile") or {}
        if not (aad.get("managed") and aad.get("enableAzureRBAC")):
            found.append(Violation(aks, "Entra ID integration with Azure RBAC is off"))
        if aks.props.get("enableRBAC") is not True:
            found.append(Violation(aks, "Kubernetes RBAC is off: any signed-in identity may do anything there"))
    return found


def aks_api_server_restricted(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    if config.get("allowOpenApiServer"):
        return []
    found = []
    for aks in (r for r in resources if r.type == MANAGED_CLUSTER):
        ranges = (aks.props.get("apiServerAccessProfile") or {}).get("authorizedIPRanges") or []
        if not ranges or "0.0.0.0/0" in ranges:
            found.append(Violation(aks, f"the API server is open to the internet (authorized ranges {ranges})"))
    return found


def upstream_versions_pinned(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    found = []
    for r in resources:
        if r.type == CONFIG_GROUP:
            loose = [f for f in r.props.get("files", []) if not PINNED_RELEASE_URL.search(f)]
            if loose:
                found.append(Violation(r, f"release files not pinned to a knative-vX.Y.Z release: {loose}"))
        elif r.type == CHART and not PINNED_VERSION.match(str(r.props.get("version", ""))):
            found.append(Violation(r, f"chart version {r.props.get('version')!r} is not an exact X.Y.Z release"))
        elif r.type == KAFKA and not PINNED_VERSION.match(str((_spec(r).get("kafka") or {}).get("version", ""))):
            found.append(Violation(r, "spec.kafka.version is not an exact X.Y.Z release"))
    return found


def kafka_authentication_required(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    if config.get("allowUnauthenticated"):
        return []
    found = []
    for kafka in (r for r in resources if r.type == KAFKA):
        listeners = (_spec(kafka).get("kafka") or {}).get("listeners") or []
        open_ones = [li.get("name") for li in listeners if not (li.get("tls") and li.get("authentication"))]
        if open_ones or not listeners:
            found.append(Violation(kafka, f"listeners without TLS and authentication: {open_ones}"))
    return found


def _pod(service: Resource) -> Mapping[str, Any]:
    return (_spec(service).get("template") or {}).get("spec") or {}


def function_pods_restricted(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    found = []
    for service in (r for r in resources if r.type == SERVICE):
        pod = _pod(service)
        for c in pod.get("containers") or []:
            context = c.get("securityContext") or {}
            loose = sorted(k for k, v in RESTRICTED_CONTAINER.items() if context.get(k) != v)
            if loose:
                found.append(Violation(service, f"container securityContext not restricted: {loose}"))
            resources_ = c.get("resources") or {}
            missing = [f"{kind}.{what}" for kind in ("requests", "limits") for what in ("cpu", "memory")
                       if not (resources_.get(kind) or {}).get(what)]
            if missing:
                found.append(Violation(service, f"container without {missing}: its cost and blast radius are open"))
        token = pod.get("automountServiceAccountToken")
        if token is True:
            # serving pkg/apis/serving/fieldmask.go (knative-v1.23.0) takes the field only as false.
            found.append(Violation(service, "automountServiceAccountToken true: Knative's webhook refuses it"))
        elif token is None and not pod.get("serviceAccountName"):
            found.append(Violation(service, "a service account token is mounted that nothing uses"))
    return found


def functions_cluster_local(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    if config.get("allowPublic"):
        return []
    return [Violation(s, "the function is public: anyone who knows its host may post events past Kafka")
            for s in resources if s.type == SERVICE
            and (_meta(s).get("labels") or {}).get(VISIBILITY) != "cluster-local"]


def _pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] != "latest"


def function_images_pinned(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    if config.get("allowUnpinnedImages"):
        return []
    return [Violation(s, f"image {c.get('image')!r} has neither a digest nor a version tag")
            for s in resources if s.type == SERVICE
            for c in _pod(s).get("containers") or [] if not _pinned(str(c.get("image", "")))]


def function_namespaces_restricted(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    if config.get("allowUnlabelledNamespaces"):
        return []
    labels = {_meta(n).get("name"): _meta(n).get("labels") or {} for n in resources if n.type == NAMESPACE}
    return [Violation(s, f"namespace {_meta(s).get('namespace')!r} does not enforce Pod Security 'restricted'")
            for s in resources if s.type == SERVICE
            and (labels.get(_meta(s).get("namespace")) or {}).get(PSA_ENFORCE) != "restricted"]


def functions_network_isolated(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    isolated = {(_meta(p).get("namespace"), (_spec(p).get("podSelector") or {}).get("matchLabels", {}).get(
        "serving.knative.dev/service")) for p in resources if p.type == NETWORK_POLICY
        if "Ingress" in (_spec(p).get("policyTypes") or [])}
    return [Violation(s, "no NetworkPolicy limits who reaches the function's pods")
            for s in resources if s.type == SERVICE
            and (_meta(s).get("namespace"), _meta(s).get("name")) not in isolated]


def knative_secure_pod_defaults(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    if not any(r.type == SERVICE for r in resources):
        return []
    features = [r for r in resources if r.type == CONFIG_MAP_PATCH and _meta(r).get("name") == "config-features"
                and _meta(r).get("namespace") == "knative-serving"]
    if any((r.props.get("data") or {}).get("secure-pod-defaults") == "enabled" for r in features):
        return []
    service = next(r for r in resources if r.type == SERVICE)
    return [Violation(service, "Knative's secure-pod-defaults is off: queue-proxy and revisions get no "
                               "restricted securityContext by default")]


def aks_observed_and_hardened(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    found = []
    # The association's scope is the cluster's id, unknown before the cluster exists (a first preview): the
    # dependency Pulumi records names the cluster either way.
    associated = {urn for r in resources if r.type == DATA_COLLECTION_RULE_ASSOCIATION
                  and r.props.get("associationName") == "ContainerInsightsExtension" for urn in r.dependencies}
    for aks in (r for r in resources if r.type == MANAGED_CLUSTER):
        addons = aks.props.get("addonProfiles") or {}
        for addon, what in (("omsagent", "container insights (logs and metrics)"), ("azurepolicy", "Azure Policy")):
            if not (addons.get(addon) or {}).get("enabled"):
                found.append(Violation(aks, f"{what} add-on is off"))
        # With managed-identity auth the agents collect only what a rule associated under this name tells them
        # (what `az aks enable-addons` creates; azure-cli acs/addonconfiguration.py).
        if (addons.get("omsagent") or {}).get("enabled") and aks.urn not in associated:
            found.append(Violation(aks, "container insights collects nothing: no data collection rule "
                                        "association 'ContainerInsightsExtension' on the cluster"))
    if not config.get("allowNoEncryptionAtHost"):
        pools = [(aks, p) for aks in resources if aks.type == MANAGED_CLUSTER
                 for p in aks.props.get("agentPoolProfiles") or []]
        pools += [(p, p.props) for p in resources if p.type == AGENT_POOL]
        found += [Violation(owner, f"node pool {pool.get('name') or owner.name} without encryption at host")
                  for owner, pool in pools if pool.get("enableEncryptionAtHost") is not True]
    return found


RULES = {
    "kafka-source-consumers-within-partitions": (
        consumers_within_partitions, "A KafkaSource has no more consumers than its topic has partitions."),
    "ordered-max-scale-within-partitions": (
        ordered_max_scale_within_partitions,
        "With ordered delivery a Service's max-scale is set and at most the partitions of the topic feeding it."),
    "warm-functions-keep-a-consumer": (
        warm_functions_keep_a_consumer,
        "A function kept warm (Knative min-scale 1 or more) keeps a consumer too: KEDA's min-scale at least 1."),
    "aks-locked-down": (aks_locked_down, "AKS uses Kubernetes RBAC, Entra ID with Azure RBAC, and no local accounts."),
    "aks-api-server-restricted": (
        aks_api_server_restricted, "The AKS API server accepts only authorized IP ranges (config allowOpenApiServer)."),
    "kafka-authentication-required": (
        kafka_authentication_required,
        "Every Kafka listener is encrypted and authenticated (config allowUnauthenticated)."),
    "upstream-versions-pinned": (
        upstream_versions_pinned, "Every upstream release (manifests, chart, Kafka) is pinned to an exact version."),
    "function-pods-restricted": (
        function_pods_restricted,
        "Every function container is restricted, has requests and limits, and mounts no unused token."),
    "functions-cluster-local": (
        functions_cluster_local, "Every function is cluster-local (config allowPublic)."),
    "function-images-pinned": (
        function_images_pinned, "Every function image has a digest or a version tag (config allowUnpinnedImages)."),
    "function-namespaces-restricted": (
        function_namespaces_restricted,
        "Every function's namespace enforces Pod Security 'restricted' (config allowUnlabelledNamespaces)."),
    "functions-network-isolated": (
        functions_network_isolated, "Every function's pods are selected by an ingress NetworkPolicy."),
    "knative-secure-pod-defaults": (
        knative_secure_pod_defaults, "Knative's secure-pod-defaults is enabled where functions run."),
    "aks-observed-and-hardened": (
        aks_observed_and_hardened,
        "AKS runs container insights with its data collection rule associated and Azure Policy, and encrypts "
        "every pool at host (config allowNoEncryptionAtHost)."),
}


def check(resources: Iterable[Resource], config: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Every violation of every rule, as 'rule: type name: message'."""
    listed = list(resources)
    return [f"{rule}: {v.resource.type} {v.resource.name}: {v.message}"
            for rule, (validate, _) in RULES.items()
            for v in validate(listed, (config or {}).get(rule, {}))]
