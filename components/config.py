"""Stack configuration: parsed once into typed, validated objects.

Every rule here runs before any resource is registered. A refusal raises ConfigError naming the
config key, the value given and what is allowed, so a bad stack file fails in `pulumi preview`
instead of half-way through `pulumi up`.
"""
from __future__ import annotations

import difflib
import ipaddress
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
from pulumi.errors import RunError

from components.settings import (
    DNS1123,
    DNS1123_SUBDOMAIN,
    PROJECT,
    ConfigError,
    Section,
    iso_duration_seconds,
    yaml_text,
)
from components.upstream import CONFIG_FIELDS, STRIMZI_KAFKA_VERSIONS, Upstream

# --- value types -------------------------------------------------------------------------------

DNS_LABEL_MAX = 63          # a name that becomes a DNS label: Namespace, Service, pod host name, label value
DNS_SUBDOMAIN_MAX = 253     # any other object name
KAFKA_TOPIC_MAX = 249       # Kafka's longest topic name (org.apache.kafka.common.internals.Topic)
DEAD_LETTER_SUFFIX = "-dlq"
# The KafkaUser of a function's load producer: '<function>.producer'. A function name has no '.', so it
# cannot collide with another function's KafkaUser (named after the function).
LOAD_PRODUCER_SUFFIX = ".producer"
# What Strimzi names after the Kafka cluster: the bootstrap Service, the entity operator and pods
# `<cluster>-<pool>-<node id>` of the node pools components/strimzi.py declares. Each must be a DNS label.
KAFKA_POOL_NAMES = ("dual-role", "controllers", "brokers")
MAX_CONTROLLERS, MAX_BROKERS = 9, 100
KAFKA_POD_SUFFIXES = tuple(f"-{pool}-{MAX_CONTROLLERS + MAX_BROKERS - 1}" for pool in KAFKA_POOL_NAMES)
KAFKA_DERIVED_SUFFIXES = ("-kafka-bootstrap", "-entity-operator", *KAFKA_POD_SUFFIXES)
KAFKA_NAME_MAX = DNS_LABEL_MAX - max(len(suffix) for suffix in KAFKA_DERIVED_SUFFIXES)
INT32_MAX = 2**31 - 1       # Knative parses scale annotations as 32-bit integers
INT64_MAX = 2**63 - 1       # Kafka's long configs (retention.ms)
KNATIVE_TARGET_MIN = 0.01   # serving pkg/apis/autoscaling/register.go TargetMin
# How close a config namespace must be to the project's to count as a misspelling of it (difflib ratio):
# 'knative-kafak' is 0.92; 'knative' (0.70), 'kafka' and every provider's namespace stay below.
PROJECT_TYPO_CUTOFF = 0.75
# A container image reference (distribution/reference grammar): optional registry host[:port],
# lower-case path components, optional tag and digest. Knative resolves it to a digest and fails otherwise.
IMAGE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d+)?/)?"
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
    r"(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$", re.ASCII)
AZURE_REGION = re.compile(r"^[a-z0-9]+$", re.ASCII)
# Azure takes more (Unicode letters), an editor's JSON Schema only ASCII: ASCII letters, digits, '-', '_', '.', '()'.
RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$", re.ASCII)
CONSUMER_GROUP = re.compile(r"^[\w.-]{1,249}$", re.ASCII)
SEMVER = re.compile(r"^\d+\.\d+\.\d+$", re.ASCII)
K8S_MINOR = re.compile(r"^1\.(\d+)$", re.ASCII)
QUANTITY = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$", re.ASCII)     # a PVC must request more than zero
# RFC 5737 documentation ranges: an example in a stack file, never a real deployer's address.
DOCUMENTATION_NETWORKS = tuple(ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
NIL_UUID = "00000000-0000-0000-0000-000000000000"
# AKS upgrade channels that move the minor version themselves; under them kubernetesVersion is theirs.
MINOR_UPGRADE_CHANNELS = ("stable", "rapid")
AGENT_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$", re.ASCII)
SYSTEM_POOL_NAME = "system"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$", re.ASCII)
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$", re.ASCII)
# Set by Knative in every revision (serving pkg/apis/serving/k8s_validation.go reservedEnvVars).
KNATIVE_RESERVED_ENV = ("PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION")
# Taken by the queue-proxy sidecar (serving k8s_validation.go reservedPorts).
QUEUE_PROXY_PORTS = (8012, 8013, 8022, 9090, 9091)
# Knative's default container-concurrency-max-limit (config-defaults).
CONTAINER_CONCURRENCY_MAX = 1000
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.ASCII)
# What an Azure role assignment may be given to (Microsoft.Authorization roleAssignments principalType).
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal")


