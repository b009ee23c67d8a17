"""Event functions alone: a Knative Service fed by a KafkaSource, bounded by the topic's partitions."""
from __future__ import annotations

import subprocess
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components import commands
from components.config import parse
from components.event_function import EventFunctions, EventFunctionsArgs
from components.kube import KubeObject
from components.strimzi import KafkaAuth
from harness import SMALL_KAFKA, resolve, small_stack

SERVICE = "kubernetes:serving.knative.dev/v1:Service"
KAFKA_SOURCE = "kubernetes:sources.knative.dev/v1:KafkaSource"
KAFKA_SINK = "kubernetes:eventing.knative.dev/v1alpha1:KafkaSink"
NAMESPACE = "kubernetes:core/v1:Namespace"
SCALE = "autoscaling.knative.dev/"
TOPICS = [{"name": "orders", "partitions": 6}, {"name": "audit", "partitions": 3}]


def functions_program(functions: list[dict[str, Any]], box: dict | None = None, topics=TOPICS, auth=False):
    """EventFunctions wired to stand-ins for what the other components provide."""
    kafka_settings = {**SMALL_KAFKA, "authentication": "scram-sha-512" if auth else "none"}
    cfg = parse(small_stack(topics=topics, functions=functions, kafka=kafka_settings), "test")
    provider = k8s.Provider("k8s", kubeconfig="unused")
    kafka_auth = None
    if auth:
        kafka = KubeObject("my-cluster", "kafka.strimzi.io/v1", "Kafka",
                           metadata={"name": "my-cluster", "namespace": "kafka-cluster"}, spec={},
                           opts=pulumi.ResourceOptions(provider=provider))
        kafka_auth = KafkaAuth(kafka, kafka.field("namespace"), kafka.field("name"),
                               pulumi.Output.secret("CLUSTER-CA-PEM"))
    serving = k8s.yaml.v2.ConfigGroup("serving", files=["serving.yaml"], opts=pulumi.ResourceOptions(provider=provider))
    source_plane = k8s.yaml.v2.ConfigGroup("kafka-source", files=["source.yaml"],
                                           opts=pulumi.ResourceOptions(provider=provider))
    sink_plane = k8s.yaml.v2.ConfigGroup("kafka-sink", files=["sink.yaml"],
                                         opts=pulumi.ResourceOptions(provider=provider))
    topic_objects = {
        t.name: KubeObject(f"topic-{t.name}", "kafka.strimzi.io/v1", "KafkaTopic",
                           metadata={"name": t.name, "namespace": "kafka-cluster"}, spec={"partitions": t.partitions},
                           opts=pulumi.ResourceOptions(provider=provider))
        for t in [*cfg.topics, *cfg.dead_letter_topics]}
    result = EventFunctions("functions", EventFunctionsArgs(
        functions=cfg.functions, bootstrap_servers="my-cluster-kafka-bootstrap.kafka-cluster.svc:9092",
        kafka_image="quay.io/strimzi/kafka:1.2.0-kafka-4.3.1",
        topics=topic_objects, kafka_auth=kafka_auth, provider=provider, serving=[serving], kafka_source=[source_plane],
        kafka_sink=[sink_plane]))
    if box is not None:
        box["functions"] = result


def run(pulumi_mocks, *functions: dict[str, Any], **kwargs):
    return pulumi_mocks.run(lambda: functions_program(list(functions), **kwargs))


def template_annotations(registry, name: str) -> dict[str, str]:
    service = registry.one(SERVICE, f"{name}-service")
    return service.inputs["spec"]["template"]["metadata"]["annotations"]


def test_ordered_function_is_bounded_by_the_partitions_of_its_topic(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders"}, {"name": "auditor", "topic": "audit"})
    assert registry.one(KAFKA_SOURCE, "billing-source").inputs["spec"]["consumers"] == 6
    assert template_annotations(registry, "billing")[SCALE + "max-scale"] == "6"
    assert registry.one(KAFKA_SOURCE, "auditor-source").inputs["spec"]["consumers"] == 3
    assert template_annotations(registry, "auditor")[SCALE + "max-scale"] == "3"


def test_unordered_function_has_no_partition_bound_on_replicas(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "fanout", "topic": "orders", "ordering": "unordered"})
    assert SCALE + "max-scale" not in template_annotations(registry, "fanout")
    spec = registry.one(KAFKA_SOURCE).inputs["spec"]
    assert (spec["ordering"], spec["consumers"]) == ("unordered", 6)


