"""Stack settings: defaults, and every refusal stops the program before any resource exists."""
from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, go_duration_seconds, iso_duration_seconds, parse
from harness import small_stack

TOPICS = [{"name": "orders", "partitions": 6}]


def function(**settings: Any) -> dict[str, Any]:
    return {"name": "fn", "topic": "orders", **settings}


# (what the user set, the config key the message must name, what it must say is allowed)
REFUSED = [
    pytest.param({"functions": [function(consumers=7)]}, "functions[0].consumers",
                 "at most 6 (the partitions of topic 'orders')", id="consumers-above-partitions"),
    pytest.param({"functions": [function(autoscaling={"maxScale": 7})]}, "functions[0].autoscaling.maxScale",
                 "at most 6 (the partitions of topic 'orders'): with ordered delivery",
                 id="max-scale-above-partitions"),
    pytest.param({"functions": [function(autoscaling={"metric": "cpu"})]}, "functions[0].autoscaling.metric",
                 "one of 'concurrency', 'rps'", id="kpa-with-cpu-metric"),
    pytest.param({"functions": [function(autoscaling={"class": "hpa", "metric": "rps"})]},
                 "functions[0].autoscaling.metric", "one of 'cpu', 'memory'", id="hpa-with-rps-metric"),
    pytest.param({"functions": [function(autoscaling={"class": "hpa", "metric": "cpu", "minScale": 0})]},
                 "functions[0].autoscaling.minScale", "the HPA cannot scale to zero", id="hpa-scale-to-zero"),
    pytest.param({"functions": [function(autoscaling={"class": "hpa", "metric": "cpu", "window": "60s"})]},
                 "functions[0].autoscaling.window", "only with class 'kpa'", id="hpa-with-window"),
    pytest.param({"functions": [function(autoscaling={"minScale": 4, "maxScale": 3})]},
                 "functions[0].autoscaling.minScale", "at most maxScale (3)", id="min-above-max"),
    pytest.param({"functions": [function(autoscaling={"minScale": 2, "initialScale": 1})]},
                 "functions[0].autoscaling.initialScale", "between minScale (2) and maxScale (6)",
                 id="initial-below-min"),
    pytest.param({"functions": [function(autoscaling={"initialScale": 9, "maxScale": 5})]},
                 "functions[0].autoscaling.initialScale", "between minScale (0) and maxScale (5)",
                 id="initial-above-max"),
    pytest.param({"functions": [function(autoscaling={"initialScale": 0})]}, "functions[0].autoscaling.initialScale",
                 "autoscaler.allowZeroInitialScale true: Knative rejects it", id="zero-initial-scale"),
    pytest.param({"functions": [function(autoscaling={"minScale": 0})], "autoscaler": {"enableScaleToZero": False}},
                 "functions[0].autoscaling.minScale", "with scale to zero off cluster-wide, Knative ignores it",
                 id="min-scale-zero-without-scale-to-zero"),
    pytest.param({"functions": [function(autoscaling={"window": "2s"})]}, "functions[0].autoscaling.window",
                 "from 6s to 3600s", id="window-too-short"),
    pytest.param({"functions": [function(autoscaling={"target": 0})]}, "functions[0].autoscaling.target",
                 "a number greater than 0", id="zero-target"),
    pytest.param({"functions": [function(autoscaling={"targetUtilizationPercentage": 120})]},
                 "functions[0].autoscaling.targetUtilizationPercentage", "at most 100", id="utilization-over-100"),
    pytest.param({"functions": [function(autoscaling={"target": "5"})]}, "functions[0].autoscaling.target",
                 "a number", id="target-as-string"),
    pytest.param({"functions": [function(ordering="random")]}, "functions[0].ordering",
                 "one of 'ordered', 'unordered'", id="unknown-ordering"),
    pytest.param({"functions": [function(initialOffset="newest")]}, "functions[0].initialOffset",
                 "one of 'earliest', 'latest'", id="unknown-initial-offset"),
    pytest.param({"functions": [function(delivery={"backoffDelay": "300ms"})]}, "functions[0].delivery.backoffDelay",
                 "an ISO-8601 duration", id="go-style-backoff-delay"),
    pytest.param({"functions": [function(delivery={"backoffPolicy": "random"})]},
                 "functions[0].delivery.backoffPolicy", "one of 'exponential', 'linear'", id="unknown-backoff"),
    pytest.param({"functions": [function(delivery={"retry": -1})]}, "functions[0].delivery.retry",
                 "a whole number at least 0", id="negative-retry"),
    pytest.param({"functions": [function(timeoutSeconds=60, delivery={"timeout": "PT120S"})]},
                 "functions[0].timeoutSeconds", "at least delivery.timeout (PT120S = 120s)",
                 id="request-timeout-below-delivery-timeout"),
    pytest.param({"functions": [function(timeoutSeconds=900)]}, "functions[0].timeoutSeconds", "at most 600",
                 id="timeout-above-knative-max"),
    pytest.param({"functions": [function(topic="payments")]}, "functions[0].topic",
                 "a topic declared under knative-kafka:topics (orders)", id="undeclared-topic"),
    pytest.param({"functions": [function(name="Event_Display")]}, "functions[0].name", "a Kubernetes name",
                 id="invalid-name"),
    pytest.param({"functions": [function(name="a" * 64)]}, "functions[0].name", "at most 63 characters",
                 id="name-too-long"),
    pytest.param({"functions": [function(), function()]}, "functions[1].name", "a name no other function has",
                 id="duplicate-function"),
    pytest.param({"functions": [function(namespace="knative-serving")]}, "functions[0].namespace",
                 "not a namespace the platform itself uses", id="system-namespace"),
    pytest.param({"functions": [function(deadLetter={"topic": "orders"})]}, "functions[0].deadLetter.topic",
                 "not also an input topic", id="dead-letter-into-input-topic"),
    pytest.param({"functions": [function(deadLetter={"enabled": "yes"})]}, "functions[0].deadLetter.enabled",
                 "true or false", id="dead-letter-flag-as-string"),
    pytest.param({"functions": [function(replicas=3)]}, "functions[0]", "unknown key(s) replicas",
                 id="unknown-function-key"),
    pytest.param({"topics": TOPICS + TOPICS}, "topics[1].name", "a name no other topic has", id="duplicate-topic"),
    pytest.param({"topics": [{"name": "orders", "partitions": 0}]}, "topics[0].partitions", "at least 1",
                 id="zero-partitions"),
    pytest.param({"topics": [{"name": "orders", "replicas": 3}]}, "topics[0].replicas",
                 "at most the number of brokers (1)", id="topic-replicas-above-brokers"),
    pytest.param({"autoscaler": {"maxScaleDownRate": 1.0}}, "autoscaler.maxScaleDownRate",
                 "a number greater than 1.0", id="scale-down-rate"),
    pytest.param({"autoscaler": {"stableWindow": "5s"}}, "autoscaler.stableWindow", "from 6s to 3600s",
                 id="stable-window"),
    pytest.param({"autoscaler": {"scaleToZeroGracePeriod": "thirty"}}, "autoscaler.scaleToZeroGracePeriod",
                 "a duration such as '60s'", id="grace-period"),
    pytest.param({"autoscaler": {"enableScaleToZero": "false"}}, "autoscaler.enableScaleToZero",
                 "true or false", id="scale-to-zero-as-string"),
    pytest.param({"versions": {"knativeServing": "latest"}}, "versions.knativeServing", "a pinned release",
                 id="unpinned-version"),
    pytest.param({"versions": {"kafka": "4.2.1"}}, "versions.kafkaMetadataVersion", "a metadata version of Kafka 4.2",
                 id="metadata-version-of-another-kafka"),
    pytest.param({"versions": {"knative": "1.23.0"}}, "versions", "unknown key(s) knative", id="unknown-version-key"),
    pytest.param({"cluster": {"kubernetesVersion": "1.33"}}, "cluster.kubernetesVersion", "1.34 or newer",
                 id="kubernetes-too-old-for-knative"),
    pytest.param({"cluster": {"kubernetesVersion": "1.35.2"}}, "cluster.kubernetesVersion", "a Kubernetes minor",
                 id="kubernetes-patch-version"),
    pytest.param({"cluster": {"authorizedIpRanges": ["0.0.0.0/0"]}}, "cluster.authorizedIpRanges",
                 "unless allowPublicApiServer is true", id="open-api-server"),
    pytest.param({"cluster": {"authorizedIpRanges": []}}, "cluster.authorizedIpRanges",
                 "the API server is otherwise open to the internet", id="unrestricted-api-server"),
    pytest.param({"cluster": {"mode": "existing"}}, "cluster.kubeconfig", "a kubeconfig path", id="existing-no-file"),
    pytest.param({"cluster": {"mode": "kind"}}, "cluster.mode", "one of 'aks', 'existing'", id="unknown-mode"),
    pytest.param({"cluster": {"userPool": {"minCount": 3, "maxCount": 2}}}, "cluster.userPool.maxCount",
                 "at least minCount (3)", id="pool-max-below-min"),
    pytest.param({"kafka": {"controllers": 3, "brokers": 1}}, "kafka.brokers", "equal to controllers (3)",
                 id="dual-role-counts-differ"),
    pytest.param({"kafka": {"dualRole": False, "controllers": 2, "brokers": 3}}, "kafka.controllers",
                 "an odd number", id="even-quorum"),
    pytest.param({"kafka": {"dualRole": False, "controllers": 3, "brokers": 3, "minInsyncReplicas": 3}},
                 "kafka.minInsyncReplicas", "below replicationFactor (3)", id="isr-equal-to-replicas"),
    pytest.param({"kafka": {"storage": "nfs"}}, "kafka.storage", "one of 'ephemeral', 'persistent-claim'",
                 id="unknown-storage"),
    pytest.param({"kafka": {"storageSize": "100GB"}}, "kafka.storageSize", "a size such as '100Gi'",
                 id="storage-size-units"),
    pytest.param({"kafka": {"authentication": "plain"}}, "kafka.authentication", "one of 'scram-sha-512', 'none'",
                 id="unknown-authentication"),
    pytest.param({"kafka": {"caValidityDays": 10}}, "kafka.caValidityDays", "at least 30 and at most 3650",
                 id="ca-validity-too-short"),
    pytest.param({"kafka": {"readyTimeoutSeconds": 10}}, "kafka.readyTimeoutSeconds", "at least 60",
                 id="ready-timeout-too-short"),
    pytest.param({"cluster": {"loginMode": "devicecode"}}, "cluster.loginMode",
                 "one of 'azurecli', 'spn', 'msi', 'workloadidentity'", id="interactive-login-mode"),
    pytest.param({"cluster": {"adminGroupObjectIds": ["admins"]}}, "cluster.adminGroupObjectIds",
                 "a list of Entra ID group object ids", id="admin-group-not-an-object-id"),
    pytest.param({"cluster": {"availabilityZones": ["4"]}}, "cluster.availabilityZones",
                 "zone numbers '1', '2' or '3'", id="unknown-zone"),
    pytest.param({"cluster": {"skuTier": "Gold"}}, "cluster.skuTier", "one of 'Free', 'Standard', 'Premium'",
                 id="unknown-sku-tier"),
    pytest.param({"cluster": {"context": "kind-x"}}, "cluster.context", "only with mode 'existing'",
                 id="context-on-aks"),
    pytest.param({"kafka": ["my-cluster"]}, "kafka", "an object (key: value)", id="section-not-an-object"),
]