def refuse_placeholders(s: Section, key: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """values, unless one is an example left in a stack file (Pulumi.prod.yaml ships them marked REPLACE).

    Azure takes both without complaint, and the cluster is then out of reach: the nil UUID as an admin group
    grants nobody, an RFC 5737 documentation range as an authorized range admits nobody.
    """
    for i, value in enumerate(values):
        if key == "adminGroupObjectIds":
            if value.lower() == NIL_UUID:
                raise s.fail(f"{key}[{i}]", value, "the object id of an Entra ID group of cluster admins "
                                                   "(az ad group show -g <name> --query id)")
        elif key == "authorizedIpRanges":
            network = ipaddress.IPv4Network(value, strict=False)
            if any(network.subnet_of(d) for d in DOCUMENTATION_NETWORKS):
                raise s.fail(f"{key}[{i}]", value, f"your deployers' and CI's egress ranges; {value} is a "
                                                   "documentation range (RFC 5737), not a real address")
        else:
            raise KeyError(f"no placeholder rule for {key}")
    return values


# --- the typed configuration ------------------------------------------------------------------

@dataclass(frozen=True)
class DispatcherSettings:
    """eventingKafka: how many consumers a KafkaSource dispatcher pod takes, and its memory request."""
    pod_capacity: int          # POD_CAPACITY on the kafka-controller Deployment
    memory: int                # MiB requested by each kafka-source-dispatcher pod


@dataclass(frozen=True)
class DeclaredCapacity:
    """vCPUs (millicores) and memory (MiB) the capacity table does not know: of one VM of a user pool's
    size, or what an existing cluster's nodes give the workload in all."""
    cpu: int
    memory: int


@dataclass(frozen=True)
class NodePool:
    name: str                            # the AKS agent pool name; a new one replaces the pool
    vm_size: str
    min_count: int
    max_count: int
    # One VM's vCPUs and memory, for a vmSize components/capacity.py's table lacks.
    capacity: DeclaredCapacity | None = None


@dataclass(frozen=True)
class Monitoring:
    """Container insights: logs and metrics of the cluster to a Log Analytics workspace."""
    enabled: bool
    retention_days: int


@dataclass(frozen=True)
class Principal:
    """An Entra ID identity given the deployer's Kubernetes role, such as CI's service principal."""
    object_id: str
    type: str                            # "User", "Group" or "ServicePrincipal"


@dataclass(frozen=True)
class DeployerAccess:
    """Kubernetes access for whoever runs `pulumi up` on an AKS stack (Azure RBAC, no local accounts)."""
    grant: bool                          # assign "AKS RBAC Cluster Admin" on the cluster to the caller
    principal_type: str                  # of the caller: "User" or "ServicePrincipal"
    wait_seconds: int                    # how long to wait for the access to take effect
    additional_principals: tuple[Principal, ...] = ()   # given the same role, whatever `grant` says

    def besides_deployer(self, index: int, deployer_object_id: str) -> str:
        """The object id of additional principal `index`, refused when the deployer's own assignment already
        holds it: Azure takes one assignment of a principal, role and scope (RoleAssignmentExists)."""
        object_id = self.additional_principals[index].object_id
        if object_id == deployer_object_id:
            refused = Section(f"{PROJECT}:cluster.deployerAccess.additionalPrincipals[{index}]", {}).fail(
                "objectId", object_id, "an identity other than the one deployerAccess.grant made cluster admin (the "
                "first deployer keeps that role): it holds the role already, and Azure refuses a second assignment "
                "of the same role at the same scope (RoleAssignmentExists)")
            # Raised while Pulumi resolves an input: the SDK wraps a ValueError (a ConfigError is one) in its own
            # messages and the run ends with a traceback; a bare RunError is printed as it is.
            raise RunError(str(refused))
        return object_id


@dataclass(frozen=True)
class ClusterConfig:
    mode: str                            # "aks" | "existing"
    location: str
    resource_group: str
    kubernetes_version: str
    sku_tier: str
    availability_zones: tuple[str, ...]
    system_pool: NodePool
    user_pool: NodePool | None        # None: one pool runs everything (small stacks)
    admin_group_object_ids: tuple[str, ...]
    authorized_ip_ranges: tuple[str, ...]
    allow_public_api_server: bool
    login_mode: str
    upgrade_channel: str
    node_os_upgrade_channel: str
    kubeconfig: str | None            # existing mode: path to a kubeconfig file
    context: str | None               # existing mode: context inside it
    deployer_access: DeployerAccess
    gateway_service_type: str | None  # of Kourier's gateway Service; None: derived from the functions
    monitoring: Monitoring
    azure_policy: bool                # the Azure Policy add-on (Gatekeeper) audits the cluster
    encryption_at_host: bool          # both pools' VM disks and caches encrypted on the host
    # existing mode: what the cluster's nodes give the workload in all; None: the capacity plan is not enforced
    capacity: DeclaredCapacity | None = None


@dataclass(frozen=True)
class KafkaConfig:
    name: str
    namespace: str
    dual_role: bool                      # one pool doing controller + broker work
    controllers: int
    brokers: int
    storage: str                         # "ephemeral" | "persistent-claim"
    storage_size: str
    storage_class: str | None
    replication_factor: int              # for internal topics and the default of every topic
    min_insync_replicas: int
    authentication: str                  # "none" | "scram-sha-512"
    ca_validity_days: int                # of the Pulumi-owned cluster CA (authentication on)
    protect: bool
    ready_timeout_seconds: int
    broker_resources: Resources          # of each broker (and each dual-role node)
    controller_resources: Resources      # of each KRaft controller of a split cluster
    # Strimzi's Kafka Exporter (consumer lag per group and partition as Prometheus metrics on port 9404 of
    # its pod; scripts/scale-demo reads them): its container resources, or None for no exporter.
    exporter: Resources | None = None

    @property
    def authenticated(self) -> bool:
        return self.authentication != "none"


@dataclass(frozen=True)
class TopicConfig:
    name: str
    partitions: int
    replicas: int
    min_insync_replicas: int
    retention_ms: int | None


@dataclass(frozen=True)
class Autoscaling:
    klass: str                           # "kpa" | "hpa"
    metric: str
    target: float | None
    min_scale: int | None
    max_scale: int | None             # None: unbounded
    initial_scale: int | None
    window: str | None
    scale_down_delay: str | None
    target_utilization_percentage: int | None

    CLASS_ANNOTATION = {"kpa": "kpa.autoscaling.knative.dev", "hpa": "hpa.autoscaling.knative.dev"}

    def annotations(self) -> dict[str, str]:
        """Revision-template annotations; Knative wants every value as a string."""
        prefix = "autoscaling.knative.dev/"
        values: dict[str, Any] = {
            "class": self.CLASS_ANNOTATION[self.klass],
            "metric": self.metric,
            "target": self.target,
            "min-scale": self.min_scale,
            "max-scale": self.max_scale,
            "initial-scale": self.initial_scale,
            "window": self.window,
            "scale-down-delay": self.scale_down_delay,
            "target-utilization-percentage": self.target_utilization_percentage,
        }
        return {prefix + k: _annotation_value(v) for k, v in values.items() if v is not None}


def _annotation_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class Delivery:
    retry: int
    backoff_policy: str
    backoff_delay: str
    timeout: str


# eventing-kafka-broker knative-v1.23.0 control-plane/pkg/autoscaler/autoscaler_api.go: the KafkaSource
# annotations the source reconciler copies to its ConsumerGroup (autoscaler/keda/keda.go
# SetAutoscalingAnnotations), whose ScaledObject KEDA then drives; class keda/keda.go AutoscalerClass.
CONSUMER_SCALING_ANNOTATION = "autoscaling.eventing.knative.dev/"
KEDA_CLASS = "keda.autoscaling.knative.dev"
# Upstream scales a source without a class annotation whenever the feature is on (keda/keda.go:263-286 IsEnabled),
# so a source with fixed consumers says so: while the stack turns scaling off (Pulumi updates the sources before it
# drops the features patch), and on a cluster whose feature someone else turned on.
FIXED_CONSUMERS = {CONSUMER_SCALING_ANNOTATION + "class": "disabled"}


@dataclass(frozen=True)
class LagTrigger:
    """How KEDA reads a consumer group's lag and acts on it. Stack-wide in config-kafka-autoscaler and the
    default of every function's; each value an int32, as eventing-kafka parses it (autoscaler/config.go
    NewConfigFromMap and keda/resources.go GetInt32ValueFromMap: strconv.ParseInt(v, 10, 32))."""
    min_consumers: int
    lag_threshold: int
    polling_interval: int              # seconds between KEDA's lag reads
    cooldown_period: int               # seconds without lag before KEDA takes the last consumer away

    def values(self) -> dict[str, int]:
        """By the keys config-kafka-autoscaler and the annotations share (autoscaler/config.go
        convertConfigKeyToAutoscalingAnnotation)."""
        return {"min-scale": self.min_consumers, "lag-threshold": self.lag_threshold,
                "polling-interval": self.polling_interval, "cooldown-period": self.cooldown_period}


@dataclass(frozen=True)
class ConsumerScalingConfig:
    """consumerScaling: lag-driven consumers for every KafkaSource (eventing-kafka's alpha KEDA autoscaler)."""
    keda: str                          # "addon" (AKS), "helm" (installed here), "present" (the cluster has it)
    keda_namespace: str                # where KEDA's operator reads lag from: Kafka's listener must admit it
    defaults: LagTrigger

    def kafka_features(self) -> dict[str, str]:
        """config-kafka-features (control-plane/pkg/apis/config/features.go: `controller-autoscaler-keda`)."""
        return {"controller-autoscaler-keda": "enabled"}

    def autoscaler_data(self) -> dict[str, str]:
        """config-kafka-autoscaler: the defaults of a KafkaSource that sets no annotation of its own (the
        shipped 100-config-kafka-autoscaler.yaml holds class and these keys); max-scale stays upstream's 50."""
        return {"class": KEDA_CLASS, **{k: str(v) for k, v in self.defaults.values().items()}}


@dataclass(frozen=True)
class ConsumerScaling:
    """One KafkaSource's consumers under KEDA: between min and max consumers on its group's lag; with
    class 'disabled' the source keeps its fixed `consumers`."""
    keda: bool
    max_consumers: int
    trigger: LagTrigger

    @property
    def min_consumers(self) -> int:
        return self.trigger.min_consumers if self.keda else self.max_consumers

    def annotations(self) -> dict[str, str]:
        if not self.keda:
            return FIXED_CONSUMERS
        values = {"class": KEDA_CLASS, **self.trigger.values(), "max-scale": self.max_consumers}
        return {CONSUMER_SCALING_ANNOTATION + k: str(v) for k, v in values.items()}


@dataclass(frozen=True)
class Resources:
    """Container requests and limits: cpu in millicores, memory in MiB."""
    cpu_request: int
    memory_request: int
    cpu_limit: int
    memory_limit: int

    def spec(self) -> dict[str, dict[str, str]]:
        return {"requests": {"cpu": f"{self.cpu_request}m", "memory": f"{self.memory_request}Mi"},
                "limits": {"cpu": f"{self.cpu_limit}m", "memory": f"{self.memory_limit}Mi"}}


@dataclass(frozen=True)
class Workload:
    """How a function's container runs: exposure, environment, resources, identity."""
    public: bool                                  # reachable through the gateway, not only in the cluster
    port: int | None                              # container port; None: Knative's default (8080)
    container_concurrency: int                    # requests one replica takes at once; 0: no limit
    env: tuple[tuple[str, str], ...]              # (name, value)
    secret_env: tuple[tuple[str, str, str], ...]  # (name, Secret, key) in the function's namespace
    resources: Resources
    read_only_root_filesystem: bool
    workload_identity: bool                       # an Azure managed identity through workload identity


DEFAULT_RESOURCES = Resources(cpu_request=100, memory_request=128, cpu_limit=1000, memory_limit=256)
DEFAULT_WORKLOAD = Workload(False, None, 0, (), (), DEFAULT_RESOURCES, True, False)

# Kafka's node pools: Strimzi 1.2.0 sets no requests of its own (a pod without them is never counted by the
# scheduler and is the first evicted). The project's defaults: a broker (or a dual-role node) 0.5 CPU and 2Gi,
# its heap Strimzi's share of the memory limit; a KRaft controller 0.25 CPU and 1Gi. Memory request = limit,
# as Strimzi's docs recommend for Kafka (con-config-node-pools.adoc: "Resources requests and limits").
KAFKA_BROKER_RESOURCES = Resources(cpu_request=500, memory_request=2048, cpu_limit=2000, memory_limit=2048)
KAFKA_CONTROLLER_RESOURCES = Resources(cpu_request=250, memory_request=1024, cpu_limit=1000, memory_limit=1024)


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    namespace: str
    image: str
    topic: TopicConfig
    ordering: str
    consumers: int
    consumer_group: str
    initial_offset: str
    timeout_seconds: int
    autoscaling: Autoscaling
    delivery: Delivery
    dead_letter_topic: str | None     # None: dead-letter sink switched off
    # A KafkaUser that may only write the function's topic, for commands.load (authenticated Kafka only)
    load_producer: bool = False
    workload: Workload = field(default_factory=lambda: DEFAULT_WORKLOAD)
    # None: consumerScaling is off for the stack, and the source runs `consumers` all the time.
    consumer_scaling: ConsumerScaling | None = None

    @property
    def peak_consumers(self) -> int:
        return self.consumer_scaling.max_consumers if self.consumer_scaling else self.consumers

    @property
    def idle_consumers(self) -> int:
        return self.consumer_scaling.min_consumers if self.consumer_scaling else self.consumers


@dataclass(frozen=True)
class AutoscalerConfig:
    """Cluster-wide settings of Knative's config-autoscaler ConfigMap."""
    enable_scale_to_zero: bool
    scale_to_zero_grace_period: str
    scale_to_zero_pod_retention_period: str
    max_scale_down_rate: float
    max_scale_up_rate: float
    stable_window: str
    allow_zero_initial_scale: bool

    def data(self) -> dict[str, str]:
        return {
            "enable-scale-to-zero": str(self.enable_scale_to_zero).lower(),
            "scale-to-zero-grace-period": self.scale_to_zero_grace_period,
            "scale-to-zero-pod-retention-period": self.scale_to_zero_pod_retention_period,
            "max-scale-down-rate": f"{float(self.max_scale_down_rate)}",
            "max-scale-up-rate": f"{float(self.max_scale_up_rate)}",
            "stable-window": self.stable_window,
            "allow-zero-initial-scale": str(self.allow_zero_initial_scale).lower(),
        }


@dataclass(frozen=True)
class StackConfig:
    stack: str
    versions: Upstream
    cluster: ClusterConfig
    kafka: KafkaConfig
    topics: tuple[TopicConfig, ...]
    dead_letter_topics: tuple[TopicConfig, ...]
    functions: tuple[FunctionConfig, ...]
    autoscaler: AutoscalerConfig
    # Check edits against what the stack deployed last (components/lifecycle.py); off only to recover
    # when its recorded settings no longer describe the cluster.
    check_edits: bool = True
    # The KafkaSource dispatchers' consumers per pod and memory; None: eventing-kafka's own (20, 700Mi).
    eventing_kafka: DispatcherSettings | None = None
    consumer_scaling: ConsumerScalingConfig | None = None     # None: every source keeps its `consumers`

    @property
    def gateway_service_type(self) -> str:
        """A public address only where a function is public: the KafkaSources deliver inside the cluster."""
        if self.cluster.gateway_service_type is not None:
            return self.cluster.gateway_service_type
        return "LoadBalancer" if any(f.workload.public for f in self.functions) else "ClusterIP"

    @property
    def uses_hpa(self) -> bool:
        return any(f.autoscaling.klass == "hpa" for f in self.functions)

    @property
    def uses_kafka_sink(self) -> bool:
        return any(f.dead_letter_topic for f in self.functions)

    def runs_keda(self, how: str) -> bool:
        """Lag-driven consumers are on, with KEDA as `how`: 'addon', 'helm' or 'present'."""
        return self.consumer_scaling is not None and self.consumer_scaling.keda == how

    @property
    def keda_namespace(self) -> str | None:
        return self.consumer_scaling.keda_namespace if self.consumer_scaling else None

    @property
    def keda_chart_namespace(self) -> str | None:
        """Where this program installs KEDA's chart; None where it does not (off, the AKS add-on, present)."""
        return self.keda_namespace if self.runs_keda("helm") else None


# --- parsing ----------------------------------------------------------------------------------

TOP_LEVEL_KEYS = ("versions", "cluster", "kafka", "topics", "functions", "autoscaler", "lifecycle", "eventingKafka",
                  "consumerScaling")

# Knative Serving's default max-revision-timeout-seconds (config-defaults)
MAX_REVISION_TIMEOUT_SECONDS = 600
# Knative >= 1.22 refuses to start below this Kubernetes minor (knative/pkg version/version.go)
MIN_KUBERNETES_MINOR = 34
KNATIVE_WINDOW = (6, 3600)
KNATIVE_SCALE_DOWN_DELAY = (0, 3600)
EVENT_DISPLAY_IMAGE = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
# Namespaces the platform's own controllers live in; a function there would share their fate.
PLATFORM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "knative-serving", "knative-eventing",
                       "kourier-system")


