"""Strimzi: the operator (Helm chart) and a KRaft Kafka cluster with its topics."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.commands import CLIENT_LABEL
from components.config import KAFKA_POOL_NAMES, KafkaConfig, TopicConfig
from components.kube import KubeObject
from components.upstream import Upstream

STRIMZI_API = "kafka.strimzi.io/v1"
PLAIN_LISTENER = {"name": "plain", "port": 9092, "type": "internal", "tls": False}
TLS_LISTENER = {"name": "tls", "port": 9093, "type": "internal", "tls": True}
# With authentication on, clients get only this: encrypted, and no connection without a KafkaUser.
SCRAM_LISTENER = {**TLS_LISTENER, "authentication": {"type": "scram-sha-512"}}
# Custom resources are not awaited unless told how (UPSTREAM.md: pulumi-kubernetes 4.x).
WAIT_READY = {"pulumi.com/waitFor": "condition=Ready"}


@dataclass
class StrimziOperatorArgs:
    versions: Upstream
    namespace: str
    provider: k8s.Provider
    # Deleting a namespace deletes its PersistentVolumeClaims, and with the usual reclaim policy their
    # disks, whatever Strimzi's deleteClaim says (UPSTREAM.md, "Volumes on destroy").
    keep_namespace: bool


class StrimziOperator(pulumi.ComponentResource):
    """The Strimzi cluster operator in its own namespace, watching that namespace."""

    ready: list[pulumi.Resource]
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: StrimziOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:strimzi:StrimziOperator", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.ns = k8s.core.v1.Namespace(args.namespace, metadata={"name": args.namespace}, opts=pulumi.ResourceOptions(
            parent=self, provider=args.provider, retain_on_delete=args.keep_namespace))
        self.namespace = self.ns.metadata.apply(lambda m: m["name"])
        # helm.v4.Chart renders in Pulumi, so CRDs are updated on a version bump (UPSTREAM.md).
        self.chart = k8s.helm.v4.Chart(
            "strimzi-kafka-operator",
            chart=args.versions.strimzi_chart_repo,
            version=args.versions.strimzi_chart,
            namespace=self.namespace,
            values={"watchAnyNamespace": False},
            opts=k8s_opts,
        )
        self.ready = [self.chart]
        self.register_outputs({"namespace": self.namespace})


@dataclass
class KafkaClusterArgs:
    config: KafkaConfig
    versions: Upstream
    topics: Sequence[TopicConfig]
    namespace: pulumi.Input[str]
    provider: k8s.Provider
    operator: Sequence[pulumi.Resource]
    client_namespaces: Sequence[str] = ()     # where the functions' client pods (load, produce) run
    keda_namespace: str | None = None         # where KEDA reads consumer lag from (consumerScaling); None: off


def storage_spec(cfg: KafkaConfig) -> dict[str, Any]:
    if cfg.storage == "ephemeral":
        return {"type": "ephemeral"}
    volume: dict[str, Any] = {"id": 0, "type": "persistent-claim", "size": cfg.storage_size,
                              "deleteClaim": False, "kraftMetadata": "shared"}
    if cfg.storage_class:
        volume["class"] = cfg.storage_class
    return {"type": "jbod", "volumes": [volume]}


# Kafka deletes the committed offsets of a group that has been empty for offsets.retention.minutes (KIP-211;
# Kafka's broker configs: default 10080, 7 days). Under consumerScaling a group with minConsumers 0 sits empty
# while idle: its offsets would expire, KEDA would then count each partition's lag as 1 (eventing-kafka passes
# no offsetResetPolicy: eventing-kafka-broker knative-v1.23.0 control-plane/pkg/autoscaler/keda/keda.go:75-81;
# kedacore/keda pkg/scalers/kafka_scaler.go) and start a consumer, which resets to the earliest offset
# (data-plane/config/source/100-config-kafka-source-data-plane.yaml:107): the topic replayed. The largest value
# Kafka takes keeps them (an int, GroupCoordinatorConfig; turned into milliseconds as a long, as Kafka's test
# testOffsetsRetentionMsIntegerOverflow checks). A KafkaSource's deletion deletes its group, so none pile up.
KEEP_IDLE_GROUP_OFFSETS = {"offsets.retention.minutes": 2**31 - 1}


def broker_config(cfg: KafkaConfig, consumer_scaling: bool) -> dict[str, Any]:
    """Durability of Kafka's internal topics, the defaults of topics created without a spec and, with consumer
    scaling, idle groups' offsets kept."""
    return {
        "offsets.topic.replication.factor": cfg.replication_factor,
        "transaction.state.log.replication.factor": cfg.replication_factor,
        "transaction.state.log.min.isr": cfg.min_insync_replicas,
        "default.replication.factor": cfg.replication_factor,
        "min.insync.replicas": cfg.min_insync_replicas,
        "auto.create.topics.enable": False,
        **(KEEP_IDLE_GROUP_OFFSETS if consumer_scaling else {}),
    }


