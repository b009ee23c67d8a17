"""The Strimzi operator and the KRaft Kafka cluster with its topics, each component alone."""
from __future__ import annotations

import pulumi_kubernetes as k8s

from components.config import Section, TopicConfig, parse_kafka
from components.strimzi import KafkaCluster, KafkaClusterArgs, StrimziOperator, StrimziOperatorArgs
from components.upstream import Upstream
from harness import SMALL_KAFKA, resolve

CHART = "kubernetes:helm.sh/v4:Chart"
KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
NODE_POOL = "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"
TOPIC = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
DEFAULT_VERSIONS = Upstream()
MY_TOPIC = (TopicConfig("my-topic", 6, 1, 1, None),)
SMALL = SMALL_KAFKA
EVENTING_ONLY = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "knative-eventing"}}}]


def kafka_config(**settings):
    return parse_kafka(Section("knative-kafka:kafka", settings))


def platform(box=None, versions=DEFAULT_VERSIONS, topics=MY_TOPIC, **settings):
    cfg = kafka_config(**settings)
    provider = k8s.Provider("k8s", kubeconfig="unused")
    operator = StrimziOperator("strimzi", StrimziOperatorArgs(versions=versions, namespace=cfg.namespace,
                                                              keep_namespace=cfg.protect, provider=provider))
    cluster = KafkaCluster("kafka", KafkaClusterArgs(config=cfg, versions=versions, topics=list(topics),
                                                     namespace=operator.namespace, provider=provider,
                                                     operator=operator.ready))
    if box is not None:
        box["cluster"] = cluster