def parse_versions(s: Section) -> Upstream:
    defaults = Upstream()
    values = {}
    for key, (attr, doc) in CONFIG_FIELDS.items():
        default = getattr(defaults, attr)
        if attr in ("strimzi_chart_repo", "knative_release_url", "keda_chart_repo"):
            values[attr] = s.string(key, default, doc=doc)
        elif attr == "kafka_metadata_version":
            values[attr] = s.string(key, default, re.compile(r"^\d+\.\d+-IV\d+$", re.ASCII),
                                    "a Kafka metadata version such as '4.3-IV0'", doc=doc)
        else:
            values[attr] = s.string(key, default, SEMVER, "a pinned release such as '1.23.0' (no ranges, no 'latest')",
                                    doc=doc)
    s.done()
    up = Upstream(**values)
    if "{version}" not in up.knative_release_url or "{file}" not in up.knative_release_url:
        raise s.fail("knativeReleaseUrl", up.knative_release_url,
                     "a URL template containing {repo}, {version} and {file}")
    supported = STRIMZI_KAFKA_VERSIONS.get(up.strimzi_chart)
    if supported is not None and up.kafka not in supported:
        raise s.fail("kafka", up.kafka, f"a Kafka version Strimzi {up.strimzi_chart} runs: {', '.join(supported)}")
    kafka_minor = ".".join(up.kafka.split(".")[:2])
    if not up.kafka_metadata_version.startswith(kafka_minor + "-"):
        raise s.fail("kafkaMetadataVersion", up.kafka_metadata_version,
                     f"a metadata version of Kafka {kafka_minor} (versions.kafka is {up.kafka!r})")
    return up


def parse_pool(s: Section, default: NodePool, renamable: bool) -> NodePool:
    """renamable: the pool is a separate AgentPool, so a new name replaces it (new pool first)."""
    pool = NodePool(
        name=s.string("name", default.name, AGENT_POOL_NAME, "an AKS node pool name: 1 to 12 lower-case letters "
                      "and digits, starting with a letter",
                      doc="the user pool's AKS name, 1-12 lower-case letters and digits; a new name replaces the pool "
                          "(the new one created first, then the old one drained and deleted), the only way to change "
                          "its `vmSize` or the zones") if renamable else default.name,
        vm_size=s.string("vmSize", default.vm_size, re.compile(r"^Standard_[A-Za-z0-9_]+$", re.ASCII),
                         "an Azure VM size such as 'Standard_D4s_v5'",
                         doc="Azure VM size of the pool's nodes; fixed once the pool exists (the user pool: change it "
                             "with a new `name`)"),
        min_count=s.integer("minCount", default.min_count, 1, 100,
                            doc="nodes at least (the pool autoscales), 1..100"),
        max_count=s.integer("maxCount", default.max_count, 1, 1000,
                            doc="nodes at most, at least `minCount`; the capacity plan holds the stack's peak against "
                                "this many nodes"),
        capacity=parse_pool_capacity(s.section("capacity",
                                               doc="one VM's vCPUs and memory, `{cpu: '8', memory: '64Gi'}`, for a "
                                                   "`vmSize` the capacity table lacks (it knows "
                                                   "`Standard_D{2,4,8,16,32,64}{,d,s,ds}_v5`); the pool that runs the "
                                                   "workload is refused at preview with any other size unless this is "
                                                   "set")),
    )
    s.done()
    if pool.max_count < pool.min_count:
        raise s.fail("maxCount", pool.max_count, f"at least minCount ({pool.min_count})")
    return pool


def parse_pool_capacity(s: Section) -> DeclaredCapacity | None:
    return parse_declared_capacity(s, "of one VM of this size (before AKS's reservations)")


def parse_cluster_capacity(s: Section) -> DeclaredCapacity | None:
    return parse_declared_capacity(s, "the cluster's nodes give pods in all (their allocatable)")


def parse_user_pool(s: Section) -> NodePool | None:
    """A separate pool for the workload (default), or none: then the system pool runs everything."""
    if not s.boolean("enabled", True,
                     doc="a separate workload pool; `false`: the system pool is untainted and runs everything (small "
                         "stacks; dev)"):
        s.done()
        return None
    return parse_pool(s, NodePool("user", "Standard_D4ds_v5", 2, 6), True)


def parse_monitoring(s: Section) -> Monitoring:
    m = Monitoring(
        enabled=s.boolean("enabled", True,
                          doc="container insights: container logs and metrics to a Log Analytics workspace "
                              "`log-<stack>`, through a data collection rule `MSCI-<location>-aks-<stack>` associated "
                              "with the cluster"),
        # Log Analytics keeps 30 to 730 days on the pay-as-you-go tier (operationalinsights Workspace).
        retention_days=s.integer("retentionDays", 30, 30, 730,
                                 doc="how long the workspace keeps them, 30..730 days"),
    )
    s.done()
    return m


def parse_deployer_access(s: Section, login_mode: str, admin_groups: tuple[str, ...]) -> DeployerAccess:
    a = DeployerAccess(
        # With admin groups, whoever deploys is expected in one; creating role assignments needs more
        # than Contributor, which CI identities often lack.
        grant=s.boolean("grant", not admin_groups,
                        doc="AKS: assign the caller \"Azure Kubernetes Service RBAC Cluster Admin\" on the cluster "
                            "(needs the right to create role assignments)",
                        shown="`true` without `adminGroupObjectIds`, else `false`"),
        # Azure refuses a role assignment whose principal type does not match the principal.
        principal_type=s.string("principalType", "User" if login_mode == "azurecli" else "ServicePrincipal",
                                choices=("User", "ServicePrincipal"),
                                doc="what the caller is; Azure refuses an assignment of the wrong type",
                                shown="`User` with `loginMode: azurecli`, else `ServicePrincipal`"),
        wait_seconds=s.integer("waitSeconds", 900, 60, 3600,
                               doc="60..3600: how long to wait for the caller's Kubernetes access before giving up"),
        additional_principals=parse_principals(s.items("additionalPrincipals", [],
                                                       doc="AKS: identities given the same role at the same scope (the "
                                                           "stack's resource group), whatever `grant` says, such as "
                                                           "CI's service principal (see \"CI identity\" under "
                                                           "Production); needs the right to create role assignments. "
                                                           "Each assignment is named by its object id: reordering the "
                                                           "list changes nothing, removing an entry deletes its "
                                                           "assignment. Not the identity `grant` made cluster admin "
                                                           "(the first deployer keeps that role): refused at preview, "
                                                           "as Azure refuses a second assignment of one principal, "
                                                           "role and scope")),
    )
    s.done()
    return a


def parse_principals(sections: list[Section]) -> tuple[Principal, ...]:
    principals: dict[str, Principal] = {}
    for p in sections:
        # Lower case as Azure returns it: the id names the principal's role assignment in the stack, so two
        # spellings of one principal would be two assignments, which Azure refuses (RoleAssignmentExists).
        object_id = p.string("objectId", None, UUID, "an Entra ID object id in lower case, such as CI's "
                                                     "(az ad sp show --id <client id> --query id)", required=True,
                             doc="the principal's Entra ID object id in lower case (`az ad sp show --id <client id> "
                                 "--query id`, `az ad group show -g <name> --query id`); each at most once, the nil "
                                 "UUID refused")
        if object_id == NIL_UUID:
            raise p.fail("objectId", object_id, "the object id of a user, group or service principal (the nil UUID is "
                                                "a placeholder)")
        if object_id in principals:
            raise p.fail("objectId", object_id, "an object id no other additional principal has")
        principal_type = p.string("type", None, choices=PRINCIPAL_TYPES, required=True,
                                  doc="`User`, `Group` or `ServicePrincipal` (Azure refuses an assignment of the wrong "
                                      "type); a new type replaces the assignment, the old one deleted first")
        p.done()
        principals[object_id] = Principal(object_id, principal_type)
    return tuple(principals.values())


