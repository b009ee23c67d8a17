"""What scripts/scale-demo needs from the platform: Strimzi's Kafka Exporter (consumer lag observable) and,
on an authenticated Kafka, a producer identity for the load command, made only when a function asks for it."""
from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from test_event_functions import functions_program

from components import commands
from components.config import ConfigError, Resources, parse
from harness import SMALL_KAFKA, resolve, small_stack, stack_config

KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
KAFKA_USER = "kubernetes:kafka.strimzi.io/v1:KafkaUser"
SECRET = "kubernetes:core/v1:Secret"
CHART = "kubernetes:helm.sh/v4:Chart"
TOPICS = [{"name": "orders", "partitions": 6}]


def kafka(**exporter: Any) -> dict[str, Any]:
    """dev's kafka settings with `exporter` under them."""
    return {"kafka": {**stack_config("dev")["kafka"], "exporter": exporter}}


def fn(**settings: Any) -> dict[str, Any]:
    return {"topics": TOPICS, "functions": [{"name": "fn", "topic": "orders", **settings}]}


# (what the user set, the config key the message must name, what it must say is allowed)
REFUSED = [
    pytest.param(kafka(enabled="yes"), "kafka.exporter.enabled", "true or false", id="enabled-as-string"),
    pytest.param(kafka(resources={"requests": {"cpu": "2 cores"}}), "kafka.exporter.resources.requests.cpu",
                 "a CPU quantity such as '250m' or '1'", id="cpu-with-words"),
    pytest.param(kafka(resources={"requests": {"cpu": 0}}), "kafka.exporter.resources.requests.cpu",
                 "(at least 1m)", id="zero-cpu"),
    pytest.param(kafka(resources={"limits": {"memory": "128MB"}}), "kafka.exporter.resources.limits.memory",
                 "a memory quantity such as '256Mi' or '1Gi'", id="memory-in-megabytes"),
    pytest.param(kafka(resources={"limits": {"cpu": "100m"}}), "kafka.exporter.resources.limits.cpu",
                 "at least requests.cpu (200m): Kubernetes refuses a container whose request is above its limit",
                 id="cpu-limit-below-request"),
    pytest.param(kafka(resources={"requests": {"memory": "256Mi"}, "limits": {"memory": "128Mi"}}),
                 "kafka.exporter.resources.limits.memory", "at least requests.memory (256Mi)",
                 id="memory-limit-below-request"),
    pytest.param(kafka(resources={"requests": {"gpu": 1}}), "kafka.exporter.resources.requests",
                 "unknown key(s) gpu; allowed: cpu, memory", id="unknown-resource"),
    pytest.param(kafka(image="quay.io/strimzi/kafka:latest"), "kafka.exporter", "unknown key(s) image",
                 id="unknown-exporter-key"),
    pytest.param(kafka(enabled=False, resources={"requests": {"cpu": "100m"}}), "kafka.exporter.resources",
                 "only with enabled: true (the exporter is off)", id="resources-of-a-disabled-exporter"),
    pytest.param({"kafka": {**stack_config("dev")["kafka"], "exporter": "on"}}, "kafka.exporter",
                 "an object (key: value)", id="exporter-not-an-object"),
    pytest.param(fn(loadProducer="yes"), "functions[0].loadProducer", "true or false", id="load-producer-as-string"),
    pytest.param({"topics": TOPICS, "functions": [{"name": "f" * 55, "topic": "orders", "loadProducer": True}]},
                 "functions[0].loadProducer", "only for a function name of at most 54 characters: Strimzi labels",
                 id="load-producer-of-a-long-name"),
]


@pytest.mark.parametrize(("settings", "key", "allowed"), REFUSED)
def test_refused_settings_name_key_value_and_what_is_allowed(pulumi_mocks, settings, key, allowed):
    with pytest.raises(ConfigError) as refused:
        pulumi_mocks.run_main("dev", settings)
    message = str(refused.value)
    assert message.startswith(f"knative-kafka:{key}: "), message
    assert " is not allowed; " in message or ": unknown key(s) " in message, message
    assert allowed in message, message
    assert pulumi_mocks.monitor.registrations == {}, "resources were registered before the refusal"


