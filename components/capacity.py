"""Capacity: what a stack asks of its cluster at its peak, held against what the cluster can give.

Computed from the parsed settings alone, before any resource is registered (`enforce`, the last
stage of a run before the resources), so a stack whose peak cannot be scheduled is refused at preview
instead of failing its readiness waits half-way through `pulumi up`, or, grown later, silently consuming nothing: a
KafkaSource that cannot be placed whole on eventing-kafka's dispatchers runs no consumer at all
(UPSTREAM.md, "KafkaSource data-plane capacity").

The peak, in requests (what the scheduler places by), not limits:
- every function at its maxScale, each replica its container's requests plus Knative's queue-proxy;
- the KafkaSource dispatchers: ceil(all consumers / POD_CAPACITY) pods, which eventing-kafka's own
  autoscaler adds without an upper bound;
- Kafka's node pools at `kafka.resources`, Strimzi's entity operator and Kafka Exporter;
- the platform at the requests of its pinned upstream releases (tables below, each with its source).
With lag-driven consumers (consumerScaling) the plan has a second figure, idle: every consumer at its
minimum (KEDA's), every function at its minScale; KEDA's own pods count in both. The peak decides.
Against it: the pool the workload runs on (the user pool; the system pool when there is none, since
the system pool is tainted CriticalAddonsOnly otherwise) at maxCount, each node's vCPUs and memory
less what AKS reserves on it; on an existing cluster, a declared `cluster.capacity`, or nothing (the
plan is then reported, not enforced).

Not modelled: the requests of AKS's own DaemonSets on every node (CNI, CSI drivers, monitoring agent),
uneven packing of pods onto nodes, the HPA ceilings of Knative's activator and webhooks and of
Kourier's gateway (counted at their minimum). The warning margin is there for them.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi

from components.config import (
    PROJECT,
    ConfigError,
    DeclaredCapacity,
    DispatcherSettings,
    FunctionConfig,
    StackConfig,
    yaml_text,
)

# --- upstream requests, per pinned release --------------------------------------------------------

@dataclass(frozen=True)
class Pod:
    """One upstream Deployment or StatefulSet: replicas as shipped, requests of one pod (all containers)."""
    name: str
    replicas: int
    cpu: int                   # millicores
    memory: int                # MiB


@dataclass(frozen=True)
class Release:
    label: str                 # the release the numbers were read at, as the plan shows it
    pods: tuple[Pod, ...]


# Keyed by the minor of the pinned version; a pinned minor without a row is planned with the newest row
# (marked "assumed" in the plan). A Deployment without `replicas` runs 1; one under an HPA is counted at
# the HPA's minReplicas. Every number below was read at the tag named, with `git show <tag>:<path>`.

# knative/serving knative-v1.23.0 config/core/deployments/: activator.yaml (300m/60Mi; activator-hpa.yaml
# minReplicas 1, maxReplicas 20), autoscaler.yaml (replicas 1, 100m/100Mi), controller.yaml (100m/100Mi),
# webhook.yaml (100m/100Mi; webhook-hpa.yaml minReplicas 1, maxReplicas 5).
SERVING = {"1.23": Release("knative/serving 1.23.0", (
    Pod("activator", 1, 300, 60), Pod("autoscaler", 1, 100, 100), Pod("controller", 1, 100, 100),
    Pod("webhook", 1, 100, 100)))}
# knative/serving knative-v1.23.0 config/hpa-autoscaling/controller.yaml: autoscaler-hpa 30m/40Mi.
SERVING_HPA = {"1.23": Release("knative/serving 1.23.0", (Pod("autoscaler-hpa", 1, 30, 40),))}
# knative/serving knative-v1.23.0 config/core/configmaps/deployment.yaml and pkg/deployment/config.go: the
# queue-proxy requests 25m CPU (QueueSidecarCPURequestDefault) and no memory: the 400Mi default applies only
# with `queueproxy.resource-defaults` enabled, which config/core/configmaps/features.yaml ships "disabled"
# (pkg/reconciler/revision/resources/queue.go createQueueResources).
QUEUE_PROXY = {"1.23": Release("knative/serving 1.23.0", (Pod("queue-proxy", 1, 25, 0),))}
# knative-extensions/net-kourier knative-v1.23.0 config/300-controller.yaml: net-kourier-controller
# (replicas 1, 200m/200Mi, in knative-serving).
KOURIER = {"1.23": Release("net-kourier 1.23.0", (Pod("net-kourier-controller", 1, 200, 200),))}
# knative-extensions/net-kourier knative-v1.23.0 config/300-gateway.yaml: 3scale-kourier-gateway 200m/200Mi,
# HorizontalPodAutoscaler minReplicas 1, maxReplicas 10.
GATEWAY = {"1.23": Release("net-kourier 1.23.0", (Pod("3scale-kourier-gateway", 1, 200, 200),))}
# knative/eventing config/core/deployments/: controller.yaml (eventing-controller 100m/100Mi), webhook.yaml
# (eventing-webhook 100m/50Mi; webhook-hpa.yaml minReplicas 1, maxReplicas 5), job-sink.yaml (replicas 1,
# 125m/64Mi), request-reply.yaml (StatefulSet, replicas 1, no requests), pingsource-mt-adapter.yaml
# (replicas 0 until a PingSource exists). Read at knative-v1.22.2 and at main 8cf4c4b (2026-06-17), identical:
# the snapshot here has no knative-v1.23.0 tag of knative/eventing; recheck when one is at hand.
EVENTING = {"1.23": Release("knative/eventing 1.22.2 (1.23.0 not at hand)", (
    Pod("eventing-controller", 1, 100, 100), Pod("eventing-webhook", 1, 100, 50), Pod("job-sink", 1, 125, 64),
    Pod("request-reply", 1, 0, 0), Pod("pingsource-mt-adapter", 0, 125, 64)))}
# knative-extensions/eventing-kafka-broker knative-v1.23.0 control-plane/config/eventing-kafka-broker/
# (eventing-kafka-controller.yaml): 200-controller/500-controller.yaml kafka-controller 100m/100Mi,
# 200-webhook/500-webhook.yaml kafka-webhook-eventing 20m/20Mi.
EVENTING_KAFKA = {"1.23": Release("eventing-kafka-broker 1.23.0", (
    Pod("kafka-controller", 1, 100, 100), Pod("kafka-webhook-eventing", 1, 20, 20)))}
# knative-extensions/eventing-kafka-broker knative-v1.23.0 data-plane/config/sink/500-receiver.yaml
# (eventing-kafka-sink.yaml): kafka-sink-receiver 200m/450Mi.
KAFKA_SINK = {"1.23": Release("eventing-kafka-broker 1.23.0", (Pod("kafka-sink-receiver", 1, 200, 450),))}
# knative-extensions/eventing-kafka-broker knative-v1.23.0 data-plane/config/source/500-dispatcher.yaml
# (eventing-kafka-source.yaml): kafka-source-dispatcher 1000m/700Mi (limits 2000m/1000Mi); replicas are the
# kafka-controller's (ceil(consumers / POD_CAPACITY)), POD_CAPACITY '20' in 500-controller.yaml.
DISPATCHER = {"1.23": Release("eventing-kafka-broker 1.23.0", (Pod("kafka-source-dispatcher", 0, 1000, 700),))}
DISPATCHER_POD_CAPACITY = 20
DISPATCHER_MEMORY_LIMIT = 1000          # MiB, for upstream's 700Mi request
# strimzi/strimzi-kafka-operator 1.2.0 packaging/helm-charts/helm3/strimzi-kafka-operator/values.yaml:
# replicas 1, resources.requests cpu 200m, memory 384Mi (the chart's Deployment template uses both).
STRIMZI = {"1.2": Release("strimzi 1.2.0 chart", (Pod("strimzi-cluster-operator", 1, 200, 384),))}
# strimzi/strimzi-kafka-operator 1.2.0 cluster-operator/src/main/java/io/strimzi/operator/cluster/model/
# EntityTopicOperator.java, EntityUserOperator.java: `result.resources = ...getResources()`, none unless the
# Kafka sets them, and this program sets none: the entity operator pod requests nothing.
ENTITY_OPERATOR = {"1.2": Release("strimzi 1.2.0 (no requests)", (Pod("entity-operator", 1, 0, 0),))}
# kedacore/charts keda 2.20.2 values.yaml: operator, metricsServer and webhooks each replicaCount 1, requests
# 100m/100Mi (operator.name keda-operator, metricsServer keda-operator-metrics-apiserver, webhooks
# keda-admission-webhooks). The AKS add-on publishes no requests of its own: planned as the chart's, and on the
# workload's pool although the add-on's pods may run on the system pool (kube-system): the safer count.
KEDA = {"2.20": Release("KEDA chart 2.20.2", (
    Pod("keda-operator", 1, 100, 100), Pod("keda-operator-metrics-apiserver", 1, 100, 100),
    Pod("keda-admission-webhooks", 1, 100, 100)))}


def release(table: dict[str, Release], version: str) -> Release:
    """The row of a pinned version's minor; else the newest row, marked as assumed."""
    minor = ".".join(version.split(".")[:2])
    if minor in table:
        return table[minor]
    newest = table[max(table, key=lambda v: tuple(int(p) for p in v.split(".")))]
    return Release(f"{newest.label}, assumed for {version}", newest.pods)