def parse_cluster(s: Section, stack: str) -> ClusterConfig:
    mode = s.string("mode", "aks", choices=("aks", "existing"),
                    doc="`aks` creates AKS; `existing` uses `kubeconfig` / `context` instead")
    login_mode = s.string("loginMode", "azurecli", choices=("azurecli", "spn", "msi", "workloadidentity"),
                          doc="kubelogin login mode: `azurecli`, `spn`, `msi`, `workloadidentity`")
    admin_groups = refuse_placeholders(s, "adminGroupObjectIds", s.strings(
        "adminGroupObjectIds", [], UUID, "Entra ID group object ids",
        doc="Entra ID group object ids of cluster admins (`az ad group show -g <name> --query id`); the placeholder "
            "`00000000-0000-0000-0000-000000000000` is refused"))
    c = ClusterConfig(
        mode=mode,
        location=s.string("location", "westeurope", AZURE_REGION, "an Azure region such as 'westeurope'",
                          doc="Azure region"),
        resource_group=s.string("resourceGroup", f"knative-kafka-{stack}", RESOURCE_GROUP,
                                "an Azure resource group name",
                                doc="resource group name",
                                shown="`knative-kafka-<stack>`"),
        kubernetes_version=s.string("kubernetesVersion", "1.35", K8S_MINOR,
                                    'a Kubernetes minor version such as "1.35" (AKS patches it)',
                                    doc="minor version, `1.34` or newer (Knative 1.22+ refuses older); of the control "
                                        "plane and both pools. On a live stack: one minor up at a time, never down; "
                                        "owned by AKS under `upgradeChannel` `stable`/`rapid`"),
        sku_tier=s.string("skuTier", "Standard", choices=("Free", "Standard", "Premium"),
                          doc="AKS tier: `Free`, `Standard` or `Premium`"),
        availability_zones=s.strings("availabilityZones", ["1", "2", "3"], re.compile(r"^[1-3]$", re.ASCII),
                                     "zone numbers '1', '2' or '3'",
                                     doc="zones of both pools; `[]` where the region has none; fixed once a pool "
                                         "exists"),
        system_pool=parse_pool(s.section("systemPool", doc="system pool (autoscaled, tainted `CriticalAddonsOnly`): "
                                                           "`Standard_D4ds_v5`, 2 to 3 nodes by default"),
                               NodePool(SYSTEM_POOL_NAME, "Standard_D4ds_v5", 2, 3), False),
        user_pool=parse_user_pool(s.section("userPool",
                                            doc="workload pool (autoscaled, a separate AgentPool): `user`, "
                                                "`Standard_D4ds_v5`, 2 to 6 nodes by default")),
        admin_group_object_ids=admin_groups,
        authorized_ip_ranges=refuse_placeholders(s, "authorizedIpRanges", s.ipv4_networks("authorizedIpRanges", [],
                doc="IPv4 networks allowed to reach the API server, such as `20.50.10.0/24` (prefix 0-32, octets "
                    "0-255, no host bits); the documentation ranges `192.0.2.0/24`, `198.51.100.0/24`, "
                    "`203.0.113.0/24` are refused; empty or `0.0.0.0/0` is refused unless `allowPublicApiServer`")),
        allow_public_api_server=s.boolean("allowPublicApiServer", False,
                                          doc="accept an API server reachable from any address"),
        login_mode=login_mode,
        upgrade_channel=s.string("upgradeChannel", "patch", choices=("patch", "stable", "rapid", "none"),
                                 doc="AKS auto-upgrade channel: `patch`, `stable`, `rapid`, `none`"),
        node_os_upgrade_channel=s.string("nodeOsUpgradeChannel", "NodeImage",
                                         choices=("NodeImage", "SecurityPatch", "Unmanaged", "None"),
                                         doc="node OS upgrades: `NodeImage`, `SecurityPatch`, `Unmanaged`, `None`"),
        kubeconfig=s.string("kubeconfig", None,
                            doc="`existing` mode only: kubeconfig path"),
        context=s.string("context", None,
                         doc="`existing` mode only: context in it",
                         shown="current context"),
        deployer_access=parse_deployer_access(s.section(
            "deployerAccess", doc="Kubernetes access for whoever runs `pulumi up` on an AKS stack (Azure RBAC, no "
                                  "local accounts)"), login_mode, admin_groups),
        gateway_service_type=s.string("gatewayServiceType", None, choices=("LoadBalancer", "NodePort", "ClusterIP"),
                                      doc="Kourier's gateway Service type (`LoadBalancer`, `NodePort`, `ClusterIP`): "
                                          "no public IP unless something is public; never awaited, so a cluster "
                                          "without a load balancer (kind) does not stall the deploy",
                                      shown="`LoadBalancer` when a function is `public`, else `ClusterIP`"),
        monitoring=parse_monitoring(s.section("monitoring",
                                              doc="container insights")),
        azure_policy=s.boolean("azurePolicy", True,
                               doc="the Azure Policy add-on (Gatekeeper) audits the cluster against assigned policies"),
        encryption_at_host=s.boolean("encryptionAtHost", False,
                                     doc="both pools' disks and caches encrypted on the VM host; `scripts/deploy` "
                                         "registers the subscription feature `Microsoft.Compute/EncryptionAtHost`; "
                                         "fixed once a pool exists"),
        capacity=parse_cluster_capacity(s.section("capacity",
                                                  doc="`existing` mode only: what the cluster's nodes give pods in "
                                                      "all, `{cpu: '16', memory: '64Gi'}` (their allocatable); without "
                                                      "it the capacity plan is reported but not enforced")),
    )
    s.done()
    if c.mode == "aks" and c.capacity is not None:
        raise s.fail("capacity", s.data["capacity"], "only with mode 'existing': an AKS stack's capacity is its pools' "
                                                     "(declare an unknown VM size under userPool.capacity)")
    if c.mode == "existing" and s.data.get("deployerAccess") is not None:
        raise s.fail("deployerAccess", s.data["deployerAccess"],
                     "only with mode 'aks': on an existing cluster your kubeconfig's identity is used as it is")
    if c.user_pool is not None and c.system_pool.name == c.user_pool.name:
        raise s.fail("userPool.name", c.user_pool.name, f"a name other than the system pool's ({SYSTEM_POOL_NAME!r})")
    minor = int(K8S_MINOR.fullmatch(c.kubernetes_version).group(1))  # type: ignore[union-attr]
    if minor < MIN_KUBERNETES_MINOR:
        raise s.fail("kubernetesVersion", c.kubernetes_version,
                     f"1.{MIN_KUBERNETES_MINOR} or newer: Knative 1.22+ refuses to start on older Kubernetes")
    if c.mode == "existing" and not c.kubeconfig:
        raise s.fail("kubeconfig", c.kubeconfig, "a kubeconfig path when mode is 'existing'")
    if c.mode == "aks" and (c.kubeconfig or c.context):
        raise s.fail("kubeconfig" if c.kubeconfig else "context", c.kubeconfig or c.context,
                     "only with mode 'existing': an AKS stack builds its own kubeconfig")
    if c.mode == "aks" and (not c.authorized_ip_ranges or "0.0.0.0/0" in c.authorized_ip_ranges) \
            and not c.allow_public_api_server:
        # An empty list is what AKS reads as "no restriction": as open as 0.0.0.0/0.
        raise s.fail("authorizedIpRanges", list(c.authorized_ip_ranges),
                     "one or more ranges narrower than 0.0.0.0/0 (the API server is otherwise open to the "
                     "internet), unless allowPublicApiServer is true")
    return c


# Strimzi's documented example for the Kafka Exporter (docs, "Configuring Kafka Exporter").
EXPORTER_RESOURCES = Resources(cpu_request=200, memory_request=64, cpu_limit=500, memory_limit=128)


def parse_exporter(s: Section) -> Resources | None:
    enabled = s.boolean("enabled", True,
                        doc="Strimzi's Kafka Exporter: consumer lag per group and partition, and each partition's "
                            "offsets, as Prometheus metrics on port 9404 of its pod (`scripts/scale-demo` reads them)")
    resources = parse_resources(s.section("resources",
                                          doc="the exporter's container"), EXPORTER_RESOURCES)
    s.done()
    if not enabled and s.data.get("resources") is not None:
        raise s.fail("resources", s.data["resources"], "only with enabled: true (the exporter is off)")
    return resources if enabled else None


def parse_kafka(s: Section) -> KafkaConfig:
    resources = s.section("resources", doc="the containers of Kafka's nodes")
    broker_resources, controller_resources = parse_kafka_resources(resources)
    k = KafkaConfig(
        name=s.name("name", "my-cluster", KAFKA_NAME_MAX,
                    why=f"Strimzi derives names such as '<name>-kafka-bootstrap' and "
                        f"'<name>{max(KAFKA_POD_SUFFIXES, key=len)}' from it, each at most {DNS_LABEL_MAX} characters",
                    doc="Kafka resource name (bootstrap `<name>-kafka-bootstrap.<namespace>.svc:9092`); at most 47 "
                        "characters, so Strimzi's `<name>-kafka-bootstrap` and pod names `<name>-controllers-<id>` "
                        "stay within 63"),
        namespace=s.name("namespace", "kafka-cluster", DNS_LABEL_MAX, DNS1123, "a Kubernetes namespace name",
                         doc="namespace of the operator and the cluster"),
        dual_role=s.boolean("dualRole", True,
                            doc="one node pool doing controller and broker work; `false` splits them"),
        controllers=s.integer("controllers", 3, 1, MAX_CONTROLLERS,
                              doc="KRaft controllers (odd); equals `brokers` when `dualRole`"),
        brokers=s.integer("brokers", 3, 1, MAX_BROKERS,
                          doc="brokers"),
        storage=s.string("storage", "persistent-claim", choices=("ephemeral", "persistent-claim"),
                         doc="`ephemeral` or `persistent-claim` (claims kept when the Kafka resource is deleted; see "
                             "Lifecycle for destroy)"),
        storage_size=s.string("storageSize", "100Gi", QUANTITY, "a size such as '100Gi' (more than zero)",
                              doc="volume size per node: more than zero, in `Mi`, `Gi` or `Ti`"),
        storage_class=s.name("storageClass", None, DNS_SUBDOMAIN_MAX, DNS1123_SUBDOMAIN, "a StorageClass name",
                             doc="a StorageClass name for the volumes",
                             shown="cluster default"),
        replication_factor=s.integer("replicationFactor", 3, 1, 32767,
                                     doc="of Kafka's internal topics and the default of every topic; at most "
                                         "`brokers`"),
        min_insync_replicas=s.integer("minInsyncReplicas", 2, 1, 32767,
                                      doc="below `replicationFactor` (or 1 when it is 1)"),
        authentication=s.string("authentication", "scram-sha-512", choices=("scram-sha-512", "none"),
                                doc="`scram-sha-512`: clients use only a TLS listener on 9093 with SCRAM, each "
                                    "function gets a KafkaUser with ACLs; `none`: the recipe's plain listener on 9092"),
        ca_validity_days=s.integer("caValidityDays", 1825, 30, 3650,
                                   doc="validity of the Pulumi-owned cluster CA (authentication on); not renewed "
                                       "automatically"),
        protect=s.boolean("protect", False,
                          doc="Pulumi `protect` + retain-on-delete for Kafka, its node pools and its CA, and "
                              "retain-on-delete for its namespace (so its volume claims)"),
        ready_timeout_seconds=s.integer("readyTimeoutSeconds", 1200, 60, 7200,
                                        doc="how long `pulumi up` waits for the Kafka to be Ready"),
        broker_resources=broker_resources,
        controller_resources=controller_resources,
        exporter=parse_exporter(s.section("exporter",
                                          doc="Strimzi's Kafka Exporter")),
    )
    s.done()
    if k.dual_role and k.controllers != k.brokers:
        raise s.fail("brokers", k.brokers,
                     f"equal to controllers ({k.controllers}) when dualRole is true: every node is both")
    if k.controllers % 2 == 0:
        raise s.fail("controllers", k.controllers, "an odd number: a KRaft quorum of an even size tolerates "
                                                   "no more failures than one node fewer")
    check_replication(s, "replicationFactor", k.replication_factor, "minInsyncReplicas",
                      k.min_insync_replicas, k.brokers)
    return k