def test_operator_is_the_pinned_helm_chart_in_its_own_namespace(pulumi_mocks):
    registry = pulumi_mocks.run(lambda: platform(**SMALL))
    chart = registry.one(CHART)
    # Strimzi publishes its chart to this OCI repository (strimzi-kafka-operator packaging/helm-charts README)
    assert chart.inputs["chart"] == "oci://quay.io/strimzi-helm/strimzi-kafka-operator"
    assert chart.inputs["version"] == "1.2.0"
    assert chart.inputs["namespace"] == "kafka-cluster"
    namespace = registry.one("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "kafka-cluster"
    assert registry.depends_on(chart, namespace)


def test_kafka_is_kraft_v1_with_a_plain_listener_on_9092_and_entity_operator(pulumi_mocks):
    registry = pulumi_mocks.run(lambda: platform(**SMALL))
    kafka = registry.one(KAFKA)
    assert kafka.inputs["apiVersion"] == "kafka.strimzi.io/v1"
    spec = kafka.inputs["spec"]
    assert "zookeeper" not in spec and "replicas" not in spec["kafka"] and "storage" not in spec["kafka"]
    assert {"name": "plain", "port": 9092, "type": "internal", "tls": False,
            "networkPolicyPeers": EVENTING_ONLY} in spec["kafka"]["listeners"]
    assert (spec["kafka"]["version"], spec["kafka"]["metadataVersion"]) == ("4.3.1", "4.3-IV0")
    assert spec["entityOperator"] == {"topicOperator": {}, "userOperator": {}}
    assert registry.depends_on(kafka, registry.one(CHART))


def test_dual_role_node_pool_carries_the_cluster_label(pulumi_mocks):
    registry = pulumi_mocks.run(lambda: platform(**SMALL))
    pool = registry.one(NODE_POOL)
    assert pool.inputs["metadata"]["labels"] == {"strimzi.io/cluster": "my-cluster"}
    assert pool.inputs["spec"] == {"replicas": 1, "roles": ["controller", "broker"], "storage": {"type": "ephemeral"},
                                   # kafka.resources.brokers' defaults (components/capacity.py)
                                   "resources": {"requests": {"cpu": "500m", "memory": "2048Mi"},
                                                 "limits": {"cpu": "2000m", "memory": "2048Mi"}}}
    assert registry.depends_on(pool, registry.one(CHART))


def test_durable_profile_splits_roles_keeps_volumes_and_replicates_internal_topics(pulumi_mocks):
    registry = pulumi_mocks.run(lambda: platform(dualRole=False, controllers=3, brokers=3, storageSize="200Gi",
                                                 protect=True))
    pools = {p.inputs["metadata"]["name"]: p for p in registry.of_type(NODE_POOL)}
    assert pools["controllers"].inputs["spec"]["roles"] == ["controller"]
    assert pools["brokers"].inputs["spec"]["roles"] == ["broker"]
    volume = pools["brokers"].inputs["spec"]["storage"]["volumes"][0]
    assert volume == {"id": 0, "type": "persistent-claim", "size": "200Gi", "deleteClaim": False,
                      "kraftMetadata": "shared"}
    config = registry.one(KAFKA).inputs["spec"]["kafka"]["config"]
    assert config["offsets.topic.replication.factor"] == 3
    assert config["transaction.state.log.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    for r in [registry.one(KAFKA), *pools.values()]:
        assert (r.protect, r.retain_on_delete) == (True, True), r.name


def test_kafka_is_awaited_with_a_long_enough_timeout(pulumi_mocks):
    registry = pulumi_mocks.run(lambda: platform(readyTimeoutSeconds=1800, **SMALL))
    kafka = registry.one(KAFKA)
    assert kafka.inputs["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    assert kafka.custom_timeouts == {"create": "1800s", "update": "1800s"}


def test_topics_come_after_the_kafka_whose_topic_operator_serves_their_finalizer(pulumi_mocks):
    topics = (TopicConfig("orders", 12, 3, 2, 86_400_000), TopicConfig("orders-dlq", 1, 3, 2, None))
    registry = pulumi_mocks.run(lambda: platform(topics=topics))
    orders = registry.one(TOPIC, "topic-orders")
    assert orders.inputs["metadata"]["namespace"] == "kafka-cluster"
    assert orders.inputs["metadata"]["labels"] == {"strimzi.io/cluster": "my-cluster"}
    assert orders.inputs["spec"] == {"partitions": 12, "replicas": 3,
                                     "config": {"min.insync.replicas": 2, "retention.ms": 86_400_000}}
    for topic in registry.of_type(TOPIC):
        assert registry.depends_on(topic, registry.one(KAFKA))
        assert topic.inputs["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}


def test_bootstrap_address_is_derived_from_the_kafka_resource(pulumi_mocks):
    box: dict = {}
    pulumi_mocks.run(lambda: platform(box, name="events", namespace="streaming", **SMALL))
    assert resolve(box["cluster"].bootstrap_servers) == "events-kafka-bootstrap.streaming.svc:9092"


def test_authenticated_kafka_accepts_only_scram_over_tls_with_acls(pulumi_mocks):
    box: dict = {}
    registry = pulumi_mocks.run(lambda: platform(box, **{**SMALL, "authentication": "scram-sha-512"}))
    spec = registry.one(KAFKA).inputs["spec"]
    assert spec["kafka"]["listeners"] == [
        {"name": "tls", "port": 9093, "type": "internal", "tls": True, "authentication": {"type": "scram-sha-512"},
         "networkPolicyPeers": EVENTING_ONLY}]
    assert spec["kafka"]["authorization"] == {"type": "simple"}
    assert resolve(box["cluster"].bootstrap_servers) == "my-cluster-kafka-bootstrap.kafka-cluster.svc:9093"


def test_authenticated_kafka_uses_a_cluster_ca_owned_by_pulumi(pulumi_mocks):
    box: dict = {}
    registry = pulumi_mocks.run(lambda: platform(box, **{**SMALL, "authentication": "scram-sha-512",
                                                         "caValidityDays": 730}))
    kafka = registry.one(KAFKA)
    assert kafka.inputs["spec"]["clusterCa"] == {"generateCertificateAuthority": False,
                                                 "generateSecretOwnerReference": False}
    cert = registry.one("tls:index/selfSignedCert:SelfSignedCert")
    assert (cert.inputs["isCaCertificate"], cert.inputs["validityPeriodHours"]) == (True, 730 * 24)
    assert "earlyRenewalHours" not in cert.inputs, "a silent CA replacement would break every broker certificate"
    secrets = {s.inputs["metadata"]["name"]: s for s in registry.of_type("kubernetes:core/v1:Secret")}
    assert set(secrets) == {"my-cluster-cluster-ca-cert", "my-cluster-cluster-ca"}
    for name, generation, key in (("my-cluster-cluster-ca-cert", "ca-cert-generation", "ca.crt"),
                                  ("my-cluster-cluster-ca", "ca-key-generation", "ca.key")):
        meta = secrets[name].inputs["metadata"]
        assert meta["labels"] == {"strimzi.io/kind": "Kafka", "strimzi.io/cluster": "my-cluster"}
        assert meta["annotations"] == {f"strimzi.io/{generation}": "0"}
        assert list(secrets[name].inputs["stringData"]) == [key]
        assert registry.depends_on(kafka, secrets[name]), "the CA must exist before Strimzi would generate one"
    assert secrets["my-cluster-cluster-ca"].secret_inputs == {"stringData"}
    assert resolve(box["cluster"].auth.ca_certificate) == "-----BEGIN CERTIFICATE-----my-cluster-cluster-ca"


def test_without_authentication_strimzi_keeps_its_own_ca_and_the_plain_listener(pulumi_mocks):
    box: dict = {}
    registry = pulumi_mocks.run(lambda: platform(box, **SMALL))
    assert "clusterCa" not in registry.one(KAFKA).inputs["spec"]
    assert "authorization" not in registry.one(KAFKA).inputs["spec"]["kafka"]
    assert registry.of_type("kubernetes:core/v1:Secret") == []
    assert box["cluster"].auth is None


def test_a_protected_kafka_keeps_its_namespace_and_so_its_volume_claims_on_destroy(pulumi_mocks):
    protected = pulumi_mocks.run(lambda: platform(**{**SMALL, "storage": "persistent-claim", "protect": True}))
    namespace = protected.one("kubernetes:core/v1:Namespace")
    assert namespace.retain_on_delete is True
    for claimant in protected.of_type(NODE_POOL):
        assert claimant.inputs["spec"]["storage"]["volumes"][0]["deleteClaim"] is False
    unprotected = pulumi_mocks.run(lambda: platform(**SMALL))
    assert unprotected.one("kubernetes:core/v1:Namespace").retain_on_delete is False


def test_the_client_listener_admits_eventing_kafka_and_the_client_pods_of_function_namespaces(pulumi_mocks):
    cfg = kafka_config(**SMALL)

    def program():
        provider = k8s.Provider("k8s", kubeconfig="unused")
        KafkaCluster("kafka", KafkaClusterArgs(config=cfg, versions=DEFAULT_VERSIONS, topics=list(MY_TOPIC),
                                               namespace="kafka-cluster", provider=provider, operator=[],
                                               client_namespaces=["payments", "default", "payments"]))

    listeners = pulumi_mocks.run(program).one(KAFKA).inputs["spec"]["kafka"]["listeners"]
    client_pods = {"knative-kafka.dev/kafka-client": "true"}
    for listener in listeners:
        assert listener["networkPolicyPeers"] == [
            *EVENTING_ONLY,
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}},
             "podSelector": {"matchLabels": client_pods}},
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "payments"}},
             "podSelector": {"matchLabels": client_pods}}]
