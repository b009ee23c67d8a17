"""Day-2 edits: each edit to a deployed stack goes through as planned updates and replacements, or
the program refuses it at preview, naming the key; never a change the live platform rejects
(day2.RULES; UPSTREAM.md, "Platform behaviour that mocks do not model")."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import day2
from components.config import ConfigError
from harness import Registry

# What a user writes over prod's REPLACE placeholders, which the program refuses.
PROD = {"cluster.adminGroupObjectIds": ["5f0c7e2a-9b1d-4c3e-8f6a-2d4b6c8e0a1f"],
        "cluster.authorizedIpRanges": ["20.50.10.0/24"]}
BASE: dict[str, dict[str, Any]] = {"dev": {}, "prod": PROD, "local": {}}
# dev with enough brokers for replication (both renders), so only the replication edit differs.
THREE_BROKERS = {"kafka.brokers": 3, "kafka.controllers": 3}


def order_audit(stack: str) -> dict[str, Any]:
    """A second function on the stack's topic, beside its first function (in the same namespace)."""
    return {"name": "order-audit", "namespace": day2.settings(stack)["functions"][0]["namespace"],
            "image": "ghcr.io/contoso/order-audit:1.4.2", "topic": "my-topic",
            "autoscaling": {"metric": "concurrency", "target": 10}}