def check_replication(s: Section, rf_key: str, rf: int, isr_key: str, isr: int, brokers: int) -> None:
    if rf > brokers:
        raise s.fail(rf_key, rf, f"at most the number of brokers ({brokers})")
    if isr > rf or (rf > 1 and isr >= rf):
        raise s.fail(isr_key, isr, f"below {rf_key} ({rf}), or 1 when it is 1: otherwise a single "
                                   "broker outage stops every producer")


def parse_topic(s: Section, kafka: KafkaConfig) -> TopicConfig:
    t = TopicConfig(
        name=s.name("name", None, KAFKA_TOPIC_MAX, what="a Kafka topic name",
                    why="it is also the KafkaTopic's Kubernetes name", required=True,
                    doc="topic (and KafkaTopic) name: lower-case letters, digits and `-`, at most 249 characters "
                        "(Kafka's limit)"),
        partitions=s.integer("partitions", 6, 1, 10000,
                             doc="partitions: the bound of every function reading it; on a live topic only more"),
        replicas=s.integer("replicas", kafka.replication_factor, 1, 32767,
                           doc="at most the number of brokers; fixed once the topic exists (also when "
                               "`kafka.replicationFactor` changes: set it explicitly)",
                           shown="`kafka.replicationFactor`"),
        min_insync_replicas=s.integer("minInsyncReplicas", kafka.min_insync_replicas, 1, 32767,
                                      doc="below `replicas` (or 1 when it is 1)",
                                      shown="`kafka.minInsyncReplicas`"),
        retention_ms=s.integer("retentionMs", None, -1, INT64_MAX,
                               doc="`retention.ms`",
                               shown="Kafka's default"),
    )
    s.done()
    check_replication(s, "replicas", t.replicas, "minInsyncReplicas", t.min_insync_replicas, kafka.brokers)
    return t


def parse_autoscaling(s: Section, ordering: str, topic: TopicConfig, cluster_wide: AutoscalerConfig) -> Autoscaling:
    klass = s.string("class", "kpa", choices=("kpa", "hpa"),
                     doc="`kpa` (metrics `concurrency`, `rps`) or `hpa` (metrics `cpu`, `memory`; installs "
                         "`serving-hpa.yaml`; no scale to zero)")
    metrics = ("concurrency", "rps") if klass == "kpa" else ("cpu", "memory")
    metric = s.string("metric", metrics[0], choices=metrics,
                      doc="what the autoscaler measures",
                      shown="`concurrency` (kpa) / `cpu` (hpa)")
    target = s.number("target", None, at_least=KNATIVE_TARGET_MIN,
                      doc="per-replica target of the metric; at least 0.01 (Knative's minimum)",
                      shown="Knative's default")
    min_scale = s.integer("minScale", 1 if klass == "hpa" else None, 0, INT32_MAX,
                          doc="lowest replica count; `0` needs `autoscaler.enableScaleToZero`",
                          shown="`0` (kpa) / `1` (hpa)")
    initial_scale = s.integer("initialScale", None, 0, INT32_MAX,
                              doc="between `minScale` and `maxScale`; `0` needs `autoscaler.allowZeroInitialScale`",
                              shown="Knative's default")
    bound_by_partitions = ordering == "ordered"
    max_scale = s.integer("maxScale", topic.partitions if bound_by_partitions else None, 1, INT32_MAX,
                          doc="refused above the partitions with ordered delivery; required with `unordered` (the "
                              "capacity plan needs every function's peak)",
                          shown="partitions when `ordered`")
    window = s.go_duration("window", None, *KNATIVE_WINDOW,
                           doc="`6s`..`1h`, kpa only",
                           shown="Knative's default")
    scale_down_delay = s.go_duration("scaleDownDelay", None, *KNATIVE_SCALE_DOWN_DELAY,
                                     doc="`0s`..`1h`",
                                     shown="Knative's default")
    utilization = s.integer("targetUtilizationPercentage", None, 1, 100,
                            doc="1..100, kpa only",
                            shown="Knative's default")
    s.done()
    if klass == "hpa":
        if min_scale == 0:
            raise s.fail("minScale", 0, "at least 1 with class 'hpa': the HPA cannot scale to zero")
        if window is not None:
            raise s.fail("window", window, "only with class 'kpa': the HPA class ignores it")
        if metric in ("cpu", "memory") and utilization is not None:
            raise s.fail("targetUtilizationPercentage", utilization,
                         "only with class 'kpa': for the HPA, target is already a utilization")
    if bound_by_partitions and max_scale is not None and max_scale > topic.partitions:
        raise s.fail("maxScale", max_scale,
                     f"at most {topic.partitions} (the partitions of topic {topic.name!r}): with ordered "
                     "delivery at most one event per partition is in flight, so more replicas only add cost")
    low = min_scale or 0
    if max_scale is not None and low > max_scale:
        raise s.fail("minScale", min_scale, f"at most maxScale ({max_scale})")
    if min_scale == 0 and not cluster_wide.enable_scale_to_zero:
        raise s.fail("minScale", 0, "at least 1, or knative-kafka:autoscaler.enableScaleToZero true: with scale to "
                                    "zero off cluster-wide, Knative ignores it")
    if initial_scale == 0 and not cluster_wide.allow_zero_initial_scale:
        raise s.fail("initialScale", 0, "at least 1, or knative-kafka:autoscaler.allowZeroInitialScale true: "
                                        "Knative rejects it otherwise")
    if initial_scale is not None and (initial_scale < low or (max_scale is not None and initial_scale > max_scale)):
        raise s.fail("initialScale", initial_scale,
                     f"between minScale ({low}) and maxScale ({max_scale if max_scale is not None else 'unbounded'})")
    return Autoscaling(klass, metric, target, min_scale, max_scale, initial_scale, window, scale_down_delay,
                       utilization)


def parse_delivery(s: Section) -> Delivery:
    d = Delivery(
        retry=s.integer("retry", 10, 0, 100,
                        doc="delivery attempts after the first"),
        backoff_policy=s.string("backoffPolicy", "exponential", choices=("exponential", "linear"),
                                doc="`exponential` or `linear`"),
        backoff_delay=s.iso_duration("backoffDelay", "PT0.3S", 0.1, 3600,
                                     doc="ISO-8601 such as `PT0.3S` or `PT1M`: whole hours and minutes, seconds with "
                                         "at most one decimal and at most 3276.7 (write `PT1H`, not `PT3600S`), as "
                                         "eventing-kafka reads them; 0.1 s to 1 h"),
        timeout=s.iso_duration("timeout", "PT300S", 1, MAX_REVISION_TIMEOUT_SECONDS,
                               doc="ISO-8601 as above, at most the Service's `timeoutSeconds`"),
    )
    s.done()
    return d


# eventing-kafka-broker knative-v1.23.0 control-plane/pkg/autoscaler/autoscaler_api.go defaults (min-scale 0,
# polling-interval 10, cooldown-period 30, lag-threshold 100). Its activation-lag-threshold is not offered: 1.23
# copies it to the consumer group (keda/keda.go:249) but never into KEDA's trigger (keda.go:75-81).
UPSTREAM_LAG_TRIGGER = LagTrigger(min_consumers=0, lag_threshold=100, polling_interval=10, cooldown_period=30)
KEDA_ADDON_NAMESPACE = "kube-system"    # learn.microsoft.com/azure/aks/keda-deploy-add-on-arm: its pods run there
KEDA_HELM_NAMESPACE = "keda"            # KEDA's install docs: `helm install keda kedacore/keda --namespace keda`


def parse_lag_trigger(s: Section, defaults: LagTrigger) -> LagTrigger:
    """The same keys stack-wide and per function. KEDA's Kafka scaler refuses a lagThreshold that is not
    positive (kedacore/keda pkg/scalers/kafka_scaler.go), and polls
    every pollingInterval seconds, so 0 would poll without pause."""
    return LagTrigger(
        min_consumers=s.integer("minConsumers", defaults.min_consumers, 0, INT32_MAX,
                                doc="consumers without lag; `0`: an idle function holds no consumer and no dispatcher "
                                    "share",
                shown=f"`{UPSTREAM_LAG_TRIGGER.min_consumers}` (a function: the stack's)"),
        lag_threshold=s.integer("lagThreshold", defaults.lag_threshold, 1, INT32_MAX,
                                doc="lag per consumer KEDA aims at; at least 1 (KEDA's Kafka scaler refuses 0)",
                shown=f"`{UPSTREAM_LAG_TRIGGER.lag_threshold}` (a function: the stack's)"),
        polling_interval=s.integer("pollingInterval", defaults.polling_interval, 1, INT32_MAX,
                                   doc="seconds between KEDA's lag reads, at least 1",
                shown=f"`{UPSTREAM_LAG_TRIGGER.polling_interval}` (a function: the stack's)"),
        cooldown_period=s.integer("cooldownPeriod", defaults.cooldown_period, 0, INT32_MAX,
                                  doc="seconds without lag before KEDA takes the last consumer away (to `minConsumers` "
                                      "0)",
                shown=f"`{UPSTREAM_LAG_TRIGGER.cooldown_period}` (a function: the stack's)"),
    )