def test_every_autoscaling_knob_becomes_a_string_annotation(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "tuned", "topic": "orders", "autoscaling": {
        "metric": "concurrency", "target": 2.5, "minScale": 1, "maxScale": 4, "initialScale": 2,
        "window": "30s", "scaleDownDelay": "5m", "targetUtilizationPercentage": 80}})
    assert template_annotations(registry, "tuned") == {
        SCALE + "class": "kpa.autoscaling.knative.dev", SCALE + "metric": "concurrency", SCALE + "target": "2.5",
        SCALE + "min-scale": "1", SCALE + "max-scale": "4", SCALE + "initial-scale": "2", SCALE + "window": "30s",
        SCALE + "scale-down-delay": "5m", SCALE + "target-utilization-percentage": "80"}


def test_hpa_class_keeps_one_replica(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "cruncher", "topic": "orders",
                                  "autoscaling": {"class": "hpa", "metric": "cpu", "target": 70}})
    assert template_annotations(registry, "cruncher") == {
        SCALE + "class": "hpa.autoscaling.knative.dev", SCALE + "metric": "cpu", SCALE + "target": "70",
        SCALE + "min-scale": "1", SCALE + "max-scale": "6"}


def test_kafka_source_reads_the_topic_resource_and_sinks_into_the_service(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders", "namespace": "payments"})
    source = registry.one(KAFKA_SOURCE)
    spec = source.inputs["spec"]
    assert spec["topics"] == ["orders"]
    assert spec["bootstrapServers"] == ["my-cluster-kafka-bootstrap.kafka-cluster.svc:9092"]
    assert spec["consumerGroup"] == "knative-kafka-payments-billing"
    assert spec["initialOffset"] == "earliest"
    assert spec["sink"] == {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                    "name": "billing", "namespace": "payments"}}
    service = registry.one(SERVICE)
    for needed in (service, registry.named("topic-orders"), registry.named("kafka-source")):
        assert needed.urn in source.dependencies, needed.name
    assert registry.depends_on(service, registry.named("serving"))


def test_delivery_settings_and_dead_letter_sink(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders", "timeoutSeconds": 120, "delivery": {
        "retry": 3, "backoffPolicy": "linear", "backoffDelay": "PT1S", "timeout": "PT90S"}})
    sink = registry.one(KAFKA_SINK)
    assert sink.inputs["spec"] == {"topic": "orders-dlq",
                                   "bootstrapServers": ["my-cluster-kafka-bootstrap.kafka-cluster.svc:9092"]}
    assert registry.named("topic-orders-dlq").urn in sink.dependencies
    assert registry.named("kafka-sink").urn in sink.dependencies
    delivery = registry.one(KAFKA_SOURCE).inputs["spec"]["delivery"]
    assert delivery == {"retry": 3, "backoffPolicy": "linear", "backoffDelay": "PT1S", "timeout": "PT90S",
                        "deadLetterSink": {"ref": {"apiVersion": "eventing.knative.dev/v1alpha1", "kind": "KafkaSink",
                                                   "name": "billing-dead-letter", "namespace": "default"}}}
    assert registry.one(SERVICE).inputs["spec"]["template"]["spec"]["timeoutSeconds"] == 120


