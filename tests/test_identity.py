"""Every resource of every shipped stack (and of prod with every optional resource) keeps the identity its
reviewed snapshot pins (tests/identity.py): URN (type, name, parent chain), explicit provider, Kubernetes
cluster identifier. On a deployed stack any change is a delete and a create, so it fails here until the
snapshot is rewritten on purpose:

    UPDATE_SNAPSHOTS=1 scripts/test -k identity      (then review the diff of tests/snapshots/)

A URN that must change keeps its resource only with an alias that names the old URN.
"""
from __future__ import annotations

import os
from typing import Any

import pulumi
import pytest

import identity
from components import strimzi
from components.kube import KubeObject
from harness import Harness, Registry

UPDATE = os.environ.get("UPDATE_SNAPSHOTS", "") not in ("", "0")
TOPIC = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
# The proofs below change the local stack (the cheapest to render) and compare it with its snapshot.
TOPIC_URN = "urn:pulumi:local::knative-kafka::knative-kafka:strimzi:KafkaCluster$kubernetes:kafka.strimzi.io/v1:" \
            "KafkaTopic::topic-my-topic"


@pytest.mark.parametrize("stack", identity.VARIANTS)
def test_every_resource_keeps_the_identity_its_snapshot_pins(pulumi_mocks, stack):
    registry = identity.render(pulumi_mocks, stack)
    if UPDATE:
        if identity.snapshot_path(stack).exists():
            diff = identity.compare(identity.load(stack), registry)
            assert not diff.moved, (
                f"{stack}: not rewritten, resources would be replaced under a new parent chain; give each an "
                f"alias naming its old URN (pulumi.Alias(parent=...)):\n{diff.report()}")
        identity.write(stack, registry)
        return
    assert identity.snapshot_path(stack).exists(), f"{stack} has no identity snapshot: {identity.REGENERATE}"
    diff = identity.compare(identity.load(stack), registry)
    assert not diff.breaking, (
        f"{stack}: on a deployed stack these resources would be created, deleted or replaced:\n{diff.report()}\n"
        f"If that is meant, rewrite the snapshot ({identity.REGENERATE}) and review its diff; a resource whose "
        "URN must change keeps its state only with aliases=[pulumi.Alias(...)] naming the old URN.")


def topic_registered_as(monkeypatch: pytest.MonkeyPatch, name: str | None = None, parent: bool = True,
                        aliases: list[Any] | None = None) -> None:
    """The program, with `my-topic`'s KafkaTopic registered under another name or without its parent."""

    class Changed(KubeObject):
        def __init__(self, resource_name: str, api_version: str, kind: str, metadata: Any, spec: Any,
                     opts: pulumi.ResourceOptions | None = None) -> None:
            if kind == "KafkaTopic" and resource_name == "topic-my-topic":
                opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases or []))
                if not parent:
                    opts.parent = None
                resource_name = name or resource_name
            super().__init__(resource_name, api_version, kind, metadata, spec, opts)

    monkeypatch.setattr(strimzi, "KubeObject", Changed)


def against_its_snapshot(harness: Harness) -> tuple[Registry, identity.Difference]:
    registry = harness.run_main("local")
    return registry, identity.compare(identity.load("local"), registry)


def test_a_kafka_topic_under_a_new_name_fails_the_check_its_topic_would_be_deleted(pulumi_mocks, monkeypatch):
    topic_registered_as(monkeypatch, name="my-topic")
    _, diff = against_its_snapshot(pulumi_mocks)
    assert diff.breaking
    assert diff.removed == [TOPIC_URN]
    assert diff.added == [TOPIC_URN.replace("::topic-my-topic", "::my-topic")]
    assert "deleted: " + TOPIC_URN in diff.report()


def test_a_kafka_topic_without_its_parent_fails_the_check_as_a_replacement(pulumi_mocks, monkeypatch):
    topic_registered_as(monkeypatch, parent=False)
    _, diff = against_its_snapshot(pulumi_mocks)
    moved = "urn:pulumi:local::knative-kafka::kubernetes:kafka.strimzi.io/v1:KafkaTopic::topic-my-topic"
    assert diff.moved == {moved: TOPIC_URN}
    assert diff.breaking