def parse_consumer_scaling_config(s: Section, cluster: ClusterConfig) -> ConsumerScalingConfig | None:
    enabled = s.boolean("enabled", False,
                        doc="lag-driven consumers (see \"Lag-driven consumers\" below): patches "
                            "`controller-autoscaler-keda: enabled` into `config-kafka-features` and these defaults "
                            "into `config-kafka-autoscaler`, annotates every KafkaSource with "
                            "`autoscaling.eventing.knative.dev/*`, admits KEDA's operator to Kafka's listener and "
                            "keeps an empty group's offsets. Off, every KafkaSource says "
                            "`autoscaling.eventing.knative.dev/class: disabled`")
    aks = cluster.mode == "aks"
    keda = s.string("keda", "addon" if aks else "helm", choices=("addon", "helm", "present"),
                    doc="AKS: its KEDA add-on (`workloadAutoScalerProfile.keda.enabled`, in `kube-system`), the only "
                        "choice there. `existing`: `helm` installs `versions.kedaChart` in `kedaNamespace`; `present` "
                        "uses the cluster's own. Leaving `helm` (or turning scaling off with it) while KEDA scales a "
                        "function is refused at preview: first set every function's `consumerScaling.class: disabled` "
                        "and `pulumi up`",
                    shown="`addon` on AKS, `helm` on `existing`")
    namespace = s.name("kedaNamespace", KEDA_ADDON_NAMESPACE if keda == "addon" else KEDA_HELM_NAMESPACE,
                       DNS_LABEL_MAX, DNS1123, "a Kubernetes namespace name",
                       doc="where KEDA's operator runs, which Kafka's listener admits; `kube-system` with the add-on",
                       shown="`kube-system` (add-on), `keda`")
    defaults = parse_lag_trigger(s, UPSTREAM_LAG_TRIGGER)
    s.done()
    if not enabled:
        others = sorted(set(s.data) - {"enabled"})
        if others:
            raise s.fail(others[0], s.data[others[0]], "only with enabled: true (lag-driven consumer scaling is off)")
        return None
    if aks and keda != "addon":
        raise s.fail("keda", keda, "'addon' on an AKS stack: AKS runs KEDA as a managed add-on, and KEDA must be the "
                                   "only external metrics adapter of a cluster "
                                   "(learn.microsoft.com/azure/aks/keda-about)")
    if not aks and keda == "addon":
        raise s.fail("keda", keda, "'helm' (this program installs KEDA's chart, versions.kedaChart) or 'present' (the "
                                   "cluster runs KEDA already) with cluster.mode 'existing': the add-on is AKS's")
    if keda == "addon" and namespace != KEDA_ADDON_NAMESPACE:
        raise s.fail("kedaNamespace", namespace, f"{KEDA_ADDON_NAMESPACE!r} with the AKS add-on, which runs KEDA there")
    if keda == "helm" and namespace in PLATFORM_NAMESPACES:
        raise s.fail("kedaNamespace", namespace, "a namespace of its own for the chart (created here), not one of "
                                                 + ", ".join(PLATFORM_NAMESPACES))
    return ConsumerScalingConfig(keda, namespace, defaults)


def parse_consumer_scaling(s: Section, consumers: int, topic: TopicConfig,
                           stack_wide: ConsumerScalingConfig | None) -> ConsumerScaling | None:
    klass = s.string("class", "keda", choices=("keda", "disabled"),
                     doc="with the stack's `consumerScaling.enabled`: `keda` lets KEDA set the source's consumers from "
                         "its lag; `disabled` keeps `consumers` (no other `consumerScaling` key then)")
    trigger = parse_lag_trigger(s, stack_wide.defaults if stack_wide else UPSTREAM_LAG_TRIGGER)
    # The group's partitions bound it as they bound `consumers`, whose value it defaults to.
    max_consumers = s.integer("maxConsumers", consumers, 1, INT32_MAX,
                              doc="consumers at most, refused above the topic's partitions (a partition is read by one "
                                  "consumer of a group; with ordered delivery one event per partition is in flight); "
                                  "at least `minConsumers`",
                              shown="`consumers` (the topic's partitions)")
    s.done()
    if stack_wide is None:
        if s.data:
            key = sorted(s.data)[0]
            raise s.fail(key, s.data[key], f"only with {PROJECT}:consumerScaling.enabled true: without it "
                                           "eventing-kafka ignores the annotations and runs `consumers`")
        return None
    if klass == "disabled":
        others = sorted(set(s.data) - {"class"})
        if others:
            raise s.fail(others[0], s.data[others[0]], "only with class 'keda': a disabled source keeps `consumers`")
        return ConsumerScaling(False, consumers, trigger)
    if max_consumers > topic.partitions:
        raise s.fail("maxConsumers", max_consumers,
                     f"at most {topic.partitions} (the partitions of topic {topic.name!r}): a partition is read by one "
                     "consumer of a group, and with ordered delivery one event per partition is in flight, so more "
                     "consumers sit idle and only add dispatcher pods")
    if trigger.min_consumers > max_consumers:
        raise s.fail("minConsumers", trigger.min_consumers, f"at most maxConsumers ({max_consumers}): KEDA refuses a "
                                                            "ScaledObject whose minimum is above its maximum")
    return ConsumerScaling(True, max_consumers, trigger)


def parse_function(s: Section, topics: dict[str, TopicConfig], reserved_namespaces: set[str],
                   cluster_wide: AutoscalerConfig, consumer_scaling: ConsumerScalingConfig | None = None,
                   dead_letters: dict[str, TopicConfig] | None = None) -> FunctionConfig:
    """dead_letters: the dead-letter topics of the functions parsed so far, which the function may read too."""
    readable = {**(dead_letters or {}), **topics}
    name = s.name("name", None, DNS_LABEL_MAX, why="it names the Knative Service and its Kubernetes Service",
                  required=True,
                  doc="Service and KafkaSource name; unique, a Kubernetes name of at most 63 characters")
    namespace = s.name("namespace", "default", DNS_LABEL_MAX, DNS1123, "a Kubernetes namespace name",
                       doc="created unless it is `default`; not a platform namespace; at most 63 characters")
    if namespace in reserved_namespaces:
        raise s.fail("namespace", namespace, "not a namespace the platform itself uses ("
                     + ", ".join(sorted(reserved_namespaces)) + ")")
    image = s.string("image", EVENT_DISPLAY_IMAGE, IMAGE, "a container image reference such as "
                     "'ghcr.io/org/app:1.0' or 'registry:5000/app@sha256:<digest>' (lower-case repository path)",
                     doc="an image reference with a lower-case repository path, optional tag and `@sha256:` digest",
                     shown="the `event_display` image")
    topic_name = s.string("topic", None, required=True,
                          doc="a topic declared under `topics`, or another function's dead-letter topic (to alert on, "
                              "inspect or replay what failed there; it has 1 partition, so 1 consumer). A function "
                              "whose dead letters would come back to it, directly or through other functions' dead "
                              "letters, is refused: set its `deadLetter.enabled: false` or another `deadLetter.topic`")
    if topic_name not in readable:
        sources = [f"a topic declared under {PROJECT}:topics ({', '.join(sorted(topics)) or 'none declared'})",
                   "the dead-letter topic of another function (" + (
                       ", ".join(sorted(dead_letters or {})) or "none") + ")"]
        raise s.fail("topic", topic_name, "the name of " + " or ".join(sources))
    topic = readable[topic_name]
    ordering = s.string("ordering", "ordered", choices=("ordered", "unordered"),
                        doc="`ordered`: one event in flight per partition; `unordered`: concurrent per partition")
    consumers = s.integer("consumers", topic.partitions, 1,
                          doc="at most the topic's partitions (more consumers sit idle)",
                          shown="the topic's partitions")
    if consumers > topic.partitions:
        raise s.fail("consumers", consumers,
                     f"at most {topic.partitions} (the partitions of topic {topic.name!r}): a partition is read by "
                     "one consumer of a group, so extra consumers sit idle and only add cost")
    consumer_group = s.string("consumerGroup", f"knative-kafka-{namespace}-{name}", CONSUMER_GROUP,
                           "a Kafka consumer group id",
                              doc="deterministic, never random; a new one replaces the KafkaSource (the new group "
                                  "starts at `initialOffset`)",
                              shown="`knative-kafka-<namespace>-<name>`")
    initial_offset = s.string("initialOffset", "earliest", choices=("earliest", "latest"),
                              doc="`earliest` reads what was produced before the source existed; `latest` skips it")
    timeout_seconds = s.integer("timeoutSeconds", 300, 1, MAX_REVISION_TIMEOUT_SECONDS,
                                doc="Service request timeout; at least `delivery.timeout`, at most 600")
    autoscaling = parse_autoscaling(s.section("autoscaling",
                                              doc="Knative's autoscaler for the function's "
                                                  "replicas"), ordering, topic, cluster_wide)
    scaling = parse_consumer_scaling(s.section(
        "consumerScaling", doc="this function's lag-driven consumers (with the stack's `consumerScaling.enabled`)"),
        consumers, topic, consumer_scaling)
    delivery = parse_delivery(s.section("delivery",
                                        doc="retries of an event the function fails"))
    workload = parse_workload(s)
    dead_letter = s.section("deadLetter",
                            doc="where events that exhaust their retries go")
    dlq_enabled = dead_letter.boolean("enabled", True,
                                      doc="a KafkaSink keeps events that exhaust their retries")
    default_dlq = f"{topic.name}{DEAD_LETTER_SUFFIX}"
    if dlq_enabled and "topic" not in dead_letter.data and len(default_dlq) > KAFKA_TOPIC_MAX:
        raise dead_letter.fail("topic", default_dlq,
                               f"a Kafka topic name of at most {KAFKA_TOPIC_MAX} characters: the default, topic "
                               f"+ '{DEAD_LETTER_SUFFIX}', is longer; set deadLetter.topic or shorten the topic name")
    dlq_topic = dead_letter.name("topic", default_dlq if dlq_enabled else None, KAFKA_TOPIC_MAX,
                                 what="a Kafka topic name", why="it is also the KafkaTopic's Kubernetes name",
                                 doc="dead-letter topic (created as a KafkaTopic, 1 partition), at most 249 "
                                     "characters; a new one replaces the KafkaSink",
                                 shown="`<topic>-dlq`")
    dead_letter.done()
    load_producer = s.boolean("loadProducer", False,
                              doc="authenticated Kafka only: a KafkaUser `<name>.producer` that may only "
                                  "`Describe`+`Write` the function's topic, for `commands.load` (its password from "
                                  "`pulumi-random`, its client settings in Secret `<name>-kafka-producer` in the "
                                  "function's namespace); function names up to 54 characters")
    s.done()
    if load_producer and len(name) + len(LOAD_PRODUCER_SUFFIX) > DNS_LABEL_MAX:
        raise s.fail("loadProducer", True,
                     f"only for a function name of at most {DNS_LABEL_MAX - len(LOAD_PRODUCER_SUFFIX)} characters: "
                     f"Strimzi labels its KafkaUser's Secret with the user name '<name>{LOAD_PRODUCER_SUFFIX}', "
                     f"and a label value has at most {DNS_LABEL_MAX}")
    delivery_timeout = iso_duration_seconds(delivery.timeout) or 0
    if delivery_timeout > timeout_seconds:
        raise s.fail("timeoutSeconds", timeout_seconds,
                     f"at least delivery.timeout ({delivery.timeout} = {delivery_timeout:g}s): otherwise Knative "
                     "cuts a request the KafkaSource still waits for, and retries a delivery that may have worked")
    if dlq_enabled and dlq_topic in topics:
        raise dead_letter.fail("topic", dlq_topic, "a topic that is not also an input topic declared under "
                                                   "knative-kafka:topics")
    return FunctionConfig(name, namespace, image, topic, ordering, consumers, consumer_group, initial_offset,
                          timeout_seconds, autoscaling, delivery, dlq_topic if dlq_enabled else None,
                          load_producer=load_producer, workload=workload, consumer_scaling=scaling)


