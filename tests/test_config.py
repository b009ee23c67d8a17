"""Stack settings: defaults, and every refusal stops the program before any resource exists."""
from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.errors import RunError

from components.config import (
    KAFKA_POOL_NAMES,
    MAX_BROKERS,
    MAX_CONTROLLERS,
    TOP_LEVEL_KEYS,
    ConfigError,
    notices,
    parse,
    refuse_placeholders,
    yaml_text,
)
from components.settings import Section, go_duration_seconds, iso_duration_seconds
from harness import ROOT, SMALL_KAFKA, resolve, small_stack

TOPICS = [{"name": "orders", "partitions": 6}]
CIDR_ALLOWED = "an IPv4 network such as '20.50.10.0/24' (prefix 0-32, octets 0-255, no host bits)"


def function(**settings: Any) -> dict[str, Any]:
    return {"name": "fn", "topic": "orders", **settings}


def principals(*entries: Any) -> dict[str, Any]:
    return {"cluster": {"authorizedIpRanges": ["20.50.10.0/24"],
                        "deployerAccess": {"additionalPrincipals": list(entries)}}}


# (what the user set, the config key the message must name, what it must say is allowed)
REFUSED = [
    pytest.param({"functions": [function(consumers=7)]}, "functions[0].consumers",
                 "at most 6 (the partitions of topic 'orders')", id="consumers-above-partitions"),
    pytest.param({"functions": [function(autoscaling={"maxScale": 7})]}, "functions[0].autoscaling.maxScale",
                 "at most 6 (the partitions of topic 'orders'): with ordered delivery",
                 id="max-scale-above-partitions"),
    pytest.param({"functions": [function(autoscaling={"metric": "cpu"})]}, "functions[0].autoscaling.metric",
                 "one of concurrency, rps", id="kpa-with-cpu-metric"),
    pytest.param({"functions": [function(autoscaling={"class": "hpa", "metric": "rps"})]},
                 "functions[0].autoscaling.metric", "one of cpu, memory", id="hpa-with-rps-metric"),
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
    # Knative's lowest target: serving pkg/apis/autoscaling/register.go TargetMin = 0.01
    pytest.param({"functions": [function(autoscaling={"target": 0})]}, "functions[0].autoscaling.target",
                 "a number at least 0.01", id="zero-target"),
    pytest.param({"functions": [function(autoscaling={"target": 0.005})]}, "functions[0].autoscaling.target",
                 "a number at least 0.01", id="target-below-knative-minimum"),
    pytest.param({"functions": [function(autoscaling={"target": "0.005"})]}, "functions[0].autoscaling.target",
                 "a number at least 0.01", id="target-below-knative-minimum-as-string"),
    pytest.param({"functions": [function(autoscaling={"targetUtilizationPercentage": 120})]},
                 "functions[0].autoscaling.targetUtilizationPercentage", "at most 100", id="utilization-over-100"),
    pytest.param({"functions": [function(autoscaling={"target": "fast"})]}, "functions[0].autoscaling.target",
                 "a number", id="target-not-a-number"),
    pytest.param({"functions": [function(autoscaling={"target": "5s"})]}, "functions[0].autoscaling.target",
                 "a number", id="target-with-unit"),
    pytest.param({"topics": [{"name": "orders", "partitions": "2.5"}]}, "topics[0].partitions",
                 "a whole number at least 1", id="decimal-string-as-integer"),
    pytest.param({"topics": [{"name": "orders", "partitions": "six"}]}, "topics[0].partitions",
                 "a whole number at least 1", id="word-as-integer"),
    pytest.param({"autoscaler": {"maxScaleUpRate": float("inf")}}, "autoscaler.maxScaleUpRate",
                 "a number greater than 1.0", id="infinite-rate"),
    pytest.param({"functions": [function(ordering="unordered", autoscaling={"maxScale": 2**31})]},
                 "functions[0].autoscaling.maxScale", "at most 2147483647", id="max-scale-beyond-int32"),
    pytest.param({"topics": [{"name": "orders", "retentionMs": 2**63}]}, "topics[0].retentionMs",
                 "at most 9223372036854775807", id="retention-beyond-kafka-long"),
    pytest.param({"functions": [function(ordering="random")]}, "functions[0].ordering",
                 "one of ordered, unordered", id="unknown-ordering"),
    pytest.param({"functions": [function(initialOffset="newest")]}, "functions[0].initialOffset",
                 "one of earliest, latest", id="unknown-initial-offset"),
    pytest.param({"functions": [function(delivery={"backoffDelay": "300ms"})]}, "functions[0].delivery.backoffDelay",
                 "an ISO-8601 duration", id="go-style-backoff-delay"),
    pytest.param({"functions": [function(delivery={"backoffDelay": "PT0.25S"})]},
                 "functions[0].delivery.backoffDelay", "such as 'PT0.3S' or 'PT1M', seconds with at most one decimal",
                 id="backoff-delay-with-two-decimals"),
    pytest.param({"functions": [function(delivery={"timeout": "PT1.5M"})]}, "functions[0].delivery.timeout",
                 "whole hours and minutes", id="fractional-minutes"),
    pytest.param({"functions": [function(delivery={"backoffDelay": "PT3600S"})]},
                 "functions[0].delivery.backoffDelay", "so 'PT1H', not 'PT3600S'", id="seconds-field-overflow"),
    pytest.param({"functions": [function(delivery={"backoffDelay": "PT0S"})]}, "functions[0].delivery.backoffDelay",
                 "from 0.1s to 3600s", id="zero-backoff-delay"),
    pytest.param({"functions": [function(delivery={"backoffPolicy": "random"})]},
                 "functions[0].delivery.backoffPolicy", "one of exponential, linear", id="unknown-backoff"),
    pytest.param({"functions": [function(delivery={"retry": -1})]}, "functions[0].delivery.retry",
                 "a whole number at least 0", id="negative-retry"),
    pytest.param({"functions": [function(timeoutSeconds=60, delivery={"timeout": "PT120S"})]},
                 "functions[0].timeoutSeconds", "at least delivery.timeout (PT120S = 120s)",
                 id="request-timeout-below-delivery-timeout"),
    # Knative's config-defaults max-revision-timeout-seconds: 600 (serving config/core/configmaps/defaults.yaml)
    pytest.param({"functions": [function(timeoutSeconds=900)]}, "functions[0].timeoutSeconds", "at most 600",
                 id="timeout-above-knative-max"),
    pytest.param({"functions": [function(topic="payments")]}, "functions[0].topic",
                 "a topic declared under knative-kafka:topics (orders)", id="undeclared-topic"),
    pytest.param({"functions": [function(name="Event_Display")]}, "functions[0].name", "a Kubernetes name",
                 id="invalid-name"),
    pytest.param({"functions": [function(name="a" * 64)]}, "functions[0].name", "at most 63 characters",
                 id="name-too-long"),
    pytest.param({"functions": [{"topic": "orders"}]}, "functions[0].name", "a Kubernetes name of at most 63 "
                 "characters (lower-case letters, digits and '-', starting with a letter and not ending with '-')"
                 ": it names the Knative Service and its Kubernetes Service; required", id="function-without-name"),
    pytest.param({"functions": [function(namespace="n" * 64)]}, "functions[0].namespace",
                 "a Kubernetes namespace name of at most 63 characters", id="function-namespace-too-long"),
    pytest.param({"functions": [function(namespace="-events")]}, "functions[0].namespace",
                 "starting and ending with a letter or digit", id="function-namespace-not-a-label"),
    pytest.param({"functions": [function(image="gcr.io/Knative/event_display")]}, "functions[0].image",
                 "a container image reference such as", id="image-with-upper-case-path"),
    pytest.param({"functions": [function(image="event display")]}, "functions[0].image",
                 "a container image reference such as", id="image-with-space"),
    pytest.param({"functions": [function(deadLetter={"topic": "d" * 250})]}, "functions[0].deadLetter.topic",
                 "a Kafka topic name of at most 249 characters", id="dead-letter-topic-too-long"),
    pytest.param({"topics": [{"name": "o" * 249}], "functions": [{"name": "fn", "topic": "o" * 249}]},
                 "functions[0].deadLetter.topic", "the default, topic + '-dlq', is longer; set deadLetter.topic",
                 id="default-dead-letter-name-too-long"),
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
    pytest.param({"topics": [{"name": "t" * 250}]}, "topics[0].name", "a Kafka topic name of at most 249 characters",
                 id="topic-name-too-long"),
    pytest.param({"topics": [{"name": "Orders.v1"}]}, "topics[0].name", "a Kafka topic name", id="topic-name-not-dns"),
    pytest.param({"topics": [{"partitions": 3}]}, "topics[0].name", "; required", id="topic-without-name"),
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
    # Knative 1.22+ refuses to start below Kubernetes 1.34 (knative/pkg version/version.go)
    pytest.param({"cluster": {"kubernetesVersion": "1.33"}}, "cluster.kubernetesVersion", "1.34 or newer",
                 id="kubernetes-too-old-for-knative"),
    pytest.param({"cluster": {"kubernetesVersion": "1.35.2"}}, "cluster.kubernetesVersion", "a Kubernetes minor",
                 id="kubernetes-patch-version"),
    pytest.param({"cluster": {"authorizedIpRanges": ["0.0.0.0/0"]}}, "cluster.authorizedIpRanges",
                 "unless allowPublicApiServer is true", id="open-api-server"),
    pytest.param({"cluster": {"authorizedIpRanges": []}}, "cluster.authorizedIpRanges",
                 "the API server is otherwise open to the internet", id="unrestricted-api-server"),
    pytest.param({"cluster": {"authorizedIpRanges": ["20.50.10.0/33"]}}, "cluster.authorizedIpRanges[0]",
                 CIDR_ALLOWED, id="cidr-prefix-over-32"),
    pytest.param({"cluster": {"authorizedIpRanges": ["20.50.10.0/24", "20.50.300.0/24"]}},
                 "cluster.authorizedIpRanges[1]", CIDR_ALLOWED, id="cidr-octet-over-255"),
    pytest.param({"cluster": {"authorizedIpRanges": ["20.50.10.7/24"]}}, "cluster.authorizedIpRanges[0]",
                 CIDR_ALLOWED, id="cidr-with-host-bits"),
    pytest.param({"cluster": {"authorizedIpRanges": ["2001:db8::/32"]}}, "cluster.authorizedIpRanges[0]",
                 CIDR_ALLOWED, id="cidr-ipv6"),
    pytest.param({"cluster": {"authorizedIpRanges": ["20.50.10.7"]}}, "cluster.authorizedIpRanges[0]",
                 CIDR_ALLOWED, id="cidr-without-prefix"),
    pytest.param({"cluster": {"authorizedIpRanges": "20.50.10.0/24"}}, "cluster.authorizedIpRanges",
                 "a list of an IPv4 network", id="cidrs-not-a-list"),
    pytest.param({"cluster": {"authorizedIpRanges": ["203.0.113.0/24"]}}, "cluster.authorizedIpRanges[0]",
                 "your deployers' and CI's egress ranges; 203.0.113.0/24 is a documentation range",
                 id="documentation-range"),
    pytest.param({"cluster": {"authorizedIpRanges": ["20.50.10.0/24", "198.51.100.128/25"]}},
                 "cluster.authorizedIpRanges[1]", "198.51.100.128/25 is a documentation range",
                 id="documentation-subnet"),
    pytest.param({"cluster": {"authorizedIpRanges": ["192.0.2.1/32"]}}, "cluster.authorizedIpRanges[0]",
                 "192.0.2.1/32 is a documentation range", id="documentation-address"),
    pytest.param({"cluster": {"mode": "existing"}}, "cluster.kubeconfig", "a kubeconfig path", id="existing-no-file"),
    pytest.param({"cluster": {"mode": "kind"}}, "cluster.mode", "one of aks, existing", id="unknown-mode"),
    pytest.param({"cluster": {"userPool": {"minCount": 3, "maxCount": 2}}}, "cluster.userPool.maxCount",
                 "at least minCount (3)", id="pool-max-below-min"),
    pytest.param({"kafka": {"controllers": 3, "brokers": 1}}, "kafka.brokers", "equal to controllers (3)",
                 id="dual-role-counts-differ"),
    pytest.param({"kafka": {"dualRole": False, "controllers": 2, "brokers": 3}}, "kafka.controllers",
                 "an odd number", id="even-quorum"),
    pytest.param({"kafka": {"dualRole": False, "controllers": 3, "brokers": 3, "minInsyncReplicas": 3}},
                 "kafka.minInsyncReplicas", "below replicationFactor (3)", id="isr-equal-to-replicas"),
    pytest.param({"kafka": {"storage": "nfs"}}, "kafka.storage", "one of ephemeral, persistent-claim",
                 id="unknown-storage"),
    pytest.param({"kafka": {"storageSize": "100GB"}}, "kafka.storageSize", "a size such as '100Gi'",
                 id="storage-size-units"),
    pytest.param({"kafka": {"storageSize": "0Gi"}}, "kafka.storageSize", "(more than zero)", id="zero-storage-size"),
    pytest.param({"kafka": {"storageClass": "Managed_CSI"}}, "kafka.storageClass",
                 "a StorageClass name of at most 253 characters", id="storage-class-not-a-name"),
    pytest.param({"kafka": {"name": "k" * 48}}, "kafka.name",
                 "a Kubernetes name of at most 47 characters (lower-case letters, digits and '-', starting with a "
                 "letter and not ending with '-'): Strimzi derives names such as '<name>-kafka-bootstrap' and "
                 "'<name>-controllers-108' from it, each at most 63 characters", id="kafka-name-too-long"),
    pytest.param({"kafka": {"name": "my_cluster"}}, "kafka.name", "a Kubernetes name of at most 47 characters",
                 id="kafka-name-not-dns"),
    pytest.param({"kafka": {"namespace": "k" * 64}}, "kafka.namespace",
                 "a Kubernetes namespace name of at most 63 characters", id="kafka-namespace-too-long"),
    pytest.param({"kafka": {"authentication": "plain"}}, "kafka.authentication", "one of scram-sha-512, none",
                 id="unknown-authentication"),
    pytest.param({"kafka": {"caValidityDays": 10}}, "kafka.caValidityDays", "at least 30 and at most 3650",
                 id="ca-validity-too-short"),
    pytest.param({"kafka": {"readyTimeoutSeconds": 10}}, "kafka.readyTimeoutSeconds", "at least 60",
                 id="ready-timeout-too-short"),
    pytest.param({"cluster": {"loginMode": "devicecode"}}, "cluster.loginMode",
                 "one of azurecli, spn, msi, workloadidentity", id="interactive-login-mode"),
    pytest.param({"cluster": {"adminGroupObjectIds": ["admins"]}}, "cluster.adminGroupObjectIds",
                 "a list of Entra ID group object ids", id="admin-group-not-an-object-id"),
    pytest.param(principals({"objectId": "8B1E2F3A-4C5D-4E6F-9A0B-1C2D3E4F5A6B", "type": "ServicePrincipal"}),
                 "cluster.deployerAccess.additionalPrincipals[0].objectId", "an Entra ID object id in lower case",
                 id="principal-id-in-upper-case"),
    pytest.param(principals({"objectId": "ci-deployer", "type": "ServicePrincipal"}),
                 "cluster.deployerAccess.additionalPrincipals[0].objectId", "an Entra ID object id in lower case",
                 id="principal-id-not-a-uuid"),
    pytest.param(principals({"objectId": "00000000-0000-0000-0000-000000000000", "type": "Group"}),
                 "cluster.deployerAccess.additionalPrincipals[0].objectId", "(the nil UUID is a placeholder)",
                 id="principal-id-nil"),
    pytest.param(principals({"type": "User"}), "cluster.deployerAccess.additionalPrincipals[0].objectId",
                 "(az ad sp show --id <client id> --query id); required",
                 id="principal-without-id"),
    pytest.param(principals({"objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b"}),
                 "cluster.deployerAccess.additionalPrincipals[0].type",
                 "one of User, Group, ServicePrincipal; required", id="principal-without-type"),
    pytest.param(principals({"objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b", "type": "Application"}),
                 "cluster.deployerAccess.additionalPrincipals[0].type", "one of User, Group, ServicePrincipal",
                 id="principal-of-unknown-type"),
    pytest.param(principals({"objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b", "type": "ServicePrincipal"},
                            {"objectId": "0d2f6c3e-8a41-4b7e-9c15-7e3a2b1f4d60", "type": "Group"},
                            {"objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b", "type": "User"}),
                 "cluster.deployerAccess.additionalPrincipals[2].objectId",
                 "an object id no other additional principal has", id="principal-listed-twice"),
    pytest.param(principals({"objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b", "type": "ServicePrincipal",
                             "role": "Azure Kubernetes Service RBAC Reader"}),
                 "cluster.deployerAccess.additionalPrincipals[0]", "unknown key(s) role", id="principal-unknown-key"),
    pytest.param(principals("8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b"), "cluster.deployerAccess.additionalPrincipals[0]",
                 "an object (key: value)", id="principal-not-an-object"),
    pytest.param({"cluster": {"mode": "existing", "kubeconfig": "~/.kube/config", "deployerAccess": {
                     "additionalPrincipals": [{"objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
                                               "type": "ServicePrincipal"}]}}},
                 "cluster.deployerAccess", "only with mode 'aks': on an existing cluster your kubeconfig's identity",
                 id="principals-on-an-existing-cluster"),
    pytest.param({"cluster": {"availabilityZones": ["4"]}}, "cluster.availabilityZones",
                 "zone numbers '1', '2' or '3'", id="unknown-zone"),
    pytest.param({"cluster": {"skuTier": "Gold"}}, "cluster.skuTier", "one of Free, Standard, Premium",
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


def test_pulumi_yaml_names_every_top_level_key():
    """Pulumi.yaml says where the settings live (its own config declarations cannot type objects)."""
    comment = " ".join(line.lstrip("# ") for line in (ROOT / "Pulumi.yaml").read_text().splitlines()
                       if line.startswith("#"))
    assert [key for key in TOP_LEVEL_KEYS if f" {key}," not in comment and f" {key})" not in comment
            and f"({key}," not in comment] == []


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
    # as eventing-kafka reads them: one decimal on seconds, whole hours and minutes, no field above 3276.7
    assert iso_duration_seconds("PT1H") == 3600
    assert iso_duration_seconds("PT3276.7S") == pytest.approx(3276.7)
    assert iso_duration_seconds("PT0.05S") is None
    assert iso_duration_seconds("PT1.5M") is None
    assert iso_duration_seconds("PT3600S") is None


def test_zero_initial_scale_is_accepted_once_the_cluster_allows_it():
    cfg = parse(small_stack(topics=TOPICS, functions=[function(autoscaling={"initialScale": 0})],
                            autoscaler={"allowZeroInitialScale": True}), "t")
    assert cfg.functions[0].autoscaling.initial_scale == 0
    assert cfg.autoscaler.data()["allow-zero-initial-scale"] == "true"


def test_config_error_is_a_run_error_so_pulumi_prints_only_the_message():
    assert issubclass(ConfigError, RunError)
    assert issubclass(ConfigError, ValueError)


def test_numbers_given_as_text_are_read_as_numbers():
    """`pulumi config set --path` stores 2.5 as the string "2.5"; a quoted YAML number is a string too."""
    cfg = parse(small_stack(topics=[{"name": "orders", "partitions": "3", "retentionMs": "-1"}],
                            functions=[function(consumers="2", autoscaling={"target": "2.5", "maxScale": "3"})],
                            autoscaler={"maxScaleDownRate": "2.5", "maxScaleUpRate": "100"}), "t")
    assert (cfg.topics[0].partitions, cfg.topics[0].retention_ms) == (3, -1)
    fn = cfg.functions[0]
    assert (fn.consumers, fn.autoscaling.target, fn.autoscaling.max_scale) == (2, 2.5, 3)
    assert fn.autoscaling.annotations()["autoscaling.knative.dev/target"] == "2.5"
    assert (cfg.autoscaler.data()["max-scale-down-rate"], cfg.autoscaler.data()["max-scale-up-rate"]) == (
        "2.5", "100.0")
    whole = parse(small_stack(topics=TOPICS, functions=[function(autoscaling={"target": "5"})]), "t")
    assert whole.functions[0].autoscaling.target == 5
    assert whole.functions[0].autoscaling.annotations()["autoscaling.knative.dev/target"] == "5"


def test_knative_minimum_target_is_accepted():
    # serving pkg/apis/autoscaling/register.go TargetMin
    cfg = parse(small_stack(topics=TOPICS, functions=[function(autoscaling={"target": 0.01})]), "t")
    assert cfg.functions[0].autoscaling.target == 0.01


def test_durations_eventing_kafka_reads_exactly_are_accepted():
    cfg = parse(small_stack(topics=TOPICS, functions=[function(delivery={"backoffDelay": "PT0.5S", "timeout": "PT1M"}),
                                                      function(name="fn2", delivery={"backoffDelay": "PT1H",
                                                                                     "timeout": "PT90.5S"})]), "t")
    assert [(f.delivery.backoff_delay, f.delivery.timeout) for f in cfg.functions] == [
        ("PT0.5S", "PT1M"), ("PT1H", "PT90.5S")]


def test_names_at_their_limits_are_accepted():
    longest_topic, dead_letter = "t" * 249, "d" * 249
    cfg = parse(small_stack(
        kafka={**SMALL_KAFKA, "name": "k" * 47, "namespace": "n" * 63, "storageClass": "managed-csi.premium"},
        topics=[{"name": longest_topic}, {"name": "orders"}],
        functions=[function(name="f" * 63, namespace="0" + "n" * 62, topic=longest_topic,
                            deadLetter={"topic": dead_letter},
                            image="registry.example.com:5000/team/event_display@sha256:" + "a" * 64),
                   function(name="off", topic="orders", deadLetter={"enabled": False})]), "t")
    assert (cfg.kafka.name, cfg.kafka.namespace, cfg.kafka.storage_class) == ("k" * 47, "n" * 63,
                                                                              "managed-csi.premium")
    assert cfg.topics[0].name == longest_topic
    assert (cfg.functions[0].name, cfg.functions[0].dead_letter_topic) == ("f" * 63, dead_letter)
    assert [t.name for t in cfg.dead_letter_topics] == [dead_letter]
    # dead-lettering off: the default '<topic>-dlq' is never made, so its length does not matter
    off = parse(small_stack(topics=[{"name": longest_topic}],
                            functions=[function(topic=longest_topic, deadLetter={"enabled": False})]), "t")
    assert off.functions[0].dead_letter_topic is None


@pytest.mark.parametrize("ranges", [["20.50.10.0/24"], ["20.50.10.7/32", "52.0.0.0/8"],
                                    ["192.0.0.0/16"], ["198.51.0.0/16"], ["203.0.112.0/24"]],
                         ids=["one", "address-and-wide", "around-192.0.2", "around-198.51.100", "next-to-203.0.113"])
def test_real_ipv4_networks_are_accepted(ranges):
    assert parse(small_stack(cluster={"authorizedIpRanges": ranges}), "t").cluster.authorized_ip_ranges == tuple(
        ranges)


@pytest.mark.parametrize("dual_role", [True, False], ids=["dual-role", "separate-roles"])
def test_kafka_name_limit_covers_every_name_strimzi_derives_from_it(pulumi_mocks, dual_role):
    """The 47-character limit assumes the node pools components/strimzi.py declares and at most
    MAX_CONTROLLERS + MAX_BROKERS node ids; a new or renamed pool must update KAFKA_POOL_NAMES."""
    name = "k" * 47
    nodes = {"controllers": 3, "brokers": 3} if dual_role else {"controllers": 3, "brokers": 5}
    registry = pulumi_mocks.run_main("dev", {"kafka": {
        "name": name, "dualRole": dual_role, **nodes, "replicationFactor": 1, "minInsyncReplicas": 1,
        "storage": "ephemeral", "authentication": "none"}})
    pools = [r.inputs["metadata"]["name"] for r in registry.of_type("kubernetes:kafka.strimzi.io/v1:KafkaNodePool")]
    assert pools and set(pools) <= set(KAFKA_POOL_NAMES)
    highest_node_id = MAX_CONTROLLERS + MAX_BROKERS - 1
    assert all(len(f"{name}-{pool}-{highest_node_id}") <= 63 for pool in pools)
    bootstrap_service = resolve(registry.exports["bootstrapServers"]).split(".")[0]
    assert bootstrap_service == f"{name}-kafka-bootstrap" and len(bootstrap_service) <= 63
    # and the limit is tight: one character more overflows the longest pool's pod names
    assert len(f"{name}k-controllers-{highest_node_id}") == 64


def test_refuse_placeholders_refuses_the_nil_uuid_as_admin_group():
    s = Section("knative-kafka:cluster", {})
    real = ("5d9c2f8e-1a3b-4c6d-8e7f-9a0b1c2d3e4f",)
    assert refuse_placeholders(s, "adminGroupObjectIds", real) == real
    with pytest.raises(ConfigError) as refused:
        refuse_placeholders(s, "adminGroupObjectIds", (*real, "00000000-0000-0000-0000-000000000000"))
    assert str(refused.value) == (
        "knative-kafka:cluster.adminGroupObjectIds[1]: 00000000-0000-0000-0000-000000000000 is not allowed; "
        "the object id of an Entra ID group of cluster admins (az ad group show -g <name> --query id)")


def test_refuse_placeholders_refuses_documentation_ranges_and_knows_its_keys():
    s = Section("knative-kafka:cluster", {})
    assert refuse_placeholders(s, "authorizedIpRanges", ("20.50.10.0/24",)) == ("20.50.10.0/24",)
    with pytest.raises(ConfigError, match=r"authorizedIpRanges\[0\]: 203.0.113.0/24 is not allowed; your deployers' "
                                          r"and CI's egress ranges; 203.0.113.0/24 is a documentation range"):
        refuse_placeholders(s, "authorizedIpRanges", ("203.0.113.0/24",))
    with pytest.raises(KeyError):
        refuse_placeholders(s, "location", ("westeurope",))


def with_foreign_config(monkeypatch: pytest.MonkeyPatch, extra: dict[str, str]) -> None:
    """Stack config beyond the project's own keys, which the harness alone cannot set."""
    real = pulumi.runtime.set_all_config
    monkeypatch.setattr(pulumi.runtime, "set_all_config",
                        lambda config, *args, **kwargs: real({**config, **extra}, *args, **kwargs))


def test_misspelt_project_namespace_is_refused_with_the_close_match(pulumi_mocks, monkeypatch):
    with_foreign_config(monkeypatch, {"knative-kafak:functions": "[]"})
    with pytest.raises(ConfigError, match=r"^knative-kafak:functions: unknown key; "
                                          r"did you mean knative-kafka:functions\?$"):
        pulumi_mocks.run_main("dev")
    assert pulumi_mocks.monitor.registrations == {}


def test_other_namespaces_are_passed_over(pulumi_mocks, monkeypatch):
    with_foreign_config(monkeypatch, {"azure-native:location": "westeurope", "kubernetes:context": "kind-x",
                                      "pulumi:tags": '{"team": "events"}', "aws:region": "eu-west-1",
                                      "knative:domain": "example.com", "kafka:bootstrapServers": "k:9092"})
    registry = pulumi_mocks.run_main("dev")
    assert registry.registrations


def test_values_in_messages_are_written_as_yaml_would():
    assert [yaml_text(v) for v in (False, None, 8, 1.3, "westeurope", "1.35", "yes", "", "a, b")] == [
        "false", "null", "8", "1.3", "westeurope", '"1.35"', '"yes"', '""', '"a, b"']
    assert yaml_text({"cpu": "250m", "zones": ["1", 2]}) == '{cpu: 250m, zones: ["1", 2]}'
    with pytest.raises(ConfigError, match=r"^knative-kafka:cluster\.encryptionAtHost: null is not allowed; "
                                          r"true or false$"):
        parse(small_stack(cluster={"authorizedIpRanges": ["20.50.10.0/24"], "encryptionAtHost": None}), "t")


QUOTE_IT = "; YAML read a number: write it in quotes, "
TRAILING_ZERO = ' (YAML reads 1.30 as the number 1.3: if you wrote 1.30, write "1.30")'


@pytest.mark.parametrize(("cluster", "message"), [
    pytest.param({"kubernetesVersion": 1.35}, 'kubernetesVersion: 1.35 is not allowed; a Kubernetes minor version such '
                 f'as "1.35" (AKS patches it){QUOTE_IT}"1.35"', id="unquoted-version"),
    pytest.param({"kubernetesVersion": 1.3}, f'kubernetesVersion: 1.3 is not allowed; a Kubernetes minor version such '
                 f'as "1.35" (AKS patches it){QUOTE_IT}"1.3"{TRAILING_ZERO}', id="1.30-read-as-1.3"),
    pytest.param({"availabilityZones": [1, "2", 3]}, "availabilityZones: [1, \"2\", 3] is not allowed; a list of zone "
                 f"numbers '1', '2' or '3'{QUOTE_IT}[\"1\", \"2\", \"3\"]", id="unquoted-zones"),
    pytest.param({"skuTier": False}, "skuTier: false is not allowed; one of Free, Standard, Premium", id="a-boolean"),
    # where the number's text would not do either, quoting is not offered
    pytest.param({"kubernetesVersion": 2}, 'kubernetesVersion: 2 is not allowed; a Kubernetes minor version such as '
                 '"1.35" (AKS patches it)', id="a-number-quoting-does-not-fix"),
])
def test_a_number_where_text_is_wanted_is_refused_saying_to_quote_it_when_that_fixes_it(cluster, message):
    with pytest.raises(ConfigError) as refused:
        parse(small_stack(cluster={"authorizedIpRanges": ["20.50.10.0/24"], **cluster}), "t")
    assert str(refused.value) == f"knative-kafka:cluster.{message}"


def test_a_namespace_given_as_a_number_is_told_to_quote_it():
    with pytest.raises(ConfigError) as refused:
        parse(small_stack(topics=TOPICS, functions=[function(namespace=2024)]), "t")
    assert str(refused.value).startswith("knative-kafka:functions[0].namespace: 2024 is not allowed; a Kubernetes ")
    assert str(refused.value).endswith(f'{QUOTE_IT}"2024"')


def test_a_stack_without_functions_is_deployed_with_a_warning(pulumi_mocks, monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    registry = pulumi_mocks.run_main("dev", {"functions": []})
    assert registry.of_type("kubernetes:sources.knative.dev/v1:KafkaSource") == []
    assert warned == notices(parse(small_stack(functions=[]), "t")) == [
        "knative-kafka:functions: [] deploys Knative and Kafka with no event function reading a topic (without the "
        "key the stack gets the default event-display)"]
    assert notices(parse(small_stack(), "t")) == []