@pytest.mark.parametrize(("settings", "key", "allowed"), REFUSED)
def test_refused_settings_name_key_value_and_what_is_allowed(pulumi_mocks, settings, key, allowed):
    if "functions" in settings and "topics" not in settings:
        settings = {"topics": TOPICS, **settings}
    with pytest.raises(ConfigError) as refused:
        pulumi_mocks.run_main("dev", settings)
    message = str(refused.value)
    assert message.startswith(f"knative-kafka:{key}"), message
    assert allowed in message, message
    assert pulumi_mocks.monitor.registrations == {}, "resources were registered before the refusal"


def test_unknown_top_level_key_is_refused_before_any_resource(pulumi_mocks):
    with pytest.raises(ConfigError, match=r"knative-kafka:function: unknown key; allowed: .*knative-kafka:functions"):
        pulumi_mocks.run_main("dev", {"function": [function()]})
    assert pulumi_mocks.monitor.registrations == {}


def test_malformed_json_value_is_refused(pulumi_mocks):
    with pytest.raises(ConfigError, match=r"knative-kafka:topics: .* is not allowed; a YAML object or list"):
        pulumi_mocks.run_main("dev", {"topics": "[{name: orders"})


def test_defaults_follow_the_topic():
    cfg = parse(small_stack(topics=TOPICS, functions=[function()]), "test")
    fn = cfg.functions[0]
    assert fn.consumers == 6
    assert fn.autoscaling.max_scale == 6
    assert fn.ordering == "ordered"
    assert fn.initial_offset == "earliest"
    assert fn.consumer_group == "knative-kafka-default-fn"
    assert fn.dead_letter_topic == "orders-dlq"
    assert (fn.delivery.retry, fn.delivery.backoff_policy, fn.delivery.backoff_delay, fn.delivery.timeout) == (
        10, "exponential", "PT0.3S", "PT300S")
    assert fn.timeout_seconds == 300