def parse_resources(s: Section, default: Resources) -> Resources:
    """A container's `{requests: {cpu, memory}, limits: {cpu, memory}}`; a limit left out is at least its
    request, so raising only a request is not refused."""
    requests, limits = s.section("requests",
                                 doc="what the scheduler reserves"), s.section("limits",
                                                          doc="what the container may use; a limit left out is at "
                                                              "least its request, a limit below its request is refused")
    cpu_request = requests.cpu("cpu", default.cpu_request,
                               doc="CPU request, in cores (`'0.5'`, `'2'`) or millicores (`250m`)")
    memory_request = requests.memory("memory", default.memory_request,
                                     doc="memory request, in `Mi` or `Gi`")
    r = Resources(cpu_request=cpu_request, memory_request=memory_request,
                  cpu_limit=limits.cpu("cpu", max(default.cpu_limit, cpu_request),
                                       doc="CPU limit, at least the request",
                          shown=f"`{default.cpu_limit}m`, at least the request"),
                  memory_limit=limits.memory("memory", max(default.memory_limit, memory_request),
                                             doc="memory limit, at least the request",
                          shown=f"`{default.memory_limit}Mi`, at least the request"))
    requests.done()
    limits.done()
    s.done()
    if r.cpu_limit < r.cpu_request:
        raise limits.fail("cpu", f"{r.cpu_limit}m", f"at least requests.cpu ({r.cpu_request}m): Kubernetes refuses "
                                                   "a container whose request is above its limit")
    if r.memory_limit < r.memory_request:
        raise limits.fail("memory", f"{r.memory_limit}Mi", f"at least requests.memory ({r.memory_request}Mi): "
                                                          "Kubernetes refuses a container whose request is above "
                                                          "its limit")
    return r


def parse_workload(s: Section) -> Workload:
    """The container settings of a function (keys directly under the function)."""
    env = s.mapping("env", ENV_NAME, "an environment variable name",
                    doc="environment variables, `NAME: \"value\"` (strings; not `PORT`, `K_SERVICE`, "
                        "`K_CONFIGURATION`, `K_REVISION`, which Knative sets)")
    for key in env:
        if key in KNATIVE_RESERVED_ENV:
            raise s.fail(f"env.{key}", env[key], "a name Knative does not set itself (" + ", ".join(
                KNATIVE_RESERVED_ENV) + ")")
    secret_env_section = s.section("secretEnv",
                                   doc="environment variables from Secrets in the function's namespace, `NAME: "
                                       "{secret: <name>, key: <key>}`")
    secret_env = []
    for key in sorted(secret_env_section.data):
        if not ENV_NAME.fullmatch(key) or key in KNATIVE_RESERVED_ENV or key in env:
            raise secret_env_section.fail(key, secret_env_section.data[key],
                                          "an environment variable name not set by env or by Knative")
        ref = secret_env_section.entry(key)
        secret = ref.name("secret", None, DNS_SUBDOMAIN_MAX, DNS1123_SUBDOMAIN, "a Secret name", required=True,
                          doc="the Secret's name")
        secret_key = ref.string("key", None, SECRET_KEY, "a key of that Secret", required=True,
                                doc="the key in that Secret")
        ref.done()
        secret_env.append((key, secret, secret_key))
    secret_env_section.done()
    port = s.integer("port", None, 1, 65535,
                     doc="the container's port; not one the queue-proxy uses (8012, 8013, 8022, 9090, 9091)",
                     shown="Knative's (8080)")
    if port in QUEUE_PROXY_PORTS:
        raise s.fail("port", port, "a port the queue-proxy sidecar does not use (" + ", ".join(
            str(p) for p in QUEUE_PROXY_PORTS) + ")")
    return Workload(
        public=s.boolean("public", False,
                         doc="`false`: cluster-local (`networking.knative.dev/visibility: cluster-local`), reachable "
                             "only inside the cluster, where the KafkaSource delivers; `true`: also through Kourier's "
                             "gateway"),
        port=port,
        container_concurrency=s.integer("containerConcurrency", 0, 0, CONTAINER_CONCURRENCY_MAX,
                                        doc="requests one replica handles at once (0: no limit), at most 1000"),
        env=tuple(sorted(env.items())),
        secret_env=tuple(secret_env),
        resources=parse_resources(s.section("resources",
                                            doc="the function's container"), DEFAULT_RESOURCES),
        read_only_root_filesystem=s.boolean("readOnlyRootFilesystem", True,
                                            doc="`false` for an image that writes to its own filesystem"),
        workload_identity=s.boolean("workloadIdentity", False,
                                    doc="AKS only: a user-assigned managed identity `id-<namespace>-<name>` federated "
                                        "with the function's service account (workload identity); outputs "
                                        "`identity.clientId`/`principalId` to grant it roles; no secret involved"),
    )


def parse_autoscaler(s: Section) -> AutoscalerConfig:
    a = AutoscalerConfig(
        enable_scale_to_zero=s.boolean("enableScaleToZero", True,
                                       doc="allow revisions to scale to zero"),
        scale_to_zero_grace_period=s.go_duration("scaleToZeroGracePeriod", "30s", 6, 3600,
                                                 doc="`6s`..`1h`"),
        scale_to_zero_pod_retention_period=s.go_duration("scaleToZeroPodRetentionPeriod", "0s", 0, 3600,
                                                         doc="`0s`..`1h`"),
        max_scale_down_rate=s.number("maxScaleDownRate", 2.0, 1.0,
                                     doc="above 1.0"),
        max_scale_up_rate=s.number("maxScaleUpRate", 1000.0, 1.0,
                                   doc="above 1.0"),
        stable_window=s.go_duration("stableWindow", "60s", *KNATIVE_WINDOW,
                                    doc="`6s`..`1h`"),
        allow_zero_initial_scale=s.boolean("allowZeroInitialScale", False,
                                           doc="allow a function's `initialScale: 0` (Knative rejects it otherwise)"),
    )
    s.done()
    return a


def parse(raw: dict[str, Any], stack: str) -> StackConfig:
    """raw: {"versions": {...}, "cluster": {...}, ...} with the project prefix already removed."""
    root = Section(f"{PROJECT}:", raw)
    versions = parse_versions(root.section("versions",
                                           doc="every upstream release, pinned. Versions must be exact releases "
                                               "(`X.Y.Z`); changing one changes only the resources of that release. On "
                                               "a live stack the Knative releases (`knativeServing`, `kourier`, "
                                               "`knativeEventing`, `eventingKafka`) move one minor at a time, up, or "
                                               "down by at most one"))
    cluster = parse_cluster(root.section("cluster",
                                         doc="the Kubernetes cluster: AKS, created here, or an existing one"), stack)
    kafka = parse_kafka(root.section("kafka",
                                     doc="the Strimzi Kafka cluster (KRaft)"))
    topic_list = [parse_topic(t, kafka) for t in root.items("topics", [{"name": "my-topic"}],
                                                            doc="the topics functions read",
                                                            shown="one `my-topic` with 6 partitions")]
    topics: dict[str, TopicConfig] = {}
    for i, t in enumerate(topic_list):
        if t.name in topics:
            raise root.fail(f"topics[{i}].name", t.name, "a name no other topic has")
        topics[t.name] = t
    function_sections = root.items("functions", [{"name": "event-display", "topic": next(iter(topics), None)}],
                                   doc="event functions: a Knative Service and the KafkaSource that feeds it",
                                   shown="one `event-display` reading the first topic")
    autoscaler = parse_autoscaler(root.section("autoscaler",
                                               doc="cluster-wide, patched into Knative's `config-autoscaler`"))
    reserved = {*PLATFORM_NAMESPACES, kafka.namespace}
    scaling = root.section("consumerScaling", doc="lag-driven consumers; alpha upstream, off by default (see "
                                                  "\"Lag-driven consumers\" below)")
    consumer_scaling = parse_consumer_scaling_config(scaling, cluster)
    functions = parse_functions(function_sections, topics, reserved, autoscaler, consumer_scaling)
    for i, f in enumerate(functions):
        if f.workload.workload_identity and cluster.mode != "aks":
            raise root.fail(f"functions[{i}].workloadIdentity", True, "false unless cluster.mode is 'aks': workload "
                                                                        "identity federates with AKS's OIDC issuer")
        if f.load_producer and not kafka.authenticated:
            raise root.fail(f"functions[{i}].loadProducer", True, "false unless kafka.authentication is on: on a "
                                                                  "plain listener commands.load needs no identity")
    seen: set[str] = set()
    for i, f in enumerate(functions):
        if f.name in seen:
            raise root.fail(f"functions[{i}].name", f.name, "a name no other function has")
        seen.add(f.name)
    dead_letter_topics = list(dead_letter_topics_of(functions).values())
    refuse_dead_letter_loops(root, functions)
    lifecycle = root.section("lifecycle",
                             doc="checks of edits to a live stack")
    check_edits = lifecycle.boolean("checkEdits", True,
                                    doc="refuse edits the live stack cannot take (see Lifecycle); `false` only to "
                                        "recover a stack whose recorded `settings` are wrong")
    lifecycle.done()
    eventing_kafka = parse_eventing_kafka(root.section("eventingKafka",
                                                       doc="the KafkaSource dispatchers. The program never sets the "
                                                           "dispatcher StatefulSet's replicas: eventing-kafka's "
                                                           "controller owns them"))
    root.done()
    return StackConfig(stack, versions, cluster, kafka, tuple(topic_list), tuple(dead_letter_topics),
                       tuple(functions), autoscaler, check_edits, eventing_kafka, consumer_scaling)


