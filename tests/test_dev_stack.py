"""The dev stack reproduces the recipe's demo, end to end, through the whole __main__.py."""
from __future__ import annotations

import pytest
import yaml

from harness import Registry, is_secret, resolve

SERVICE = "kubernetes:serving.knative.dev/v1:Service"
KAFKA_SOURCE = "kubernetes:sources.knative.dev/v1:KafkaSource"
KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
TOPIC = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
GROUP = "kubernetes:yaml/v2:ConfigGroup"


@pytest.fixture
def dev(pulumi_mocks) -> Registry:
    return pulumi_mocks.run_main("dev")


def test_topic_has_six_partitions(dev):
    topic = dev.one(TOPIC, "topic-my-topic")
    assert topic.inputs["metadata"]["name"] == "my-topic"
    assert topic.inputs["metadata"]["labels"] == {"strimzi.io/cluster": "my-cluster"}
    assert topic.inputs["spec"]["partitions"] == 6


def test_kafka_source_reads_my_topic_with_six_consumers(dev):
    spec = dev.one(KAFKA_SOURCE).inputs["spec"]
    assert spec["topics"] == ["my-topic"]
    assert spec["consumers"] == 6
    assert spec["bootstrapServers"] == ["my-cluster-kafka-bootstrap.kafka-cluster.svc:9092"]


def test_kafka_source_sinks_into_the_event_display_service(dev):
    service = dev.one(SERVICE)
    assert service.inputs["metadata"] == {"name": "event-display", "namespace": "default",
                                          "annotations": {"pulumi.com/waitFor": "condition=Ready"},
                                          "labels": {"networking.knative.dev/visibility": "cluster-local"}}
    sink = dev.one(KAFKA_SOURCE).inputs["spec"]["sink"]["ref"]
    assert sink == {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                    "name": "event-display", "namespace": "default"}
    source = dev.one(KAFKA_SOURCE)
    assert service.urn in source.dependencies


def test_event_display_scales_on_five_requests_per_second(dev):
    template = dev.one(SERVICE).inputs["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/target"] == "5"
    assert annotations["autoscaling.knative.dev/metric"] == "rps"
    [container] = template["spec"]["containers"]
    assert container["image"] == "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"


def test_every_kubernetes_resource_uses_the_one_explicit_provider(dev):
    providers = dev.of_type("pulumi:providers:kubernetes")
    assert len(providers) == 1
    objects = dev.kubernetes_objects()
    assert len(objects) >= 15
    assert {r.provider_urn for r in objects} == {providers[0].urn}


def test_provider_kubeconfig_is_secret_and_exported_as_secret(dev):
    provider = dev.one("pulumi:providers:kubernetes")
    kubeconfig = provider.inputs["kubeconfig"]
    assert "kubelogin" in str(kubeconfig)
    assert is_secret(dev.exports["kubeconfig"])
    assert yaml.safe_load(resolve(dev.exports["kubeconfig"]))["users"][0]["user"]["exec"]["command"] == "kubelogin"


def test_dependency_chain_from_cluster_to_kafka_source(dev):
    chain = [
        dev.one("azure-native:containerservice:ManagedCluster"),
        dev.one("command:local:Command"),          # the deployer's access works
        dev.one("pulumi:providers:kubernetes"),
        dev.one("kubernetes:helm.sh/v4:Chart"),
        dev.one(KAFKA),
        dev.one(TOPIC, "topic-my-topic"),
        dev.one(KAFKA_SOURCE),
    ]
    for later, earlier in zip(chain[1:], chain[:-1], strict=True):
        assert dev.depends_on(later, earlier), f"{later.name} does not wait for {earlier.name}"
    source = dev.one(KAFKA_SOURCE)
    for group in ("eventing-core", "eventing-kafka-controller", "eventing-kafka-source", "serving-core", "kourier"):
        assert dev.depends_on(source, dev.one(GROUP, group)), group


def test_exports_describe_the_function_and_the_recipes_manual_checks(dev):
    assert resolve(dev.exports["bootstrapServers"]) == "my-cluster-kafka-bootstrap.kafka-cluster.svc:9092"
    exported = resolve(dev.exports["functions"])["event-display"]
    commands = exported.pop("commands")
    assert exported == {
        "url": "http://event-display.default.svc.cluster.local",
        "kafkaSource": "event-display",
        "consumerGroup": "knative-kafka-default-event-display",
        "deadLetterTopic": "my-topic-dlq",
        "identity": None,
    }
    # Strimzi's Kafka images are tagged <operator version>-kafka-<Kafka version> (Strimzi docs, "Container images")
    assert "--image=quay.io/strimzi/kafka:1.2.0-kafka-4.3.1" in commands["produce"]
    assert "--topic my-topic" in commands["produce"]
    assert commands["watchScale"] == "kubectl -n default get pods -l serving.knative.dev/service=event-display -w"
    assert resolve(dev.exports["kubeconfigCommand"]) == (
        "pulumi stack output kubeconfig --show-secrets --stack dev > kubeconfig-dev.yaml")
    # the outputs the README lists for AKS stacks
    assert (resolve(dev.exports["resourceGroup"]), resolve(dev.exports["clusterName"])) == ("knative-kafka-dev",
                                                                                           "aks-dev")