# --- what a node gives ---------------------------------------------------------------------------

# Azure Dv5/Dsv5 and Ddv5/Ddsv5 series (learn.microsoft.com/azure/virtual-machines/sizes/general-purpose/
# dv5-series, dsv5-series, ddv5-series, ddsv5-series): Standard_D<n>[d][s]_v5 has n vCPUs and 4n GiB.
# Only the vCPU counts AKS's CPU reservation table lists (below); other sizes are declared
# (cluster.userPool.capacity).
VM_SIZES: dict[str, tuple[int, int]] = {
    f"Standard_D{n}{variant}_v5": (n * 1000, n * 4 * 1024)
    for n in (2, 4, 8, 16, 32, 64) for variant in ("ds", "s", "d", "")}
VM_SIZE = re.compile(r"^Standard_D(\d+)([a-z]*)_v5$")
# AKS node resource reservations (learn.microsoft.com/azure/aks/node-resource-reservations, AKS 1.29 and
# later): kube-reserved CPU by the host's cores (millicores); kube-reserved memory the lesser of 20MB x the
# node's max pods + 50MB and 25% of its memory; the kubelet's eviction threshold memory.available < 100Mi.
# Max pods: 250, AKS's default with Azure CNI Overlay (learn.microsoft.com/azure/aks/azure-cni-overlay), which
# components/cluster.py uses without setting maxPods. MB is counted as MiB (the larger, so the safer).
KUBE_RESERVED_CPU = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}
KUBE_RESERVED_CPU_PER_CORE_ABOVE_64 = 10          # the table's last step (420 -> 740 for 32 more cores)
AKS_MAX_PODS = 250
EVICTION_THRESHOLD = 100                           # MiB
MAX_NODES = 1000                                   # a pool's maxCount (config.parse_pool)
MARGIN = 0.15                                      # headroom under which a fitting plan warns