def dead_letter_topics_of(functions: list[FunctionConfig]) -> dict[str, TopicConfig]:
    """The topics the functions' dead-letter sinks write, each created once: one partition, the replication of
    the topic whose events it keeps."""
    topics: dict[str, TopicConfig] = {}
    for f in functions:
        if f.dead_letter_topic and f.dead_letter_topic not in topics:
            topics[f.dead_letter_topic] = replace(f.topic, name=f.dead_letter_topic, partitions=1, retention_ms=None)
    return topics


def parse_functions(sections: list[Section], topics: dict[str, TopicConfig], reserved: set[str],
                    autoscaler: AutoscalerConfig,
                    consumer_scaling: ConsumerScalingConfig | None) -> list[FunctionConfig]:
    """A function may read a declared topic or another function's dead-letter topic (to alert on, inspect or
    replay what failed there), which exists once that function is parsed: functions are parsed as their topics
    become known, in rounds, and keep the order of the stack file."""
    parsed: dict[int, FunctionConfig] = {}
    while len(parsed) < len(sections):
        dead_letters = dead_letter_topics_of([parsed[i] for i in sorted(parsed)])
        ready = [i for i, s in enumerate(sections)
                 if i not in parsed and (s.data.get("topic") in topics or s.data.get("topic") in dead_letters)]
        # No topic becomes known any more: the first function left is refused for its topic.
        for i in ready or [next(i for i in range(len(sections)) if i not in parsed)]:
            parsed[i] = parse_function(sections[i], topics, reserved, autoscaler, consumer_scaling, dead_letters)
    return [parsed[i] for i in range(len(sections))]


def refuse_dead_letter_loops(root: Section, functions: list[FunctionConfig]) -> None:
    """A function whose failed events come back to it, directly (it reads its own dead-letter topic) or through
    other functions' dead letters, retries every failure forever."""
    readers: dict[str, list[FunctionConfig]] = {}
    for f in functions:
        readers.setdefault(f.topic.name, []).append(f)
    for i, f in enumerate(functions):
        chains, seen = [[f]], set()
        while chains:
            chain = chains.pop()
            target = chain[-1].dead_letter_topic
            if target is None or target in seen:
                continue
            if target == f.topic.name:
                path = " -> ".join(f"{g.name} (dead letters to {g.dead_letter_topic!r})" for g in chain)
                raise root.fail(f"functions[{i}].deadLetter.topic", f.dead_letter_topic,
                                f"a dead-letter topic that does not lead back to the topic the function reads "
                                f"({f.topic.name!r}): {path}, so a failed event would be retried forever. Set "
                                "deadLetter.enabled false or another deadLetter.topic")
            seen.add(target)
            chains += [[*chain, g] for g in readers.get(target, [])]


# The dispatcher's upstream sizing (eventing-kafka-broker knative-v1.23.0
# data-plane/config/source/500-dispatcher.yaml: requests cpu 1000m, memory 700Mi "600Mi for virtual replicas
# + 100Mi overhead"; limits cpu 2000m, memory 1000Mi; control-plane/config/eventing-kafka-broker/
# 200-controller/500-controller.yaml: POD_CAPACITY '20'). 600Mi for 20 consumers is 30Mi a consumer.
DISPATCHER_BASE_MEMORY = 100
DISPATCHER_MEMORY_PER_CONSUMER = 30
MAX_POD_CAPACITY = 1000


def dispatcher_memory_needed(pod_capacity: int) -> int:
    return DISPATCHER_BASE_MEMORY + DISPATCHER_MEMORY_PER_CONSUMER * pod_capacity


def parse_eventing_kafka(s: Section) -> DispatcherSettings | None:
    """`eventingKafka: {dispatcherPodCapacity, dispatcherMemory}`: both or neither (upstream's 20 and 700Mi).

    Raising the consumers a dispatcher takes without its memory gets dispatchers OOM-killed at their limit
    (eventing-kafka-broker #2871), so one is refused without the other, and the memory below upstream's ratio.
    """
    capacity = s.integer("dispatcherPodCapacity", None, 1, MAX_POD_CAPACITY,
                         doc="consumers one `kafka-source-dispatcher` pod takes (`POD_CAPACITY` on the "
                             "kafka-controller); only together with `dispatcherMemory`",
                         shown="eventing-kafka's 20")
    memory = s.memory("dispatcherMemory", 0,
                      doc="each dispatcher pod's memory request, at least 100Mi + 30Mi per consumer (1300Mi for 40); "
                          "its limit scales likewise (700Mi to 1000Mi). Raising the consumers without the memory gets "
                          "dispatchers OOM-killed (eventing-kafka-broker #2871)",
                      shown="eventing-kafka's 700Mi") or None
    s.done()
    if capacity is None and memory is None:
        return None
    if capacity is None:
        raise s.fail("dispatcherMemory", f"{memory}Mi", "only together with dispatcherPodCapacity (the consumers a "
                                                       "dispatcher pod takes, upstream 20): the two are one setting")
    if memory is None:
        raise s.fail("dispatcherPodCapacity", capacity,
                     f"only together with dispatcherMemory, at least {dispatcher_memory_needed(capacity)}Mi for "
                     f"{capacity} consumers a pod: eventing-kafka sizes a dispatcher at {DISPATCHER_BASE_MEMORY}Mi "
                     f"plus {DISPATCHER_MEMORY_PER_CONSUMER}Mi a consumer (700Mi for 20), and dispatchers with more "
                     "consumers than memory are OOM-killed (eventing-kafka-broker #2871)")
    if memory < dispatcher_memory_needed(capacity):
        raise s.fail("dispatcherMemory", f"{memory}Mi",
                     f"at least {dispatcher_memory_needed(capacity)}Mi for dispatcherPodCapacity {capacity}: "
                     f"eventing-kafka sizes a dispatcher at {DISPATCHER_BASE_MEMORY}Mi plus "
                     f"{DISPATCHER_MEMORY_PER_CONSUMER}Mi a consumer (700Mi for 20), and dispatchers with more "
                     "consumers than memory are OOM-killed (eventing-kafka-broker #2871)")
    return DispatcherSettings(capacity, memory)


def parse_declared_capacity(s: Section, what: str) -> DeclaredCapacity | None:
    """`{cpu: '16', memory: '64Gi'}`, both required; an absent or empty object is no declaration."""
    if not s.data:
        s.done()
        return None
    cpu = s.cpu("cpu", 0,
                doc="vCPUs, such as `'16'` or `15500m`; required with `memory`")
    memory = s.memory("memory", 0,
                      doc="memory, such as `64Gi`; required with `cpu`")
    s.done()
    if not cpu:
        raise s.fail("cpu", None, f"the CPU {what}, such as '16' or '15500m' (required with memory)")
    if not memory:
        raise s.fail("memory", None, f"the memory {what}, such as '64Gi' (required with cpu)")
    return DeclaredCapacity(cpu, memory)


def parse_kafka_resources(s: Section) -> tuple[Resources, Resources]:
    """`kafka.resources: {brokers: ..., controllers: ...}` -> (brokers, controllers); a dual-role node
    takes the brokers' resources."""
    brokers = parse_resources(s.section("brokers",
                                        doc="each broker's (and each dual-role node's) container: `{requests: "
                                            "{cpu: 500m, memory: 2Gi}, limits: {cpu: 2, memory: 2Gi}}` by "
                                            "default"), KAFKA_BROKER_RESOURCES)
    controllers = parse_resources(s.section("controllers",
                                            doc="each KRaft controller's (`dualRole: false`): `{requests: {cpu: "
                                                "250m, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}` by "
                                                "default"), KAFKA_CONTROLLER_RESOURCES)
    s.done()
    return brokers, controllers


def read_project_config() -> dict[str, Any]:
    """Every `knative-kafka:*` key of the running stack, JSON objects decoded, prefix removed.

    Reads the whole config map (not key by key through pulumi.Config) so an unknown or misspelt
    top-level key is refused instead of silently ignored.
    """
    from pulumi.runtime import config as runtime_config

    return project_settings({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()})


def project_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The `knative-kafka:*` keys of a stack's config map as Pulumi hands it to the program (objects and lists
    as JSON text), decoded, prefix removed: refused as `pulumi preview` refuses them, whoever reads them."""
    raw: dict[str, Any] = {}
    for key, value in config.items():
        ns, _, name = key.partition(":")
        if ns != PROJECT:
            # Another provider's or Pulumi's own key (azure-native:location, pulumi:tags) is not ours to read;
            # a misspelt project namespace would otherwise drop the whole setting without a word.
            if difflib.get_close_matches(ns, [PROJECT], n=1, cutoff=PROJECT_TYPO_CUTOFF):
                raise ConfigError(f"{key}: unknown key; did you mean {PROJECT}:{name}?")
            continue
        if name not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{key}: unknown key; allowed: "
                              + ", ".join(f"{PROJECT}:{k}" for k in TOP_LEVEL_KEYS))
        try:
            raw[name] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError as e:
            raise ConfigError(f"{key}: {yaml_text(value)} is not allowed; a YAML object or list ({e})") from None
    return raw


def notices(cfg: StackConfig) -> list[str]:
    """What a valid stack may not mean, said at preview and by scripts/capacity. `functions: []` is allowed, not
    refused: it is the one way to write a stack without a function (the platform first, functions later, or
    every function removed from a live stack), since leaving the key out deploys the default one."""
    if cfg.functions:
        return []
    return [f"{PROJECT}:functions: [] deploys Knative and Kafka with no event function reading a topic (without "
            "the key the stack gets the default event-display)"]


def read(stack: str) -> StackConfig:
    """The running stack's settings, refused if invalid: the first stage of a run, before the capacity plan
    (components/capacity.py) and the checks against what the stack deployed last (components/lifecycle.py)."""
    cfg = parse(read_project_config(), stack)
    for notice in notices(cfg):
        pulumi.log.warn(notice)
    return cfg
