"""Settings at the edges the README documents: each range accepts its own ends, each documented default
and choice is what the program uses, and a few refusals are read in full, as the user reads them."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from components import lifecycle
from components.config import ConfigError, StackConfig, parse

KAFKA = {"controllers": 3, "brokers": 3, "replicationFactor": 3, "minInsyncReplicas": 2, "storage": "ephemeral",
         "authentication": "none"}
BASE: dict[str, Any] = {"cluster": {"authorizedIpRanges": ["20.50.10.0/24"]}, "kafka": KAFKA,
                        "topics": [{"name": "orders", "partitions": 6}]}


def settings(**sections: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), **sections}


def with_function(**function: Any) -> StackConfig:
    return parse(settings(functions=[{"name": "fn", "topic": "orders", **function}]), "test")


def refusal(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as refused:
        parse(raw, "test")
    return str(refused.value)


@pytest.mark.parametrize(("key", "low", "high"), [
    ("window", "6s", "1h"), ("scaleDownDelay", "0s", "1h")])
def test_a_functions_autoscaling_durations_accept_both_ends_of_their_range(key, low, high):
    for value in (low, high):
        assert getattr(with_function(autoscaling={key: value}).functions[0].autoscaling,
                       "window" if key == "window" else "scale_down_delay") == value
    with pytest.raises(ConfigError, match=rf"autoscaling\.{key}: 3601s is not allowed"):
        with_function(autoscaling={key: "3601s"})


@pytest.mark.parametrize(("key", "low", "high"), [
    ("scaleToZeroGracePeriod", "6s", "1h"), ("stableWindow", "6s", "1h"),
    ("scaleToZeroPodRetentionPeriod", "0s", "1h")])
def test_the_cluster_wide_autoscaler_durations_accept_both_ends_of_their_range(key, low, high):
    for value in (low, high):
        assert value in parse(settings(autoscaler={key: value}), "test").autoscaler.data().values()


@pytest.mark.parametrize("value", ["PT0.1S", "PT1H"])
def test_a_delivery_backoff_delay_accepts_both_ends_of_its_range(value):
    assert with_function(delivery={"backoffDelay": value}).functions[0].delivery.backoff_delay == value


@pytest.mark.parametrize(("autoscaling", "metric"), [({}, "concurrency"), ({"class": "hpa"}, "cpu")])
def test_the_default_autoscaling_metric_is_the_documented_one(autoscaling, metric):
    assert with_function(autoscaling=autoscaling).functions[0].autoscaling.metric == metric


@pytest.mark.parametrize("metric", ["cpu", "memory"])
def test_a_utilization_target_is_refused_with_the_hpa_class(metric):
    message = refusal(settings(functions=[{"name": "fn", "topic": "orders", "autoscaling": {
        "class": "hpa", "metric": metric, "targetUtilizationPercentage": 70}}]))
    assert message.startswith("knative-kafka:functions[0].autoscaling.targetUtilizationPercentage: 70 is not allowed")


@pytest.mark.parametrize("channel", ["NodeImage", "SecurityPatch", "Unmanaged", "None"])
def test_every_documented_node_os_upgrade_channel_is_accepted(channel):
    assert parse(settings(cluster={**BASE["cluster"], "nodeOsUpgradeChannel": channel}),
                 "test").cluster.node_os_upgrade_channel == channel


# Set by Knative in every revision: serving pkg/apis/serving/k8s_validation.go reservedEnvVars
@pytest.mark.parametrize("name", ["PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"])
def test_an_environment_variable_knative_sets_itself_is_refused(name):
    message = refusal(settings(functions=[{"name": "fn", "topic": "orders", "env": {name: "x"}}]))
    assert message.startswith(f"knative-kafka:functions[0].env.{name}: x is not allowed; a name Knative does not "
                              "set itself")


def edit_refusal(edited: dict[str, Any]) -> str:
    """The refusal of an edit to a stack deployed with BASE."""
    deployed = lifecycle.settings_of(parse(settings(), "test"))
    with pytest.raises(ConfigError) as refused:
        lifecycle.check_edit(deployed, parse(edited, "test"))
    return str(refused.value)


def test_a_new_replication_factor_of_a_live_topic_is_refused_in_full():
    edited = settings(topics=[{"name": "orders", "partitions": 6, "replicas": 2, "minInsyncReplicas": 1}])
    assert edit_refusal(edited) == (
        "knative-kafka:topics[0].replicas: 2 is not allowed; 3, the replicas topic 'orders' has (set it explicitly "
        "if kafka.replicationFactor changed): Strimzi changes a live topic's replication factor only with Cruise "
        "Control, which this stack does not run")


def test_a_new_vm_size_of_a_live_pool_is_refused_in_full_with_the_way_out():
    user = settings(cluster={**BASE["cluster"], "userPool": {"vmSize": "Standard_D8ds_v5"}})
    assert edit_refusal(user) == (
        "knative-kafka:cluster.userPool.vmSize: Standard_D8ds_v5 is not allowed; Standard_D4ds_v5 as deployed: "
        "AKS sets a node pool's VM size, zones and encryption at host only when it creates the pool; to replace the "
        "pool, also set cluster.userPool.name to a new name (the new pool is created first, then the old one is "
        "drained and deleted)")
    system = settings(cluster={**BASE["cluster"], "systemPool": {"vmSize": "Standard_D8ds_v5"}})
    assert edit_refusal(system) == (
        "knative-kafka:cluster.systemPool.vmSize: Standard_D8ds_v5 is not allowed; Standard_D4ds_v5 as deployed: "
        "AKS sets a node pool's VM size, zones and encryption at host only when it creates the pool, and the system "
        "pool is created with the cluster (add a new system pool by hand, or deploy a new stack)")


def test_a_user_pool_named_like_the_system_pool_is_refused_in_full():
    assert refusal(settings(cluster={**BASE["cluster"], "userPool": {"name": "system"}})) == (
        "knative-kafka:cluster.userPool.name: system is not allowed; a name other than the system pool's ('system')")


@pytest.mark.parametrize("key", ["kubeconfig", "context"])
def test_a_kubeconfig_or_context_on_an_aks_stack_is_refused_by_its_own_name(key):
    assert refusal(settings(cluster={**BASE["cluster"], key: "kind-x"})) == (
        f"knative-kafka:cluster.{key}: kind-x is not allowed; only with mode 'existing': an AKS stack builds its "
        "own kubeconfig")