# Who may open a client connection: eventing-kafka's data plane (the source dispatcher, the controller
# managing consumer groups, the sink receiver) and the programs' own client pods in function namespaces.
# Strimzi turns this into the listener's NetworkPolicy; its operators and the exporter use the internal
# replication listener, which Strimzi opens to them itself.
EVENTING_NAMESPACE = "knative-eventing"


# KEDA's operator runs the scalers, so it is the pod that reads a consumer group's lag from Kafka (its metrics
# server asks the operator over gRPC). KEDA's chart labels its pods both `app` and `app.kubernetes.io/name`
# `keda-operator` (kedacore/charts keda/templates/manager/deployment.yaml, operator.name in values.yaml). No
# Microsoft page states the AKS add-on's labels, so either label admits it: networkPolicyPeers entries are OR'ed.
KEDA_OPERATOR_LABELS = ({"app": "keda-operator"}, {"app.kubernetes.io/name": "keda-operator"})


def client_peers(client_namespaces: Sequence[str], keda_namespace: str | None = None) -> list[dict[str, Any]]:
    def namespace(name: str) -> dict[str, Any]:
        return {"matchLabels": {"kubernetes.io/metadata.name": name}}

    keda = [{"namespaceSelector": namespace(keda_namespace), "podSelector": {"matchLabels": labels}}
            for labels in KEDA_OPERATOR_LABELS] if keda_namespace else []
    return [{"namespaceSelector": namespace(EVENTING_NAMESPACE)},
            *({"namespaceSelector": namespace(ns), "podSelector": {"matchLabels": CLIENT_LABEL}}
              for ns in sorted(set(client_namespaces))),
            *keda]


def listeners(cfg: KafkaConfig, client_namespaces: Sequence[str], keda_namespace: str | None = None
              ) -> list[dict[str, Any]]:
    peers = {"networkPolicyPeers": client_peers(client_namespaces, keda_namespace)}
    return [{**listener, **peers} for listener in ([SCRAM_LISTENER] if cfg.authenticated else
                                                     [PLAIN_LISTENER, TLS_LISTENER])]


@dataclass
class KafkaAuth:
    """What a client needs to authenticate to the Kafka cluster (authentication on)."""
    kafka: KubeObject                   # runs the user operator that turns KafkaUsers into credentials
    namespace: pulumi.Output[str]       # where KafkaUsers and their password secrets live
    cluster_name: pulumi.Output[str]
    ca_certificate: pulumi.Output[str]  # PEM of the cluster CA the brokers' certificates chain to


def topic_spec(topic: TopicConfig) -> dict[str, Any]:
    config: dict[str, Any] = {"min.insync.replicas": topic.min_insync_replicas}
    if topic.retention_ms is not None:
        config["retention.ms"] = topic.retention_ms
    return {"partitions": topic.partitions, "replicas": topic.replicas, "config": config}