def exporter_of(**exporter: Any) -> Resources | None:
    return parse(small_stack(kafka={**SMALL_KAFKA, "exporter": exporter}), "test").kafka.exporter


def test_the_exporter_is_on_by_default_with_strimzis_documented_resources():
    assert parse(small_stack(), "test").kafka.exporter == Resources(200, 64, 500, 128)
    assert exporter_of(enabled=False) is None


def test_an_exporter_limit_left_out_is_at_least_its_request():
    assert exporter_of(resources={"requests": {"cpu": "1", "memory": "256Mi"}}) == Resources(1000, 256, 1000, 256)
    assert exporter_of(resources={"requests": {"cpu": "0.1"}, "limits": {"memory": "1Gi"}}) == Resources(
        100, 64, 500, 1024)


def test_no_function_gets_a_load_producer_unless_it_asks():
    cfg = parse(small_stack(topics=TOPICS, kafka={**SMALL_KAFKA, "authentication": "scram-sha-512"},
                            functions=[{"name": "a", "topic": "orders"},
                                       {"name": "b", "topic": "orders", "loadProducer": True}]), "t")
    assert [f.load_producer for f in cfg.functions] == [False, True]


@pytest.mark.parametrize("stack", ["dev", "local", "prod"])
def test_every_stack_runs_the_kafka_exporter_on_every_topic_and_group(pulumi_mocks, stack):
    registry = pulumi_mocks.run_main(stack)
    assert registry.one(KAFKA).inputs["spec"]["kafkaExporter"] == {
        "topicRegex": ".*", "groupRegex": ".*",
        "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}}


def test_a_disabled_exporter_leaves_the_kafka_without_one(pulumi_mocks):
    registry = pulumi_mocks.run_main("dev", kafka(enabled=False))
    assert "kafkaExporter" not in registry.one(KAFKA).inputs["spec"]


# --- the producer identity ---------------------------------------------------------------------------------

def run(pulumi_mocks, *functions: dict[str, Any], auth: bool = True, box: dict | None = None):
    return pulumi_mocks.run(lambda: functions_program(list(functions), box, auth=auth))


def test_a_load_producer_may_write_its_functions_topic_and_nothing_else(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders", "namespace": "payments", "loadProducer": True})
    users = {u.inputs["metadata"]["name"]: u for u in registry.of_type(KAFKA_USER)}
    assert sorted(users) == ["billing", "billing.producer"]
    producer = users["billing.producer"]
    assert producer.inputs["metadata"] == {"name": "billing.producer", "namespace": "kafka-cluster",
                                           "labels": {"strimzi.io/cluster": "my-cluster"},
                                           "annotations": {"pulumi.com/waitFor": "condition=Ready"}}
    assert producer.inputs["spec"] == {
        "authentication": {"type": "scram-sha-512", "password": {"valueFrom": {"secretKeyRef": {
            "name": "billing.producer-password", "key": "password"}}}},
        "authorization": {"type": "simple", "acls": [
            {"resource": {"type": "topic", "name": "orders", "patternType": "literal"},
             "operations": ["Describe", "Write"]}]}}
    assert registry.depends_on(producer, registry.named("my-cluster")), "the user operator runs in the Kafka"
    assert registry.depends_on(producer, registry.named("topic-orders"))
    component = registry.one("knative-kafka:functions:EventFunction")
    assert producer.parent == component.urn
    assert producer.provider_urn == registry.one("pulumi:providers:kubernetes").urn


def test_the_producers_credentials_reach_the_functions_namespace_only_as_a_secret(pulumi_mocks):
    registry = run(pulumi_mocks, {"name": "billing", "topic": "orders", "namespace": "payments", "loadProducer": True})
    secrets = {r.inputs["metadata"]["name"]: r for r in registry.of_type(SECRET)}
    assert secrets["billing.producer-password"].inputs["metadata"]["namespace"] == "kafka-cluster"
    assert secrets["billing.producer-password"].inputs["stringData"] == {
        "password": "password-of-billing-producer-password"}
    client = secrets["billing-kafka-producer"]
    assert client.inputs["metadata"]["namespace"] == "payments"
    assert client.inputs["stringData"] == {
        "user": "billing.producer", "password": "password-of-billing-producer-password", "ca.crt": "CLUSTER-CA-PEM",
        "producer.properties": "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
                               "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                               'username="billing.producer" password="password-of-billing-producer-password";\n'
                               "ssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka-producer/ca.crt\n"}
    for secret in (client, secrets["billing.producer-password"]):
        assert secret.secret_inputs == {"stringData"}, secret.name
    assert registry.depends_on(client, registry.one(KAFKA_USER, "billing-producer-user"))


def load_command(pulumi_mocks, auth: bool, **settings: Any) -> str | None:
    box: dict = {}
    run(pulumi_mocks, {"name": "billing", "topic": "orders", "namespace": "payments", **settings}, auth=auth, box=box)
    return resolve(box["functions"].outputs)["billing"]["commands"]["load"]


def test_without_the_setting_an_authenticated_stack_has_no_load_command_and_no_producer(pulumi_mocks):
    assert load_command(pulumi_mocks, auth=True) is None
    assert [u.name for u in pulumi_mocks.run(lambda: functions_program(
        [{"name": "billing", "topic": "orders"}], auth=True)).of_type(KAFKA_USER)] == ["billing-kafka-user"]


def kubectl_args(tmp_path, command: str) -> list[str]:
    """What the exported command hands kubectl, run by bash as the user would paste it."""
    (tmp_path / "kubectl").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n')
    (tmp_path / "kubectl").chmod(0o755)
    subprocess.run(["/bin/bash", "-c", command], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, check=True, timeout=30)
    return (tmp_path / "args").read_text().splitlines()


def test_the_authenticated_load_command_mounts_the_producers_secret_and_uses_it(pulumi_mocks, tmp_path):
    command = load_command(pulumi_mocks, auth=True, loadProducer=True)
    assert command is not None and "password" not in command
    args = kubectl_args(tmp_path, command)
    assert args[:4] == ["-n", "payments", "run", "kafka-load"]
    overrides = json.loads(next(a for a in args if a.startswith("--overrides=")).split("=", 1)[1])
    assert "--override-type=strategic" in args, "merged by container name, not replacing the container list"
    assert overrides == {"metadata": {"labels": commands.CLIENT_LABEL}, "spec": {
        "containers": [{"name": "kafka-load", "securityContext": commands.RESTRICTED_CONTAINER,
                        "volumeMounts": [{"name": "producer", "mountPath": "/etc/kafka-producer", "readOnly": True}]}],
        "volumes": [{"name": "producer", "secret": {"secretName": "billing-kafka-producer"}}]}}
    tool = args[args.index("--") + 1:]
    assert tool[0] == "bin/kafka-producer-perf-test.sh"
    assert tool[tool.index("--producer.config") + 1] == "/etc/kafka-producer/producer.properties"
    assert tool[tool.index("--producer-props") + 1] == (
        "bootstrap.servers=my-cluster-kafka-bootstrap.kafka-cluster.svc:9092")
    assert tool[tool.index("--topic") + 1] == "orders"


def test_every_load_pod_meets_the_restricted_pod_security_level(pulumi_mocks, tmp_path):
    """Function namespaces enforce Pod Security `restricted`: a pod without these is refused there."""
    command = load_command(pulumi_mocks, auth=False)
    assert command is not None
    args = kubectl_args(tmp_path, command)
    overrides = json.loads(next(a for a in args if a.startswith("--overrides=")).split("=", 1)[1])
    assert overrides["spec"]["containers"] == [{"name": "kafka-load", "securityContext": {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}}}]
    assert "volumes" not in overrides["spec"]


def test_in_the_prod_stack_the_producer_identity_waits_for_strimzi_and_kafka(pulumi_mocks):
    functions = [{**stack_config("prod")["functions"][0], "loadProducer": True}]
    prod = pulumi_mocks.run_main("prod", {"functions": functions})
    producer = prod.one(KAFKA_USER, "event-display-producer-user")
    for controller in (prod.one(CHART, "strimzi-kafka-operator"), prod.one(KAFKA)):
        assert prod.depends_on(producer, controller), controller.name
    exported = resolve(prod.exports["functions"])["event-display"]["commands"]["load"]
    assert exported.startswith("kubectl -n event-display run kafka-load ")
    assert '"secretName":"event-display-kafka-producer"' in exported