def test_unordered_delivery_lifts_the_partition_bound_on_replicas_but_not_on_consumers():
    base = small_stack(topics=TOPICS)
    unbounded = parse({**base, "functions": [function(ordering="unordered")]}, "t").functions[0]
    assert unbounded.autoscaling.max_scale is None
    assert unbounded.consumers == 6
    wide = parse({**base, "functions": [function(ordering="unordered", autoscaling={"maxScale": 40})]}, "t")
    assert wide.functions[0].autoscaling.max_scale == 40
    with pytest.raises(ConfigError, match="consumers"):
        parse({**base, "functions": [function(ordering="unordered", consumers=7)]}, "t")


def test_without_any_function_config_the_recipe_demo_is_the_default():
    cfg = parse(small_stack(), "t")
    assert [(t.name, t.partitions) for t in cfg.topics] == [("my-topic", 6)]
    assert [(f.name, f.topic.name) for f in cfg.functions] == [("event-display", "my-topic")]


def test_durations():
    assert go_duration_seconds("1h2m3s") == 3723
    assert go_duration_seconds("90s") == 90
    assert go_duration_seconds("") is None
    assert go_duration_seconds("5ms") is None
    assert iso_duration_seconds("PT0.3S") == pytest.approx(0.3)
    assert iso_duration_seconds("PT1M30S") == 90
    assert iso_duration_seconds("PT") is None
    assert iso_duration_seconds("0.3s") is None


def test_zero_initial_scale_is_accepted_once_the_cluster_allows_it():
    cfg = parse(small_stack(topics=TOPICS, functions=[function(autoscaling={"initialScale": 0})],
                            autoscaler={"allowZeroInitialScale": True}), "t")
    assert cfg.functions[0].autoscaling.initial_scale == 0
    assert cfg.autoscaler.data()["allow-zero-initial-scale"] == "true"
