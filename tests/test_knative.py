"""Knative Serving (Kourier), Knative Eventing and eventing-kafka, each component alone."""
from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import Section, parse_autoscaler
from components.knative_eventing import EventingKafka, EventingKafkaArgs, KnativeEventing, KnativeEventingArgs
from components.knative_serving import KnativeServing, KnativeServingArgs, gateway_service_type
from components.manifests import strip_aggregated_rules
from components.upstream import Upstream

GROUP = "kubernetes:yaml/v2:ConfigGroup"
PATCH = "kubernetes:core/v1:ConfigMapPatch"
DEFAULT_VERSIONS = Upstream()
# Where Knative publishes a release's manifests: GitHub release assets of tag knative-v<version> (knative.dev
# "Install Knative Serving using YAML files", e.g. github.com/knative/serving/releases/download/knative-v1.23.0/...)
RELEASES = "https://github.com/{}/releases/download/knative-v1.23.0/{}"


def autoscaler(**settings):
    return parse_autoscaler(Section("knative-kafka:autoscaler", settings))


def serving(versions=DEFAULT_VERSIONS, hpa=False, provider=None, **autoscaler_settings):
    provider = provider or k8s.Provider("k8s", kubeconfig="unused")
    return KnativeServing("knative-serving", KnativeServingArgs(
        versions=versions, autoscaler=autoscaler(**autoscaler_settings), install_hpa=hpa,
        gateway_service_type="LoadBalancer", provider=provider))


def test_serving_core_is_the_pinned_release_without_serving_crds(pulumi_mocks):
    registry = pulumi_mocks.run(serving)
    assert registry.one(GROUP, "serving-core").inputs["files"] == [
        RELEASES.format("knative/serving", "serving-core.yaml")]
    assert not [g for g in registry.of_type(GROUP) if "serving-crds" in str(g.inputs["files"])]


def test_kourier_is_installed_after_serving_core_and_selected_in_config_network(pulumi_mocks):
    registry = pulumi_mocks.run(serving)
    core, kourier = registry.one(GROUP, "serving-core"), registry.one(GROUP, "kourier")
    assert kourier.inputs["files"] == [RELEASES.format("knative-extensions/net-kourier", "kourier.yaml")]
    assert registry.depends_on(kourier, core)
    network = registry.one(PATCH, "config-network")
    assert network.inputs["metadata"]["namespace"] == "knative-serving"
    assert network.inputs["data"] == {"ingress-class": "kourier.ingress.networking.knative.dev"}
    assert registry.depends_on(network, core), "the patch goes through Serving's webhook"