def test_a_kafka_topic_renamed_with_an_alias_to_its_old_urn_keeps_its_identity(pulumi_mocks, monkeypatch):
    topic_registered_as(monkeypatch, name="my-topic", aliases=[pulumi.Alias(name="topic-my-topic")])
    registry, diff = against_its_snapshot(pulumi_mocks)
    assert not diff.breaking, diff.report()
    assert diff.renamed == {TOPIC_URN.replace("::topic-my-topic", "::my-topic"): TOPIC_URN}
    renamed = registry.one(TOPIC, "my-topic")
    assert [alias["spec"]["name"] for alias in renamed.alias_specs] == ["topic-my-topic"]


def test_an_alias_that_names_another_urn_does_not_keep_the_topic(pulumi_mocks, monkeypatch):
    topic_registered_as(monkeypatch, name="my-topic", aliases=[pulumi.Alias(name="topic-your-topic")])
    _, diff = against_its_snapshot(pulumi_mocks)
    assert diff.removed == [TOPIC_URN]


def component_type_changed(monkeypatch: pytest.MonkeyPatch, old: str, new: str, alias: bool) -> None:
    """The program with one component's type token changed, with or without an alias to the old type."""
    register = pulumi.ComponentResource.__init__

    def changed(self: pulumi.ComponentResource, t: str, name: str, props: Any = None,
                opts: pulumi.ResourceOptions | None = None, *args: Any, **kwargs: Any) -> None:
        if t == old:
            t = new
            if alias:
                opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=old)]))
        register(self, t, name, props, opts, *args, **kwargs)

    monkeypatch.setattr(pulumi.ComponentResource, "__init__", changed)


KAFKA_CLUSTER = "knative-kafka:strimzi:KafkaCluster"


def test_a_new_component_type_token_fails_the_check_every_child_would_be_replaced(pulumi_mocks, monkeypatch):
    component_type_changed(monkeypatch, KAFKA_CLUSTER, "knative-kafka:kafka:KafkaCluster", alias=False)
    _, diff = against_its_snapshot(pulumi_mocks)
    assert TOPIC_URN in diff.removed
    assert TOPIC_URN.replace(KAFKA_CLUSTER, "knative-kafka:kafka:KafkaCluster") in diff.moved
    assert len(diff.removed) >= 5


def test_children_of_a_component_retyped_with_an_alias_keep_their_identity(pulumi_mocks, monkeypatch):
    """The engine aliases the children of an aliased parent: one alias on the component keeps them all."""
    component_type_changed(monkeypatch, KAFKA_CLUSTER, "knative-kafka:kafka:KafkaCluster", alias=True)
    _, diff = against_its_snapshot(pulumi_mocks)
    assert not diff.breaking, diff.report()
    assert TOPIC_URN in diff.renamed.values()
    assert f"urn:pulumi:local::knative-kafka::{KAFKA_CLUSTER}::kafka" in diff.renamed.values()


def test_a_component_renamed_without_an_alias_fails_the_check(pulumi_mocks, monkeypatch):
    """Its children keep their URNs (the URN holds the parent's types, not its name), the component does not."""
    register = strimzi.KafkaCluster.__init__

    def renamed(self: strimzi.KafkaCluster, name: str, args: strimzi.KafkaClusterArgs,
                opts: pulumi.ResourceOptions | None = None) -> None:
        register(self, "kafka-cluster", args, opts)

    monkeypatch.setattr(strimzi.KafkaCluster, "__init__", renamed)
    _, diff = against_its_snapshot(pulumi_mocks)
    assert diff.removed == [f"urn:pulumi:local::knative-kafka::{KAFKA_CLUSTER}::kafka"]
    assert diff.added == [f"urn:pulumi:local::knative-kafka::{KAFKA_CLUSTER}::kafka-cluster"]