def kube_reserved_cpu(millicores: int) -> int:
    """The table's row for the host's cores, the next larger row for a core count between two."""
    cores = math.ceil(millicores / 1000)
    for row, reserved in KUBE_RESERVED_CPU.items():
        if cores <= row:
            return reserved
    return KUBE_RESERVED_CPU[64] + KUBE_RESERVED_CPU_PER_CORE_ABOVE_64 * (cores - 64)


def kube_reserved_memory(mebibytes: int) -> int:
    return min(20 * AKS_MAX_PODS + 50, mebibytes // 4) + EVICTION_THRESHOLD


@dataclass(frozen=True)
class Pool:
    """What a pool (or an existing cluster) gives the pods planned on it, at its largest."""
    name: str                  # "user pool", "system pool", "cluster"
    key: str                   # the config key that sizes it
    vm_size: str | None        # None: an existing cluster's declared capacity
    nodes: int
    vm_cpu: int                # one VM's millicores and MiB (existing: the declared totals)
    vm_memory: int
    reserved_cpu: int          # what AKS keeps of each node
    reserved_memory: int
    declared: bool             # the VM's size is declared, not from the table
    note: str = ""             # shown after its description

    @property
    def node_cpu(self) -> int:
        return self.vm_cpu - self.reserved_cpu

    @property
    def node_memory(self) -> int:
        return self.vm_memory - self.reserved_memory

    @property
    def cpu(self) -> int:
        return self.nodes * self.node_cpu

    @property
    def memory(self) -> int:
        return self.nodes * self.node_memory

    def describe(self) -> str:
        if self.vm_size is None:
            return f"{self.name} (declared {self.key}): {cores(self.cpu)} CPU, {gib(self.memory)} allocatable"
        return (f"{self.name}: {self.nodes} x {self.vm_size} ({cores(self.vm_cpu)} vCPU, {gib(self.vm_memory)}"
                f"{' declared' if self.declared else ''}; AKS reserves {cores(self.reserved_cpu)} CPU, "
                f"{gib(self.reserved_memory)} of each): {cores(self.cpu)} CPU, {gib(self.memory)} allocatable"
                f"{self.note}")

    def output(self) -> dict[str, Any]:
        return {"vmSize": self.vm_size, "nodes": self.nodes, "cpuMillicores": self.cpu, "memoryMiB": self.memory,
                "nodeCpuMillicores": self.node_cpu, "nodeMemoryMiB": self.node_memory,
                "reservedCpuMillicoresPerNode": self.reserved_cpu, "reservedMemoryMiBPerNode": self.reserved_memory}


def aks_pool(name: str, key: str, vm_size: str, nodes: int, declared: DeclaredCapacity | None,
             note: str = "") -> Pool | None:
    size = (declared.cpu, declared.memory) if declared is not None else VM_SIZES.get(vm_size)
    if size is None:
        return None
    vm_cpu, vm_memory = size
    return Pool(name, key, vm_size, nodes, vm_cpu, vm_memory, kube_reserved_cpu(vm_cpu),
                kube_reserved_memory(vm_memory), declared is not None, note)


# --- the plan -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Component:
    name: str
    pods: int
    cpu: int                   # millicores of all its pods
    memory: int                # MiB of all its pods
    source: str

    def output(self) -> dict[str, int]:
        return {"pods": self.pods, "cpuMillicores": self.cpu, "memoryMiB": self.memory}


@dataclass(frozen=True)
class PodSize:
    """The largest pod a setting makes: it must fit one node."""
    key: str                   # the config key that sizes it
    value: Any                 # that key's value
    cpu: int
    memory: int
    what: str


DISPATCHER_COMPONENT = "kafka-source-dispatcher"
FUNCTIONS_COMPONENT = "functions"
KEDA_COMPONENT = "keda"


@dataclass(frozen=True)
class Plan:
    stack: str
    components: tuple[Component, ...]
    consumers: int
    pod_capacity: int
    dispatcher_cpu: int        # of one dispatcher pod
    dispatcher_memory: int
    pool: Pool | None          # where the workload runs; None: an existing cluster without a declared capacity
    system_pool: Pool | None   # AKS with a user pool: the system pool, for AKS's own pods only
    pod_sizes: tuple[PodSize, ...]
    # Every consumer at its minimum and every function at its minScale; without consumerScaling only the
    # functions differ from the peak.
    idle_components: tuple[Component, ...] = ()
    idle_consumers: int = 0

    @property
    def idle(self) -> Component:
        c = self.idle_components
        return Component("idle", sum(x.pods for x in c), sum(x.cpu for x in c), sum(x.memory for x in c), "")

    def idle_component(self, name: str) -> Component:
        return next(c for c in self.idle_components if c.name == name)

    @property
    def pods(self) -> int:
        return sum(c.pods for c in self.components)

    @property
    def cpu(self) -> int:
        return sum(c.cpu for c in self.components)

    @property
    def memory(self) -> int:
        return sum(c.memory for c in self.components)

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    @property
    def headroom(self) -> tuple[float, float] | None:
        """The share of the pool's CPU and memory left at peak (negative: short by that share)."""
        if self.pool is None:
            return None
        return (1 - self.cpu / self.pool.cpu, 1 - self.memory / self.pool.memory)

    @property
    def fits(self) -> bool:
        return self.pool is None or (self.cpu <= self.pool.cpu and self.memory <= self.pool.memory)

    def output(self) -> dict[str, Any]:
        """The `capacity` stack output."""
        headroom = self.headroom
        keda = [c.output() for c in self.components if c.name == KEDA_COMPONENT]
        return {
            "components": {c.name: c.output() for c in self.components},
            "peak": {"pods": self.pods, "cpuMillicores": self.cpu, "memoryMiB": self.memory},
            "idle": self.idle.output(),
            "dispatchers": {"podCapacity": self.pod_capacity,
                            "peak": {"consumers": self.consumers, **self.component(DISPATCHER_COMPONENT).output()},
                            "idle": {"consumers": self.idle_consumers,
                                     **self.idle_component(DISPATCHER_COMPONENT).output()}},
            "keda": keda[0] if keda else None,
            "pool": self.pool.output() if self.pool else None,
            "systemPool": self.system_pool.output() if self.system_pool else None,
            "headroom": {"cpu": round(headroom[0], 3), "memory": round(headroom[1], 3)} if headroom else None,
            "enforced": self.pool is not None,
        }

    def table(self) -> str:
        rows = [f"{'component':<26}{'pods':>6}{'CPU':>9}{'memory':>11}{'idle pods':>11}{'CPU':>8}  requests from"]
        for c, i in zip(self.components, self.idle_components, strict=True):
            rows.append(f"{c.name:<26}{c.pods:>6}{cores(c.cpu):>9}{gib(c.memory):>11}{i.pods:>11}{cores(i.cpu):>8}  "
                        f"{c.source}")
        idle = self.idle
        rows.append(f"{'peak / idle':<26}{self.pods:>6}{cores(self.cpu):>9}{gib(self.memory):>11}{idle.pods:>11}"
                    f"{cores(idle.cpu):>8}")
        rows.append("")
        dispatchers = self.component(DISPATCHER_COMPONENT).pods
        idle_dispatchers = self.idle_component(DISPATCHER_COMPONENT).pods
        rows.append(f"consumers {self.consumers} at peak, {self.idle_consumers} idle, {self.pod_capacity} a dispatcher "
                    f"pod: {dispatchers} dispatcher pod{'' if dispatchers == 1 else 's'} at peak, {idle_dispatchers} "
                    "idle")
        if self.pool is None:
            rows.append("cluster: capacity not declared (cluster.capacity), so the plan is not enforced")
        else:
            rows.append(self.pool.describe())
        if self.system_pool is not None:
            rows.append(self.system_pool.describe())
        headroom = self.headroom
        if headroom is not None:
            rows.append(f"headroom at peak: CPU {headroom[0]:.0%}, memory {headroom[1]:.0%}")
        return "\n".join(rows)


def cores(millicores: int) -> str:
    return f"{millicores / 1000:.2f}"


def gib(mebibytes: int) -> str:
    return f"{mebibytes / 1024:.2f}Gi"


def refuse(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{PROJECT}:{key}: {yaml_text(value)} is not allowed; {allowed}")


def upstream(name: str, rel: Release) -> Component:
    return Component(name, sum(p.replicas for p in rel.pods), sum(p.replicas * p.cpu for p in rel.pods),
                     sum(p.replicas * p.memory for p in rel.pods), rel.label)


def pool_of(cfg: StackConfig) -> tuple[Pool | None, Pool | None]:
    """(the pool the workload runs on, the system pool when that is a separate user pool)."""
    c = cfg.cluster
    if c.mode != "aks":
        declared = c.capacity
        if declared is None:
            return None, None
        return Pool("cluster", "cluster.capacity", None, 1, declared.cpu, declared.memory, 0, 0, True), None
    system = c.system_pool
    user = c.user_pool
    work, key = (user, "cluster.userPool") if user is not None else (system, "cluster.systemPool")
    shared = "" if user is not None else " (no user pool: it runs the workload and AKS's own pods)"
    pool = aks_pool("user pool" if user is not None else "system pool", key, work.vm_size, work.max_count,
                    work.capacity, shared)
    if pool is None:
        sizes = ", ".join(sorted(VM_SIZES, key=lambda s: (VM_SIZES[s][0], s)))
        raise refuse(f"{key}.vmSize", work.vm_size,
                     f"a VM size of the capacity table ({sizes}), or its vCPUs and memory declared with "
                     f"{key}.capacity: {{cpu: '8', memory: '64Gi'}} (one VM's, before AKS's reservations)")
    if user is None:
        return pool, None
    # With a user pool the system pool runs AKS's own pods only: shown, not planned on (an unknown size, left out).
    return pool, aks_pool("system pool", "cluster.systemPool", system.vm_size, system.max_count, system.capacity,
                          " for AKS's own pods (tainted CriticalAddonsOnly)")


def plan(cfg: StackConfig) -> Plan:
    """The stack's peak and where it runs; refuses what has no peak or no known capacity."""
    v, k = cfg.versions, cfg.kafka
    components: list[Component] = [upstream("knative-serving", release(SERVING, v.knative_serving))]
    if cfg.uses_hpa:
        components.append(upstream("serving-hpa", release(SERVING_HPA, v.knative_serving)))
    components += [upstream("kourier", release(KOURIER, v.kourier)),
                   upstream("gateway", release(GATEWAY, v.kourier)),
                   upstream("knative-eventing", release(EVENTING, v.knative_eventing)),
                   upstream("eventing-kafka", release(EVENTING_KAFKA, v.eventing_kafka))]
    if cfg.uses_kafka_sink:
        components.append(upstream("kafka-sink", release(KAFKA_SINK, v.eventing_kafka)))

    settings = cfg.eventing_kafka
    dispatcher_release = release(DISPATCHER, v.eventing_kafka)
    [dispatcher] = dispatcher_release.pods
    pod_capacity = settings.pod_capacity if settings else DISPATCHER_POD_CAPACITY
    dispatcher_memory = settings.memory if settings else dispatcher.memory
    consumers = sum(f.peak_consumers for f in cfg.functions)
    idle_consumers = sum(f.idle_consumers for f in cfg.functions)

    def dispatchers(count: int) -> Component:
        # No consumer, no pod: the kafka-controller scales the set down to DISPATCHERS_MIN_REPLICAS, 0 as
        # released (UPSTREAM.md, "KafkaSource data-plane capacity").
        pods = -(-count // pod_capacity)
        return Component(DISPATCHER_COMPONENT, pods, pods * dispatcher.cpu, pods * dispatcher_memory,
                         f"{dispatcher_release.label}, {pod_capacity} consumers a pod")

    components.append(dispatchers(consumers))
    idle = {DISPATCHER_COMPONENT: dispatchers(idle_consumers)}
    if cfg.consumer_scaling is not None:
        keda = release(KEDA, v.keda_chart)
        if cfg.consumer_scaling.keda == "addon":
            keda = Release(f"{keda.label}, assumed for the AKS add-on", keda.pods)
        components.append(upstream(KEDA_COMPONENT, keda))
    pod_sizes = [PodSize("eventingKafka.dispatcherMemory", f"{dispatcher_memory}Mi", dispatcher.cpu,
                         dispatcher_memory, "a dispatcher pod")]

    components.append(upstream("strimzi-operator", release(STRIMZI, v.strimzi_chart)))
    pools = ([("kafka-dual-role", k.controllers, k.broker_resources, "brokers")] if k.dual_role else
             [("kafka-controllers", k.controllers, k.controller_resources, "controllers"),
              ("kafka-brokers", k.brokers, k.broker_resources, "brokers")])
    for name, replicas, r, key in pools:
        components.append(Component(name, replicas, replicas * r.cpu_request, replicas * r.memory_request,
                                    f"kafka.resources.{key}"))
        pod_sizes.append(PodSize(f"kafka.resources.{key}.requests", {"cpu": f"{r.cpu_request}m",
                                 "memory": f"{r.memory_request}Mi"}, r.cpu_request, r.memory_request, "a Kafka node"))
    components.append(upstream("entity-operator", release(ENTITY_OPERATOR, v.strimzi_chart)))
    if k.exporter is not None:
        components.append(Component("kafka-exporter", 1, k.exporter.cpu_request, k.exporter.memory_request,
                                    "kafka.exporter.resources"))

    queue_proxy_release = release(QUEUE_PROXY, v.knative_serving)
    [queue_proxy] = queue_proxy_release.pods
    peak_scale, idle_scale = [0, 0, 0], [0, 0, 0]      # replicas, CPU, memory
    for i, f in enumerate(cfg.functions):
        peak = f.autoscaling.max_scale
        if peak is None:
            raise refuse(f"functions[{i}].autoscaling.maxScale", None,
                         f"a number with ordering 'unordered' (function {f.name!r}): without it the function has no "
                         "peak, and the stack's capacity cannot be planned")
        r = f.workload.resources
        pod_cpu, pod_memory = r.cpu_request + queue_proxy.cpu, r.memory_request + queue_proxy.memory
        for totals, n in ((peak_scale, peak), (idle_scale, replicas_when_idle(f, cfg))):
            totals[0] += n
            totals[1] += n * pod_cpu
            totals[2] += n * pod_memory
        pod_sizes.append(PodSize(f"functions[{i}].resources.requests", {"cpu": f"{r.cpu_request}m",
                                 "memory": f"{r.memory_request}Mi"}, pod_cpu, pod_memory,
                                 f"a replica of {f.name!r} (with the queue-proxy's {queue_proxy.cpu}m)"))
    source = f"{len(cfg.functions)} at maxScale, + queue-proxy ({queue_proxy_release.label})"
    components.append(Component(FUNCTIONS_COMPONENT, peak_scale[0], peak_scale[1], peak_scale[2], source))
    idle[FUNCTIONS_COMPONENT] = Component(FUNCTIONS_COMPONENT, idle_scale[0], idle_scale[1], idle_scale[2], source)

    pool, system_pool = pool_of(cfg)
    result = Plan(cfg.stack, tuple(components), consumers, pod_capacity, dispatcher.cpu, dispatcher_memory, pool,
                  system_pool, tuple(pod_sizes), tuple(idle.get(c.name, c) for c in components), idle_consumers)
    check_pods_fit_a_node(result)
    return result


def replicas_when_idle(f: FunctionConfig, cfg: StackConfig) -> int:
    """The replicas a function keeps without events: its minScale, else none where Knative scales to zero (the
    HPA class always sets one)."""
    if f.autoscaling.min_scale is not None:
        return f.autoscaling.min_scale
    return 0 if cfg.autoscaler.enable_scale_to_zero else 1


def check_pods_fit_a_node(p: Plan) -> None:
    """A pod larger than one node's allocatable stays Pending whatever the node count."""
    pool = p.pool
    if pool is None or pool.vm_size is None:
        return
    for size in p.pod_sizes:
        if size.cpu > pool.node_cpu or size.memory > pool.node_memory:
            raise refuse(size.key, size.value,
                         f"at most {pool.node_cpu}m CPU and {pool.node_memory}Mi memory: {size.what} must fit one "
                         f"node, and a {pool.vm_size} of the {pool.name} gives {cores(pool.node_cpu)} CPU and "
                         f"{gib(pool.node_memory)} after AKS's reservations (or a larger {pool.key}.vmSize)")


# --- the verdict ------------------------------------------------------------------------------

def nodes_needed(p: Plan, node_cpu: int, node_memory: int) -> int:
    return max(-(-p.cpu // node_cpu), -(-p.memory // node_memory), 1)


def fixes(p: Plan, cfg: StackConfig) -> list[str]:
    """The cheapest edits that make the peak fit, cheapest first within each kind."""
    pool = p.pool
    assert pool is not None
    found: list[str] = []
    if pool.vm_size is None:
        found.append(f"a cluster.capacity of at least {cores(p.cpu)} CPU and {gib(p.memory)} (a larger cluster)")
    else:
        n = nodes_needed(p, pool.node_cpu, pool.node_memory)
        if n <= MAX_NODES:
            found.append(f"{pool.key}.maxCount {n} ({n} x {pool.vm_size}, {n * pool.vm_cpu // 1000} vCPUs)")
        larger = larger_sizes(p, pool)
        if larger:
            size, count = larger
            vcpus = count * VM_SIZES[size][0] // 1000
            if pool.key == "cluster.userPool":
                found.append(f"{pool.key}.vmSize {size} with maxCount {count} ({vcpus} vCPUs) under a new "
                             "userPool.name (AKS changes a pool's VM size only by replacing the pool)")
            else:  # the system pool's size is fixed once it exists: the workload moves to a user pool instead
                found.append(f"a user pool, cluster.userPool {{vmSize: {size}, maxCount: {count}}} ({vcpus} vCPUs), "
                             "which takes the workload off the system pool")
    others = Plan(p.stack, tuple(c for c in p.components if c.name != DISPATCHER_COMPONENT), 0, p.pod_capacity,
                  p.dispatcher_cpu, p.dispatcher_memory, pool, None, ())
    free_cpu, free_memory = pool.cpu - others.cpu, pool.memory - others.memory
    dispatchers = min(free_cpu // p.dispatcher_cpu, free_memory // p.dispatcher_memory) if min(
        free_cpu, free_memory) > 0 else 0
    if 0 < dispatchers * p.pod_capacity < p.consumers:
        found.append(f"at most {dispatchers * p.pod_capacity} consumers in all (now {p.consumers}; every "
                     f"{p.pod_capacity} take a dispatcher pod of {cores(p.dispatcher_cpu)} CPU and "
                     f"{p.dispatcher_memory}Mi)")
    else:
        found.append("fewer functions, or a lower autoscaling.maxScale")
    return found


def larger_sizes(p: Plan, pool: Pool) -> tuple[str, int] | None:
    """The larger VM size of the same series that holds the peak with the fewest vCPUs in all."""
    m = VM_SIZE.match(pool.vm_size or "")
    if m is None:
        return None
    best: tuple[int, int, str] | None = None
    for size, (vm_cpu, vm_memory) in VM_SIZES.items():
        other = VM_SIZE.match(size)
        if other is None or other.group(2) != m.group(2) or vm_cpu <= pool.vm_cpu:
            continue
        count = nodes_needed(p, vm_cpu - kube_reserved_cpu(vm_cpu), vm_memory - kube_reserved_memory(vm_memory))
        # fewest vCPUs in all (the cost); of equals, more and smaller nodes (spread, smaller blast radius)
        if count <= MAX_NODES and (best is None or (count * vm_cpu, -count) < best[:2]):
            best = (count * vm_cpu, -count, size)
    return (best[2], -best[1]) if best else None


def shortfall(p: Plan) -> str:
    pool = p.pool
    assert pool is not None
    short = [f"{cores(p.cpu - pool.cpu)} CPU" if p.cpu > pool.cpu else "",
             f"{gib(p.memory - pool.memory)}" if p.memory > pool.memory else ""]
    return " and ".join(s for s in short if s)


def check(p: Plan, cfg: StackConfig) -> list[str]:
    """Raise ConfigError when the peak does not fit; the warnings of one that fits within the margin."""
    pool = p.pool
    if pool is None:
        return []
    dispatchers = p.component(DISPATCHER_COMPONENT).pods
    peak = (f"at its peak (every function at maxScale, {dispatchers} dispatcher pods for {p.consumers} consumers) "
            f"the stack requests {cores(p.cpu)} CPU and {gib(p.memory)}, and {pool.describe()}")
    key = "cluster.capacity" if pool.vm_size is None else f"{pool.key}.maxCount"
    value: Any = {"cpu": cores(pool.vm_cpu), "memory": gib(pool.vm_memory)} if pool.vm_size is None else pool.nodes
    if not p.fits:
        raise refuse(key, value, f"a cluster that holds the stack: {peak}, short by {shortfall(p)}. Cheapest fixes: "
                                 + "; or ".join(fixes(p, cfg)) + f" (scripts/capacity {p.stack} shows the plan)")
    headroom = p.headroom
    assert headroom is not None
    if min(headroom) < MARGIN:
        n = None if pool.vm_size is None else max(-(-p.cpu // math.floor(pool.node_cpu * (1 - MARGIN))),
                                                  -(-p.memory // math.floor(pool.node_memory * (1 - MARGIN))))
        more = f"; {pool.key}.maxCount {n} leaves it" if n is not None and n <= MAX_NODES else ""
        return [f"{PROJECT}:{key}: {value!r} leaves {min(headroom):.0%} of the {pool.name}'s "
                f"{'CPU' if headroom[0] < headroom[1] else 'memory'} free at peak, under the {MARGIN:.0%} margin: "
                f"{peak}. AKS's own pods on each node and uneven packing are not counted, so a pod may stay "
                f"Pending{more}"]
    return []


def enforce(cfg: StackConfig) -> Plan:
    """The stage before the resources: refuse a stack whose peak does not fit, warn about one within the margin."""
    p = plan(cfg)
    for warning in check(p, cfg):
        pulumi.log.warn(warning)
    return p


# --- the dispatcher settings, applied to eventing-kafka's release files --------------------------

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
KAFKA_CONTROLLER = ("knative-eventing", "kafka-controller", "controller")          # namespace, name, container
SOURCE_DISPATCHER = ("knative-eventing", "kafka-source-dispatcher", "kafka-source-dispatcher")


def _with_container(args: pulumi.ResourceTransformArgs, type_: str, target: tuple[str, str, str],
                    change: Any) -> pulumi.ResourceTransformResult | None:
    """`change(container) -> container` on one container of one workload; None for every other resource."""
    props: dict[str, Any] = dict(args.props)
    metadata = props.get("metadata") or {}
    namespace, name, container_name = target
    if args.type_ != type_ or (metadata.get("namespace"), metadata.get("name")) != (namespace, name):
        return None
    spec = props.get("spec") or {}
    template = spec.get("template") or {}
    pod = template.get("spec") or {}
    containers = [change(c) if c.get("name") == container_name else c for c in pod.get("containers") or []]
    return pulumi.ResourceTransformResult(
        {**props, "spec": {**spec, "template": {**template, "spec": {**pod, "containers": containers}}}}, args.opts)


def dispatcher_pod_capacity(pod_capacity: int) -> pulumi.ResourceTransform:
    """POD_CAPACITY on the kafka-controller: the consumers its scheduler places on one dispatcher pod."""

    def change(container: dict[str, Any]) -> dict[str, Any]:
        env: Sequence[dict[str, Any]] = container.get("env") or []
        entry = {"name": "POD_CAPACITY", "value": str(pod_capacity)}
        if any(e.get("name") == "POD_CAPACITY" for e in env):
            return {**container, "env": [entry if e.get("name") == "POD_CAPACITY" else e for e in env]}
        return {**container, "env": [*env, entry]}

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        return _with_container(args, DEPLOYMENT, KAFKA_CONTROLLER, change)

    return transform


def dispatcher_memory(memory: int) -> pulumi.ResourceTransform:
    """The dispatcher pods' memory request, and a limit in upstream's proportion (700Mi -> 1000Mi); its CPU
    and the StatefulSet's replicas (the kafka-controller's) stay as shipped."""
    limit = -(-memory * DISPATCHER_MEMORY_LIMIT // DISPATCHER[max(DISPATCHER)].pods[0].memory)

    def change(container: dict[str, Any]) -> dict[str, Any]:
        resources = container.get("resources") or {}
        return {**container, "resources": {
            **resources,
            "requests": {**(resources.get("requests") or {}), "memory": f"{memory}Mi"},
            "limits": {**(resources.get("limits") or {}), "memory": f"{limit}Mi"}}}

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        return _with_container(args, STATEFUL_SET, SOURCE_DISPATCHER, change)

    return transform


def controller_transforms(settings: DispatcherSettings | None) -> list[pulumi.ResourceTransform]:
    return [dispatcher_pod_capacity(settings.pod_capacity)] if settings else []


def source_transforms(settings: DispatcherSettings | None) -> list[pulumi.ResourceTransform]:
    return [dispatcher_memory(settings.memory)] if settings else []


# --- how many more ---------------------------------------------------------------------------------

def most_functions(cfg: StackConfig, limit: int = 5000) -> tuple[int, int] | None:
    """How many functions shaped like the stack's first one its cluster holds at peak, beside the platform:
    (at most, at most within the warning margin). None where nothing is enforced (no declared capacity)."""
    if not cfg.functions:
        return None
    template = cfg.functions[0]

    def headroom(n: int) -> float | None:
        p = plan(replace(cfg, functions=(template,) * n))
        h = p.headroom
        return None if h is None else min(h)

    if headroom(0) is None:
        return None

    def most(margin: float) -> int:
        low, high = 0, 1
        while high <= limit and (h := headroom(high)) is not None and h >= margin:
            low, high = high, high * 2
        high = min(high, limit + 1)
        while high - low > 1:                  # headroom(low) >= margin > headroom(high)
            mid = (low + high) // 2
            h = headroom(mid)
            low, high = (mid, high) if h is not None and h >= margin else (low, mid)
        return low

    return most(0.0), most(MARGIN)