def base_settings(stack: str, base_edits: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return day2.settings(stack, {**BASE[stack], **(base_edits or {})})


def edit(stack: str, edits: Mapping[str, Any], base_edits: Mapping[str, Any] | None = None
         ) -> tuple[Registry, Registry]:
    """A first deploy of the stack, then the `pulumi up` after the edit."""
    base = base_settings(stack, base_edits)
    before = day2.deploy(stack, base)
    return before, day2.redeploy(stack, day2.settings(stack, edits, base), before)


def refusal(stack: str, edits: Mapping[str, Any], base_edits: Mapping[str, Any] | None = None
            ) -> tuple[str, day2.Outcome]:
    """The program's refusal of the edit at preview, and what the platform would have made of the
    edit had the program let it through (the same settings rendered without the check)."""
    base = base_settings(stack, base_edits)
    before = day2.deploy(stack, base)
    edited = day2.settings(stack, edits, base)
    with pytest.raises(ConfigError) as refused:
        day2.redeploy(stack, edited, before)
    return str(refused.value), day2.judge(before, day2.deploy(stack, edited))


def refusals(outcome: day2.Outcome) -> dict[str, str]:
    return {v.change.key: v.verdict for v in outcome if v.verdict.startswith("refused")}


# --- the premise ------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_redeploying_unchanged_settings_changes_nothing(stack):
    before, after = edit(stack, {})
    assert str(day2.check(before, after, may_touch=set())) == "  (no change)"


def test_property_paths_read_and_print_as_pulumi_writes_them():
    annotation = 'spec.template.metadata.annotations["autoscaling.knative.dev/max-scale"]'
    assert day2.parse_path(annotation) == ("spec", "template", "metadata", "annotations",
                                           "autoscaling.knative.dev/max-scale")
    assert day2.format_path(day2.parse_path(annotation)) == annotation
    assert day2.covers(day2.parse_path("agentPoolProfiles[*].count"), ("agentPoolProfiles", 1, "count"))
    assert not day2.covers(day2.parse_path("agentPoolProfiles[*].count"), ("agentPoolProfiles", 1, "minCount"))
    assert day2.changed_paths({"a": [1, 2], "b": None}, {"a": [1, 3, 4]}) == [("a", 1), ("a", 2)]


# --- 1. consumer group ------------------------------------------------------------------------------

@pytest.mark.parametrize(("stack", "acl_updated"), [("dev", False), ("prod", True)])
def test_a_new_consumer_group_replaces_the_kafka_source_deleting_it_first(stack, acl_updated):
    before, after = edit(stack, {"functions[0].consumerGroup": "event-display-v2"})
    outcome = day2.check(before, after, may_touch={"event-display-source", "event-display-kafka-user"})
    expected = {"KafkaSource/event-display-source": "replaced"}
    if acl_updated:   # the function's KafkaUser may now read the new group, and no longer the old one
        expected["KafkaUser/event-display-kafka-user"] = "accepted"
        assert outcome.paths("KafkaUser/event-display-kafka-user") == ["spec.authorization.acls[1].resource.name"]
    assert outcome.verdicts() == expected
    assert outcome.paths("KafkaSource/event-display-source") == ["spec.consumerGroup"]
    assert outcome["KafkaSource/event-display-source"].change.resource.delete_before_replace


# --- 2. dead-letter topic ---------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_new_dead_letter_topic_replaces_the_kafka_sink_and_swaps_the_topic(stack):
    before, after = edit(stack, {"functions[0].deadLetter.topic": "event-display-dlq"})
    outcome = day2.check(before, after, may_touch={"event-display-dead-letter", "topic-*-dlq",
                                                   "event-display-kafka-user"})
    expected = {"KafkaSink/event-display-dead-letter": "replaced",
                "KafkaTopic/topic-event-display-dlq": "accepted",
                "KafkaTopic/topic-my-topic-dlq": "accepted"}
    if stack == "prod":   # Write moves to the new topic
        expected["KafkaUser/event-display-kafka-user"] = "accepted"
    assert outcome.verdicts() == expected
    assert outcome.kinds()["KafkaTopic/topic-event-display-dlq"] == "added"
    assert outcome.kinds()["KafkaTopic/topic-my-topic-dlq"] == "removed"
    assert outcome.paths("KafkaSink/event-display-dead-letter") == ["spec.topic"]
    assert outcome["KafkaSink/event-display-dead-letter"].change.resource.delete_before_replace


# --- 3./4./5. partitions and replicas ----------------------------------------------------------------

MAX_SCALE = 'spec.template.metadata.annotations["autoscaling.knative.dev/max-scale"]'


def test_more_partitions_update_the_topic_and_raise_consumers_and_max_scale_in_place():
    before, after = edit("dev", {"topics[0].partitions": 12})
    outcome = day2.check(before, after, may_touch={"topic-my-topic", "event-display-source", "event-display-service"})
    assert outcome.verdicts() == {"KafkaTopic/topic-my-topic": "accepted",
                                  "KafkaSource/event-display-source": "accepted",
                                  "Service/event-display-service": "accepted"}
    assert outcome.paths("KafkaTopic/topic-my-topic") == ["spec.partitions"]
    assert outcome.paths("KafkaSource/event-display-source") == ["spec.consumers"]
    assert outcome.paths("Service/event-display-service") == [MAX_SCALE]
    source = after.named("event-display-source").inputs["spec"]
    service = after.named("event-display-service").inputs["spec"]["template"]["metadata"]["annotations"]
    assert (source["consumers"], service["autoscaling.knative.dev/max-scale"]) == (12, "12")


def test_fewer_partitions_are_refused_at_preview():
    message, unchecked = refusal("dev", {"topics[0].partitions": 3})
    assert message.startswith("knative-kafka:topics[0].partitions: 3 is not allowed")
    assert "Strimzi cannot remove partitions" in refusals(unchecked)["KafkaTopic/topic-my-topic"]


REPLICATION_EDITS = {
    "cluster-wide replication factor": {"kafka.replicationFactor": 3, "kafka.minInsyncReplicas": 2},
    "the topic's own replicas": {"topics[0].replicas": 3, "topics[0].minInsyncReplicas": 2},
}


@pytest.mark.parametrize("edits", REPLICATION_EDITS.values(), ids=REPLICATION_EDITS.keys())
def test_a_new_replication_factor_of_a_live_topic_is_refused_at_preview(edits):
    message, unchecked = refusal("dev", edits, base_edits=THREE_BROKERS)
    assert message.startswith("knative-kafka:topics[0].replicas: 3 is not allowed")
    # The dead-letter topic follows its source topic's replicas: both would stay NotReady.
    assert refusals(unchecked).keys() == {"KafkaTopic/topic-my-topic", "KafkaTopic/topic-my-topic-dlq"}
    assert all("only with Cruise Control" in reason for reason in refusals(unchecked).values())


# --- 6./7. Kubernetes version -------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_kubernetes_minor_upgrade_moves_the_control_plane_and_every_pool(stack):
    before, after = edit(stack, {"cluster.kubernetesVersion": "1.36"})
    outcome = day2.check(before, after, may_touch={"cluster", "cluster-user"})
    user_pool = {"AgentPool/cluster-user": "accepted"} if stack == "prod" else {}   # dev runs on one pool
    assert outcome.verdicts() == {"ManagedCluster/cluster": "accepted", **user_pool}
    assert sorted(outcome.paths("ManagedCluster/cluster")) == ["agentPoolProfiles[0].orchestratorVersion",
                                                               "kubernetesVersion"]
    if user_pool:
        assert outcome.paths("AgentPool/cluster-user") == ["orchestratorVersion"]


KUBERNETES_REFUSALS = {
    "a skipped minor": ({}, "1.37", "AKS upgrades one minor at a time"),
    "a downgrade": ({"cluster.kubernetesVersion": "1.36"}, "1.35", "AKS upgrades one minor at a time"),
    # Under a channel that moves minors itself, kubernetesVersion is ignored: the edit would vanish.
    "a minor under upgradeChannel stable": (
        {"cluster.upgradeChannel": "stable"}, "1.36",
        "silently ignored by ignore_changes: agentPoolProfiles[0].orchestratorVersion, kubernetesVersion"),
}


@pytest.mark.parametrize(("base_edits", "version", "platform"), KUBERNETES_REFUSALS.values(),
                         ids=KUBERNETES_REFUSALS.keys())
def test_a_kubernetes_version_aks_does_not_take_is_refused_at_preview(base_edits, version, platform):
    message, unchecked = refusal("dev", {"cluster.kubernetesVersion": version}, base_edits)
    assert message.startswith(f'knative-kafka:cluster.kubernetesVersion: "{version}" is not allowed')
    assert platform in refusals(unchecked)["ManagedCluster/cluster"]


# --- 8./9. upstream versions --------------------------------------------------------------------

KNATIVE_RELEASE_GROUPS = {
    "knativeServing": {"serving-core"},
    "kourier": {"kourier"},
    "knativeEventing": {"eventing-core"},
    "eventingKafka": {"eventing-kafka-controller", "eventing-kafka-source", "eventing-kafka-sink"},
}


@pytest.mark.parametrize(("key", "groups"), KNATIVE_RELEASE_GROUPS.items(), ids=KNATIVE_RELEASE_GROUPS.keys())
def test_a_knative_release_one_minor_up_updates_only_its_release_groups(key, groups):
    before, after = edit("dev", {f"versions.{key}": "1.24.0"})
    outcome = day2.check(before, after, may_touch=groups)
    assert outcome.verdicts() == {f"ConfigGroup/{g}": "accepted" for g in groups}
    for g in groups:
        assert all("/knative-v1.24.0/" in f for f in after.named(g).inputs["files"])


@pytest.mark.parametrize(("key", "groups"), KNATIVE_RELEASE_GROUPS.items(), ids=KNATIVE_RELEASE_GROUPS.keys())
def test_a_knative_release_one_minor_down_updates_only_its_release_groups(key, groups):
    """Knative allows a downgrade by one minor (knative.dev "Upgrading Knative"; ../shared/UPSTREAM.md "Upgrade
    rules"): the release deployed is the default 1.23.0."""
    before, after = edit("dev", {f"versions.{key}": "1.22.2"})
    outcome = day2.check(before, after, may_touch=groups)
    assert outcome.verdicts() == {f"ConfigGroup/{g}": "accepted" for g in groups}
    for g in groups:
        assert all("/knative-v1.22.2/" in f for f in after.named(g).inputs["files"])


@pytest.mark.parametrize("version", ["1.25.0", "1.21.0"], ids=["two-minors-up", "two-minors-down"])
@pytest.mark.parametrize("key", KNATIVE_RELEASE_GROUPS)
def test_a_knative_release_two_minors_away_is_refused_at_preview(key, version):
    message, unchecked = refusal("dev", {f"versions.{key}": version})
    assert message == (f"knative-kafka:versions.{key}: {version} is not allowed; one minor away from the deployed "
                       "1.23.0 (1.22.x to 1.24.x): Knative upgrades one minor at a time and downgrades at most one "
                       "(knative.dev upgrade docs); step through each minor with a `pulumi up`")
    assert refusals(unchecked).keys() == {f"ConfigGroup/{g}" for g in KNATIVE_RELEASE_GROUPS[key]}
    assert all("Knative moves one minor at a time" in r for r in refusals(unchecked).values())


def test_a_kafka_patch_release_strimzi_runs_updates_only_the_kafka():
    before, after = edit("dev", {"versions.kafka": "4.3.1"}, base_edits={"versions.kafka": "4.3.0"})
    outcome = day2.check(before, after, may_touch={"my-cluster"})
    assert outcome.verdicts() == {"Kafka/my-cluster": "accepted"}
    assert outcome.paths("Kafka/my-cluster") == ["spec.kafka.version"]
    assert after.named("my-cluster").inputs["spec"]["kafka"]["metadataVersion"] == "4.3-IV0"


def test_a_lower_kraft_metadata_version_is_refused_at_preview():
    message, unchecked = refusal("dev", {"versions.kafka": "4.2.1", "versions.kafkaMetadataVersion": "4.2-IV1"})
    assert message.startswith("knative-kafka:versions.kafkaMetadataVersion: 4.2-IV1 is not allowed")
    assert "Kafka cannot lower a KRaft metadata version" in refusals(unchecked)["Kafka/my-cluster"]


# --- 10. node pool VM size ----------------------------------------------------------------------

def test_a_new_user_pool_vm_size_under_the_same_pool_name_is_refused_at_preview():
    message, unchecked = refusal("prod", {"cluster.userPool.vmSize": "Standard_D16ds_v5"})
    assert message.startswith("knative-kafka:cluster.userPool.vmSize: Standard_D16ds_v5 is not allowed")
    assert "AKS cannot change a node pool's VM size in place" in refusals(unchecked)["AgentPool/cluster-user"]


def test_a_new_user_pool_vm_size_with_a_new_pool_name_replaces_the_pool_new_one_first():
    before, after = edit("prod", {"cluster.userPool.vmSize": "Standard_D16ds_v5", "cluster.userPool.name": "user2"})
    outcome = day2.check(before, after, may_touch={"cluster-user"})
    assert outcome.verdicts() == {"AgentPool/cluster-user": "replaced"}
    assert sorted(outcome.paths("AgentPool/cluster-user")) == ["agentPoolName", "vmSize"]
    assert outcome["AgentPool/cluster-user"].change.resource.delete_before_replace is False


# --- 11./12. functions ----------------------------------------------------------------------------

def function_resources(outcome: day2.Outcome, kind: str) -> dict[str, str]:
    return {k: v for k, v in outcome.kinds().items() if v == kind}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_adding_a_function_adds_only_its_own_resources(stack):
    before, after = edit(stack, {"functions[1]": order_audit(stack)})
    outcome = day2.check(before, after, may_touch={"order-audit", "order-audit-*"})
    assert set(outcome.kinds().values()) == {"added"}
    assert {"EventFunction/order-audit", "Service/order-audit-service", "KafkaSource/order-audit-source",
            "KafkaSink/order-audit-dead-letter"} <= outcome.kinds().keys()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_removing_a_function_removes_only_its_own_resources(stack):
    before, after = edit(stack, {"functions": base_settings(stack)["functions"]},
                         base_edits={"functions[1]": order_audit(stack)})
    outcome = day2.check(before, after, may_touch={"order-audit", "order-audit-*"})
    assert set(outcome.kinds().values()) == {"removed"}
    assert {"EventFunction/order-audit", "Service/order-audit-service", "KafkaSource/order-audit-source",
            "KafkaSink/order-audit-dead-letter"} <= outcome.kinds().keys()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_renaming_a_function_removes_its_resources_and_adds_them_under_the_new_name(stack):
    before, after = edit(stack, {"functions[0].name": "event-viewer"})
    outcome = day2.check(before, after, may_touch={"event-display", "event-display-*", "event-viewer",
                                                   "event-viewer-*"})
    removed, added = function_resources(outcome, "removed"), function_resources(outcome, "added")
    assert removed.keys() | added.keys() == outcome.kinds().keys()
    assert {k.replace("event-display", "event-viewer") for k in removed} == set(added)
    assert "KafkaSource/event-viewer-source" in added


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_moving_a_function_to_another_namespace_replaces_its_objects_there(stack):
    before, after = edit(stack, {"functions[0].namespace": "orders"})
    # The Kafka's client listener now admits client pods from the new namespace (networkPolicyPeers).
    outcome = day2.check(before, after, may_touch={"event-display-*", "ns-*", "my-cluster"})
    assert outcome.paths("Kafka/my-cluster")[0].endswith('networkPolicyPeers[1].namespaceSelector.matchLabels'
                                                         '["kubernetes.io/metadata.name"]')
    expected = {"Kafka/my-cluster": "accepted",
                "Service/event-display-service": "replaced",
                "KafkaSource/event-display-source": "replaced",
                "KafkaSink/event-display-dead-letter": "replaced",
                "NetworkPolicy/event-display-ingress": "replaced",
                "Namespace/ns-orders": "accepted"}
    if stack == "prod":   # prod's function had a namespace of its own, and credentials in it
        expected |= {"Namespace/ns-event-display": "accepted",
                     "Secret/event-display-kafka-auth": "replaced",
                     "KafkaUser/event-display-kafka-user": "accepted"}
    assert outcome.verdicts() == expected
    assert outcome.kinds()["Namespace/ns-orders"] == "added"
    for key in ("Service/event-display-service", "KafkaSource/event-display-source"):
        assert "metadata.namespace" in outcome.paths(key)


# --- 13. authentication ---------------------------------------------------------------------------

def test_switching_authentication_on_a_live_kafka_is_refused_at_preview():
    """Strimzi generated dev's cluster CA; the authenticated path would register the program's own CA
    under the same Secret names, which pulumi-kubernetes refuses to create over existing objects."""
    message, unchecked = refusal("dev", {"kafka.authentication": "scram-sha-512"})
    assert message.startswith("knative-kafka:kafka.authentication: scram-sha-512 is not allowed; none as deployed")
    assert set(refusals(unchecked)) == {"Secret/my-cluster-cluster-ca", "Secret/my-cluster-cluster-ca-cert"}


def test_a_new_stack_may_start_authenticated():
    before, after = edit("dev", {}, {"kafka.authentication": "scram-sha-512"})
    assert str(day2.check(before, after, may_touch=set())) == "  (no change)"


# --- 14. autoscaling --------------------------------------------------------------------------------

def test_a_new_autoscaling_target_updates_only_the_service():
    before, after = edit("dev", {"functions[0].autoscaling.target": 10})
    outcome = day2.check(before, after, may_touch={"event-display-service"})
    assert outcome.verdicts() == {"Service/event-display-service": "accepted"}
    assert outcome.paths("Service/event-display-service") == [
        'spec.template.metadata.annotations["autoscaling.knative.dev/target"]']


# --- protected data -------------------------------------------------------------------------------

def test_merging_prods_kafka_node_pools_would_delete_protected_pools():
    base = base_settings("prod")
    merged = day2.settings("prod", {"kafka.dualRole": True}, base)
    unchecked = day2.judge(day2.deploy("prod", base), day2.deploy("prod", merged))   # as if the program let it by
    assert refusals(unchecked).keys() == {"KafkaNodePool/my-cluster-controllers", "KafkaNodePool/my-cluster-brokers"}
    assert all("protect=True" in reason for reason in refusals(unchecked).values())


def test_merging_prods_kafka_node_pools_is_refused_at_preview():
    message, _ = refusal("prod", {"kafka.dualRole": True})
    assert message.startswith("knative-kafka:kafka.dualRole: true is not allowed")