def test_config_autoscaler_is_patched_with_the_stack_settings(pulumi_mocks):
    registry = pulumi_mocks.run(lambda: serving(enableScaleToZero=False, stableWindow="2m", maxScaleUpRate=10))
    patch = registry.one(PATCH, "config-autoscaler")
    assert patch.inputs["data"] == {
        "enable-scale-to-zero": "false",
        "scale-to-zero-grace-period": "30s",
        "scale-to-zero-pod-retention-period": "0s",
        "max-scale-down-rate": "2.0",
        "max-scale-up-rate": "10.0",
        "stable-window": "2m",
        "allow-zero-initial-scale": "false",
    }
    assert patch.inputs["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
    assert registry.depends_on(patch, registry.one(GROUP, "serving-core"))


def test_hpa_class_support_is_installed_only_when_a_function_uses_it(pulumi_mocks):
    assert [g.name for g in pulumi_mocks.run(serving).of_type(GROUP)] == ["serving-core", "kourier"]
    registry = pulumi_mocks.run(lambda: serving(hpa=True))
    hpa = registry.one(GROUP, "serving-hpa")
    assert hpa.inputs["files"] == [RELEASES.format("knative/serving", "serving-hpa.yaml")]
    assert registry.depends_on(hpa, registry.one(GROUP, "serving-core"))


def test_release_urls_follow_the_version_settings(pulumi_mocks):
    registry = pulumi_mocks.run(lambda: serving(Upstream(knative_serving="1.24.1", kourier="1.24.0")))
    assert "knative-v1.24.1/serving-core.yaml" in registry.one(GROUP, "serving-core").inputs["files"][0]
    assert "knative-v1.24.0/kourier.yaml" in registry.one(GROUP, "kourier").inputs["files"][0]


def eventing(sink=False, provider=None):
    provider = provider or k8s.Provider("k8s", kubeconfig="unused")
    core = KnativeEventing("knative-eventing", KnativeEventingArgs(versions=Upstream(), provider=provider))
    EventingKafka("eventing-kafka", EventingKafkaArgs(
        versions=Upstream(), install_sink=sink, provider=provider, eventing=core.ready))


def test_eventing_core_then_kafka_controller_then_source_data_plane(pulumi_mocks):
    registry = pulumi_mocks.run(eventing)
    core = registry.one(GROUP, "eventing-core")
    controller = registry.one(GROUP, "eventing-kafka-controller")
    source = registry.one(GROUP, "eventing-kafka-source")
    assert core.inputs["files"] == [RELEASES.format("knative/eventing", "eventing-core.yaml")]
    assert controller.inputs["files"] == [
        RELEASES.format("knative-extensions/eventing-kafka-broker", "eventing-kafka-controller.yaml")]
    assert source.inputs["files"] == [
        RELEASES.format("knative-extensions/eventing-kafka-broker", "eventing-kafka-source.yaml")]
    assert registry.depends_on(controller, core), "the controller file reads eventing-core's ConfigMaps"
    assert registry.depends_on(source, controller)
    assert registry.of_type(GROUP) == [core, controller, source]


def test_kafka_sink_receiver_only_when_a_function_dead_letters(pulumi_mocks):
    registry = pulumi_mocks.run(lambda: eventing(sink=True))
    sink = registry.one(GROUP, "eventing-kafka-sink")
    assert sink.inputs["files"][0].endswith("knative-v1.23.0/eventing-kafka-sink.yaml")
    assert registry.depends_on(sink, registry.one(GROUP, "eventing-kafka-controller"))


def test_every_release_manifest_strips_rules_of_aggregated_cluster_roles(pulumi_mocks):
    def both():
        provider = k8s.Provider("k8s", kubeconfig="unused")
        serving(hpa=True, provider=provider)
        eventing(sink=True, provider=provider)

    registry = pulumi_mocks.run(both)
    groups = registry.of_type(GROUP)
    assert len(groups) == 7
    assert {g.name: g.transforms for g in groups} == {
        "serving-core": 1, "kourier": 2, "serving-hpa": 1, "eventing-core": 1, "eventing-kafka-controller": 1,
        "eventing-kafka-source": 1, "eventing-kafka-sink": 1}, "kourier also sets its gateway's Service type"


def transform_args(type_: str, props: dict) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(custom=True, type_=type_, name="x", props=props,
                                        opts=pulumi.ResourceOptions())


def test_aggregated_cluster_role_loses_its_empty_rules_and_nothing_else_changes():
    role = {"metadata": {"name": "addressable-resolver"}, "rules": [],
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"duck.knative.dev/addressable": "true"}}]}}
    result = strip_aggregated_rules(transform_args("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", role))
    assert result is not None
    assert result.props == {"metadata": role["metadata"], "aggregationRule": role["aggregationRule"]}
    plain_role = {"metadata": {"name": "controller"}, "rules": [{"verbs": ["get"]}]}
    assert strip_aggregated_rules(transform_args("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                                                 plain_role)) is None
    assert strip_aggregated_rules(transform_args("kubernetes:core/v1:ConfigMap", role)) is None


KOURIER_GATEWAY: dict[str, Any] = {"metadata": {"name": "kourier", "namespace": "kourier-system"},
                   "spec": {"type": "LoadBalancer", "ports": [{"name": "http2", "port": 80}]}}


def test_kourier_gateway_becomes_the_configured_service_type_not_awaited_and_nothing_else_changes():
    result = gateway_service_type("NodePort")(transform_args("kubernetes:core/v1:Service", KOURIER_GATEWAY))
    assert isinstance(result, pulumi.ResourceTransformResult)
    assert result.props == {
        "metadata": {**KOURIER_GATEWAY["metadata"], "annotations": {"pulumi.com/skipAwait": "true"}},
        "spec": {**KOURIER_GATEWAY["spec"], "type": "NodePort"}}
    internal = {**KOURIER_GATEWAY, "metadata": {"name": "kourier-internal", "namespace": "kourier-system"}}
    assert gateway_service_type("NodePort")(transform_args("kubernetes:core/v1:Service", internal)) is None
    assert gateway_service_type("NodePort")(transform_args("kubernetes:core/v1:ConfigMap", KOURIER_GATEWAY)) is None