def test_dead_letter_sink_can_be_switched_off(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders", "deadLetter": {"enabled": False}})
    assert registry.of_type(KAFKA_SINK) == []
    assert "deadLetterSink" not in registry.one(KAFKA_SOURCE).inputs["spec"]["delivery"]


def test_functions_sharing_a_namespace_and_a_topic_share_one_namespace_and_one_dead_letter_topic(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "a", "topic": "orders", "namespace": "team"},
                   {"name": "b", "topic": "orders", "namespace": "team"},
                   {"name": "c", "topic": "audit", "namespace": "default"})
    assert [n.inputs["metadata"]["name"] for n in registry.of_type(NAMESPACE)] == ["team"]
    assert sorted(r.name for r in registry.of_type("kubernetes:kafka.strimzi.io/v1:KafkaTopic")) == [
        "topic-audit", "topic-audit-dlq", "topic-orders", "topic-orders-dlq"]
    team = registry.one(NAMESPACE)
    for name in ("a", "b"):
        assert registry.depends_on(registry.one(SERVICE, f"{name}-service"), team)
    assert not registry.depends_on(registry.one(SERVICE, "c-service"), team)


def test_outputs_per_function(pulumi_mocks):
    box: dict = {}
    pulumi_mocks.run(lambda: functions_program([{"name": "billing", "topic": "orders", "namespace": "payments"}], box))
    assert resolve(box["functions"].outputs) == {"billing": {
        "url": "http://billing.payments.svc.cluster.local", "kafkaSource": "billing",
        "consumerGroup": "knative-kafka-payments-billing", "deadLetterTopic": "orders-dlq", "identity": None,
        "commands": {
            "produce": "kubectl -n payments run kafka-producer -ti --rm --restart=Never "
                       "--image=quay.io/strimzi/kafka:1.2.0-kafka-4.3.1 --override-type=strategic --overrides='"
                       '{"metadata":{"labels":{"knative-kafka.dev/kafka-client":"true"}},'
                       '"spec":{"containers":[{"name":"kafka-producer","securityContext":{"runAsNonRoot":true,'
                       '"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},'
                       '"seccompProfile":{"type":"RuntimeDefault"}}}]}}'
                       "' -- bin/kafka-console-producer.sh "
                       "--bootstrap-server my-cluster-kafka-bootstrap.kafka-cluster.svc:9092 --topic orders",
            "load": "kubectl -n payments run kafka-load -i --rm --restart=Never "
                    "--image=quay.io/strimzi/kafka:1.2.0-kafka-4.3.1 --override-type=strategic --overrides='"
                    '{"metadata":{"labels":{"knative-kafka.dev/kafka-client":"true"}},'
                    '"spec":{"containers":[{"name":"kafka-load","securityContext":{"runAsNonRoot":true,'
                    '"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},'
                    '"seccompProfile":{"type":"RuntimeDefault"}}}]}}'
                    "' -- bin/kafka-producer-perf-test.sh "
                    "--topic orders --num-records ${RECORDS:-50000} --record-size 512 --throughput -1 "
                    "--producer-props bootstrap.servers=my-cluster-kafka-bootstrap.kafka-cluster.svc:9092",
            "logs": "kubectl -n payments logs -f -l serving.knative.dev/service=billing -c user-container "
                    "--max-log-requests 20",
            "watchScale": "kubectl -n payments get pods -l serving.knative.dev/service=billing -w",
        }}}


def test_each_function_is_its_own_component(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "a", "topic": "orders"}, {"name": "b", "topic": "audit"})
    components = registry.of_type("knative-kafka:functions:EventFunction")
    assert sorted(c.name for c in components) == ["a", "b"]
    for component in components:
        kinds = sorted(r.type.rsplit(":", 1)[1] for r in registry.children_of(component))
        assert kinds == ["KafkaSink", "KafkaSource", "NetworkPolicy", "Service"]