class KafkaCluster(pulumi.ComponentResource):
    """A KRaft Kafka cluster (node pools, entity operator) and its KafkaTopics."""

    kafka: KubeObject
    topics: dict[str, KubeObject]
    bootstrap_servers: pulumi.Output[str]

    def __init__(self, name: str, args: KafkaClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:strimzi:KafkaCluster", name, None, opts)
        cfg, v = args.config, args.versions
        labels = {"strimzi.io/cluster": cfg.name}
        # protect + retain: a `pulumi destroy` or replacement must not take the data with it.
        durable = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.operator),
                                         protect=cfg.protect, retain_on_delete=cfg.protect)

        dual_role, controllers, brokers = KAFKA_POOL_NAMES      # config bounds the Kafka name by them
        pools = ([(dual_role, cfg.controllers, ["controller", "broker"])] if cfg.dual_role else
                 [(controllers, cfg.controllers, ["controller"]), (brokers, cfg.brokers, ["broker"])])
        self.node_pools = [
            KubeObject(
                f"{cfg.name}-{pool}",
                STRIMZI_API,
                "KafkaNodePool",
                metadata={"name": pool, "namespace": args.namespace, "labels": labels},
                spec={"replicas": replicas, "roles": roles, "storage": storage_spec(cfg),
                      # what the capacity plan counts (components/capacity.py); Strimzi sets no requests itself
                      "resources": (cfg.controller_resources if roles == ["controller"] else
                                    cfg.broker_resources).spec()},
                opts=durable,
            )
            for pool, replicas, roles in pools
        ]
        kafka_spec: dict[str, Any] = {
            "kafka": {
                "version": v.kafka,
                "metadataVersion": v.kafka_metadata_version,
                "listeners": listeners(cfg, args.client_namespaces, args.keda_namespace),
                "config": broker_config(cfg, args.keda_namespace is not None),
            },
            # The topic operator reconciles KafkaTopics, the user operator KafkaUsers.
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        }
        if cfg.exporter is not None:
            # Consumer lag per group and partition, and each partition's offsets, as Prometheus metrics on
            # port 9404 of its pod (Strimzi makes no Service for it). It connects on Kafka's internal
            # replication listener with its own certificate, so it needs no KafkaUser.
            kafka_spec["kafkaExporter"] = {"topicRegex": ".*", "groupRegex": ".*", "resources": cfg.exporter.spec()}
        ca_secrets: list[pulumi.Resource] = []
        self.ca_certificate: pulumi.Output[str] | None = None
        if cfg.authenticated:
            kafka_spec["kafka"]["authorization"] = {"type": "simple"}
            # Pulumi owns the cluster CA, so its certificate is known here and can be handed to
            # every KafkaSource namespace; Strimzi-generated CAs live only in Kafka's namespace.
            # Owner references off: Pulumi, not Kafka's deletion, decides when the CA goes.
            kafka_spec["clusterCa"] = {"generateCertificateAuthority": False, "generateSecretOwnerReference": False}
            self.ca_certificate, ca_secrets = self._cluster_ca(cfg, args, labels)

        self.kafka = KubeObject(
            cfg.name,
            STRIMZI_API,
            "Kafka",
            metadata={"name": cfg.name, "namespace": args.namespace, "annotations": WAIT_READY},
            spec=kafka_spec,
            opts=pulumi.ResourceOptions.merge(durable, pulumi.ResourceOptions(
                depends_on=[*self.node_pools, *ca_secrets],
                custom_timeouts=pulumi.CustomTimeouts(create=f"{cfg.ready_timeout_seconds}s",
                                                      update=f"{cfg.ready_timeout_seconds}s"))),
        )
        kafka_name = self.kafka.field("name")
        kafka_namespace = self.kafka.field("namespace")
        client_port = kafka_spec["kafka"]["listeners"][0]["port"]
        self.bootstrap_servers = pulumi.Output.concat(
            kafka_name, "-kafka-bootstrap.", kafka_namespace, f".svc:{client_port}")
        self.auth: KafkaAuth | None = None
        if self.ca_certificate is not None:
            self.auth = KafkaAuth(self.kafka, kafka_namespace, kafka_name, self.ca_certificate)

        # Topics after the Kafka: its entity operator runs the topic operator whose finalizer
        # must still be served when a topic is deleted (strimzi #11901).
        topic_labels = {"strimzi.io/cluster": kafka_name}
        self.topics = {
            t.name: KubeObject(
                f"topic-{t.name}",
                STRIMZI_API,
                "KafkaTopic",
                metadata={"name": t.name, "namespace": kafka_namespace, "labels": topic_labels,
                          "annotations": WAIT_READY},
                spec=topic_spec(t),
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.kafka]),
            )
            for t in args.topics
        }
        self.register_outputs({"bootstrapServers": self.bootstrap_servers})

    def _cluster_ca(self, cfg: KafkaConfig, args: KafkaClusterArgs,
                    labels: dict[str, str]) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        """A cluster CA for Strimzi to sign broker certificates with ("your own CA" in Strimzi's docs:
        secrets <cluster>-cluster-ca-cert / -cluster-ca, labelled and with generation 0)."""
        # Losing the CA breaks every broker certificate: it is kept like the data.
        child = pulumi.ResourceOptions(parent=self, protect=cfg.protect)
        key = tls.PrivateKey(f"{cfg.name}-cluster-ca", algorithm="RSA", rsa_bits=4096, opts=child)
        cert = tls.SelfSignedCert(
            f"{cfg.name}-cluster-ca",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{cfg.name} cluster CA", organization="knative-kafka"),
            is_ca_certificate=True,
            validity_period_hours=cfg.ca_validity_days * 24,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
            opts=child,
        )
        secret_labels = {"strimzi.io/kind": "Kafka", **labels}
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider, protect=cfg.protect,
                                          retain_on_delete=cfg.protect)
        secrets: list[pulumi.Resource] = [
            k8s.core.v1.Secret(
                f"{cfg.name}-{suffix}",
                metadata={"name": f"{cfg.name}-{suffix}", "namespace": args.namespace, "labels": secret_labels,
                          "annotations": {f"strimzi.io/{generation}": "0"}},
                string_data={data_key: value},
                opts=k8s_opts,
            )
            for suffix, generation, data_key, value in (
                ("cluster-ca-cert", "ca-cert-generation", "ca.crt", cert.cert_pem),
                ("cluster-ca", "ca-key-generation", "ca.key", key.private_key_pem_pkcs8),
            )
        ]
        return cert.cert_pem, secrets