def test_authenticated_function_gets_a_kafka_user_allowed_exactly_its_topic_group_and_dead_letters(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders", "namespace": "payments"}, auth=True)
    user = registry.one("kubernetes:kafka.strimzi.io/v1:KafkaUser")
    assert user.inputs["metadata"] == {"name": "billing", "namespace": "kafka-cluster",
                                       "labels": {"strimzi.io/cluster": "my-cluster"},
                                       "annotations": {"pulumi.com/waitFor": "condition=Ready"}}
    spec = user.inputs["spec"]
    assert spec["authentication"] == {"type": "scram-sha-512", "password": {"valueFrom": {"secretKeyRef": {
        "name": "billing-kafka-password", "key": "password"}}}}
    assert spec["authorization"] == {"type": "simple", "acls": [
        {"resource": {"type": "topic", "name": "orders", "patternType": "literal"},
         "operations": ["Describe", "Read"]},
        {"resource": {"type": "group", "name": "knative-kafka-payments-billing", "patternType": "literal"},
         "operations": ["Read", "Delete"]},
        {"resource": {"type": "topic", "name": "orders-dlq", "patternType": "literal"},
         "operations": ["Describe", "Write"]},
    ]}
    assert registry.depends_on(user, registry.named("my-cluster")), "the user operator runs in the Kafka"


def test_authenticated_source_and_sink_read_credentials_from_their_own_namespace(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders", "namespace": "payments"}, auth=True)
    secrets = {r.inputs["metadata"]["name"]: r for r in registry.of_type("kubernetes:core/v1:Secret")}
    assert secrets["billing-kafka-password"].inputs["metadata"]["namespace"] == "kafka-cluster"
    client = secrets["billing-kafka-auth"]
    assert client.inputs["metadata"]["namespace"] == "payments"
    assert client.inputs["stringData"] == {
        "protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "user": "billing",
        "password": "password-of-billing-kafka-password", "ca.crt": "CLUSTER-CA-PEM"}
    assert client.secret_inputs >= {"stringData"}
    assert secrets["billing-kafka-password"].secret_inputs >= {"stringData"}

    def ref(key: str) -> dict:
        return {"secretKeyRef": {"name": "billing-kafka-auth", "key": key}}

    source = registry.one(KAFKA_SOURCE)
    assert source.inputs["spec"]["net"] == {
        "sasl": {"enable": True, "user": ref("user"), "password": ref("password"), "type": ref("sasl.mechanism")},
        "tls": {"enable": True, "caCert": ref("ca.crt")}}
    sink = registry.one(KAFKA_SINK)
    assert sink.inputs["spec"]["auth"] == {"secret": {"ref": {"name": "billing-kafka-auth"}}}
    user = registry.one("kubernetes:kafka.strimzi.io/v1:KafkaUser")
    for consumer in (source, sink):
        assert registry.depends_on(consumer, user), "ACLs must exist before the first fetch"
        assert registry.depends_on(consumer, client)


def test_without_authentication_no_credentials_exist(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders"})
    assert registry.of_type("kubernetes:kafka.strimzi.io/v1:KafkaUser") == []
    assert registry.of_type("kubernetes:core/v1:Secret") == []
    assert "net" not in registry.one(KAFKA_SOURCE).inputs["spec"]


@pytest.mark.parametrize(("records", "sent"), [(None, "50000"), ("2000", "2000")])
def test_the_load_command_sends_the_given_number_of_records_at_full_speed(tmp_path, records, sent):
    """The blog's step 6: a burst, not typed lines, so the function scales to its bound."""
    (tmp_path / "kubectl").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n')
    (tmp_path / "kubectl").chmod(0o755)
    command = commands.load("payments", "quay.io/strimzi/kafka:1.2.0-kafka-4.3.1", "bootstrap:9092", "orders")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", **({"RECORDS": records} if records else {})}
    subprocess.run(["/bin/bash", "-c", command], env=env, check=True, timeout=30)
    args = (tmp_path / "args").read_text().splitlines()
    assert args[args.index("--num-records") + 1] == sent
    assert args[args.index("--throughput") + 1] == "-1", "as fast as Kafka takes them"
    assert args[args.index("--topic") + 1] == "orders"


def test_fields_eventing_kafka_will_not_update_are_changed_by_replacing_the_object_deleted_first(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders"})
    source = registry.one(KAFKA_SOURCE)
    assert (source.replace_on_changes, source.delete_before_replace) == (["spec.consumerGroup"], True)
    sink = registry.one(KAFKA_SINK)
    assert sink.replace_on_changes == ["spec.topic", "spec.numPartitions", "spec.replicationFactor"]
    assert sink.delete_before_replace is True, "the new object has the same name"
    service = registry.one(SERVICE)
    assert (service.replace_on_changes, service.delete_before_replace) == ([], False), "a Service just updates"
