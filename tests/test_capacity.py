"""Capacity (issue 12): a stack proves at preview that its cluster can run what it asks for at its peak.

Figures below are worked by hand from components/capacity.py's tables (requests: CPU in millicores,
memory in MiB). Platform without dispatchers and functions:
- dev (one dual-role Kafka node): serving 600/360 + kourier 200/200 + gateway 200/200 + eventing 325/214
  + eventing-kafka 120/120 + KafkaSink receiver 200/450 + Strimzi operator 200/384 + Kafka node 500/2048
  + entity operator 0/0 + exporter 200/64 = 2545m / 4040Mi;
- prod (3 controllers + 3 brokers): the same with 3 x 250/1024 + 3 x 500/2048 for Kafka = 4295m / 11208Mi.
A function of the recipe's shape (6 partitions, ordered): 6 replicas of 100m/128Mi + the queue-proxy's
25m/0 = 750m / 768Mi, and 6 consumers: ceil(6n / 20) dispatcher pods of 1000m / 700Mi.
dev's pool: 3 x Standard_D4ds_v5 = 3 x (4000 - 140)m, 3 x (16384 - min(5050, 4096) - 100)Mi = 11580m / 36564Mi;
prod's user pool: 12 x Standard_D8ds_v5 = 12 x (8000 - 180)m, 12 x (32768 - 5050 - 100)Mi = 93840m / 331416Mi.
"""
from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pulumi
import pytest
import yaml

from components import capacity
from components.capacity import Pod
from components.config import ConfigError, parse
from harness import FIXTURES, ROOT, SMALL_KAFKA, load_script, resolve, small_stack, stack_config

NODE_POOL = "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"
GROUP = "kubernetes:yaml/v2:ConfigGroup"
PLATFORM = {"dev": (2545, 4040), "prod": (4295, 11208)}
POOL = {"dev": (11580, 36564), "prod": (93840, 331416)}


def functions(count: int, **settings: Any) -> dict[str, Any]:
    return {"topics": [{"name": "orders", "partitions": 6}],
            "functions": [{"name": f"fn-{i}", "topic": "orders", **settings} for i in range(count)]}


def stack(name: str, count: int | None = None, **sections: Any) -> dict[str, Any]:
    return {**stack_config(name), **(functions(count) if count is not None else {}), **sections}


def plan(name: str, count: int | None = None, **sections: Any) -> capacity.Plan:
    return capacity.plan(parse(stack(name, count, **sections), name))


def check(name: str, count: int | None = None, **sections: Any) -> list[str]:
    cfg = parse(stack(name, count, **sections), name)
    return capacity.check(capacity.plan(cfg), cfg)


# stack, functions, dispatcher pods, peak CPU (m), peak memory (Mi), fits
PLANS = [(name, n, math.ceil(6 * n / 20), PLATFORM[name][0] + 750 * n + 1000 * math.ceil(6 * n / 20),
          PLATFORM[name][1] + 768 * n + 700 * math.ceil(6 * n / 20), fits)
         for name, n, fits in [("dev", 1, True), ("dev", 10, False), ("dev", 50, False), ("dev", 200, False),
                               ("prod", 1, True), ("prod", 10, True), ("prod", 50, True), ("prod", 200, False)]]


@pytest.mark.parametrize(("name", "count", "dispatchers", "cpu", "memory", "fits"), PLANS,
                         ids=[f"{p[0]}-{p[1]}" for p in PLANS])
def test_the_plan_for_1_10_50_and_200_functions(name, count, dispatchers, cpu, memory, fits):
    p = plan(name, count)
    assert p.component("kafka-source-dispatcher").pods == dispatchers
    assert (p.component("functions").pods, p.component("functions").cpu) == (6 * count, 750 * count)
    assert (p.cpu, p.memory) == (cpu, memory)
    assert p.pool is not None and (p.pool.cpu, p.pool.memory) == POOL[name]
    assert p.fits is fits
    if not fits:
        with pytest.raises(ConfigError):
            check(name, count)


def test_the_shipped_stacks_fit_and_say_how_many_functions_of_their_shape_would():
    for name, most in (("dev", (8, 6)), ("prod", (84, 71))):
        cfg = parse(stack_config(name), name)
        assert capacity.check(capacity.plan(cfg), cfg) == []
        assert capacity.most_functions(cfg) == most, name
    # 8 on dev: 2545 + 8 x 750 + 3 x 1000 = 11545 <= 11580; 9: 12295. Within 15%: 6 (9045 <= 9843), 7: 10795.
    assert plan("dev", 8).fits and not plan("dev", 9).fits


def test_a_peak_that_does_not_fit_is_refused_with_the_shortfall_and_the_cheapest_fixes():
    with pytest.raises(ConfigError) as refused:
        check("dev", 50)
    message = str(refused.value)
    # 55045m against 11580m: short by 43.47 CPU; memory (52940Mi of 36564Mi) is short too.
    assert message.startswith("knative-kafka:cluster.systemPool.maxCount: 3 is not allowed; a cluster that holds "
                              "the stack: at its peak (every function at maxScale, 15 dispatcher pods for 300 "
                              "consumers) the stack requests 55.05 CPU and 51.70Gi"), message
    assert "short by 43.47 CPU and 15.99Gi" in message
    # 55045m / 3860m: 15 x D4ds_v5 (60 vCPUs). Larger sizes: D8ds_v5 7820m x 8, D16 15740m x 4, D32 31580m x 2,
    # D64 63260m x 1: 64 vCPUs each; of equals, the most nodes. The system pool's size is fixed: a user pool.
    assert "Cheapest fixes: cluster.systemPool.maxCount 15 (15 x Standard_D4ds_v5, 60 vCPUs)" in message
    assert ("a user pool, cluster.userPool {vmSize: Standard_D8ds_v5, maxCount: 8} (64 vCPUs), which takes the "
            "workload off the system pool") in message
    # Functions alone (37.5 CPU) exceed the pool: fewer consumers cannot help.
    assert "fewer functions, or a lower autoscaling.maxScale" in message


def test_fewer_consumers_is_offered_when_they_alone_make_it_fit():
    # 10 functions of 1 replica (125m each) and 6 consumers each: 3 dispatcher pods; 2545 + 1250 + 3000 = 6795m on
    # a pool of 1 x D4ds_v5 (3860m): free after the rest 3860 - 3795 = 65m, no dispatcher; on 2 nodes (7720m):
    # 7720 - 3795 = 3925m: 3 pods = 60 consumers... so shrink the pool to 1 node with a D8ds_v5 (7820m): 4025m
    # free, 4 pods fit: no fix needed. Use 2 x D4ds_v5 and 14 functions: 2545 + 1750 + 5000 = 9295 > 7720;
    # free for dispatchers 7720 - 4295 = 3425m: 3 pods, at most 60 consumers (now 84).
    sections = {**functions(14, autoscaling={"maxScale": 1}),
                "cluster": {**stack_config("dev")["cluster"],
                            "systemPool": {"vmSize": "Standard_D4ds_v5", "minCount": 1, "maxCount": 2}}}
    with pytest.raises(ConfigError) as refused:
        check("dev", **sections)
    assert "; or at most 60 consumers in all (now 84; every 20 take a dispatcher pod of 1.00 CPU and 700Mi)" in str(
        refused.value)


def test_a_stack_refused_for_its_peak_fits_after_raising_max_count_to_the_suggested_count():
    cluster = stack_config("dev")["cluster"]
    for count, fits in ((14, False), (15, True)):
        pool = {**cluster["systemPool"], "maxCount": count}
        p = plan("dev", 50, cluster={**cluster, "systemPool": pool})
        assert p.fits is fits, count
    # 15 x 3860m = 57900m for 55045m: 4.9% left, under the margin, so it fits with a warning.
    [warning] = check("dev", 50, cluster={**cluster, "systemPool": {**cluster["systemPool"], "maxCount": 15}})
    assert warning.startswith("knative-kafka:cluster.systemPool.maxCount: 15 leaves 5% of the system pool's CPU free "
                              "at peak, under the 15% margin"), warning
    assert warning.endswith("cluster.systemPool.maxCount 17 leaves it")


def test_a_peak_within_the_margin_warns_at_preview(pulumi_mocks, monkeypatch):
    # One function at 1200m a replica on dev: 2545 + 6 x (1200 + 25) + 1000 = 10895m of 11580m, 5.9% left;
    # at 1000m a replica: 9695m, 16.3% left.
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    crowded = functions(1, resources={"requests": {"cpu": "1200m"}})
    registry = pulumi_mocks.run_main("dev", crowded)
    assert [w for w in warned if "margin" in w] == [check("dev", **crowded)[0]]
    assert "leaves 6% of the system pool's CPU free" in warned[0]
    assert registry.of_type(NODE_POOL), "a warning does not stop the deploy"
    warned.clear()
    pulumi_mocks.run_main("dev", functions(1, resources={"requests": {"cpu": "1000m"}}))
    assert [w for w in warned if "margin" in w] == []


def test_a_refused_peak_registers_nothing(pulumi_mocks):
    with pytest.raises(ConfigError, match=r"^knative-kafka:cluster\.userPool\.maxCount: 12 is not allowed"):
        pulumi_mocks.run_main("prod", functions(200))
    assert pulumi_mocks.monitor is not None and pulumi_mocks.monitor.registrations == {}


def test_an_unordered_function_without_max_scale_has_no_peak_and_is_refused():
    sections = functions(2)
    sections["functions"][1] |= {"ordering": "unordered"}
    with pytest.raises(ConfigError) as refused:
        plan("dev", **sections)
    assert str(refused.value) == (
        "knative-kafka:functions[1].autoscaling.maxScale: null is not allowed; a number with ordering 'unordered' "
        "(function 'fn-1'): without it the function has no peak, and the stack's capacity cannot be planned")
    sections["functions"][1] |= {"autoscaling": {"maxScale": 20}}
    assert plan("dev", **sections).component("functions").pods == 6 + 20


def test_an_existing_cluster_is_planned_but_held_to_nothing_unless_it_declares_its_capacity(pulumi_mocks):
    p = plan("local", 50)
    assert p.pool is None and p.fits and p.headroom is None
    assert check("local", 50) == []
    # The export is the same plan, rendered for 10 functions (a peak dev's pool would refuse): the 24 pods of
    # dev's peak less its function's 6 replicas and 1 dispatcher, + 60 replicas + 3 dispatchers; CPU
    # 2545 + 10 x 750 + 3 x 1000 m; memory 4040 + 10 x 768 + 3 x 700 Mi.
    exported = resolve(pulumi_mocks.run_main("local", functions(10)).exports["capacity"])
    assert exported["enforced"] is False and exported["headroom"] is None
    assert exported["peak"] == {"pods": 24 - 6 - 1 + 60 + 3, "cpuMillicores": 13045, "memoryMiB": 13820}
    assert not plan("dev", 10).fits

    small = {**stack_config("local")["cluster"], "capacity": {"cpu": "16", "memory": "64Gi"}}
    with pytest.raises(ConfigError) as refused:
        check("local", 50, cluster=small)
    assert str(refused.value).startswith(
        'knative-kafka:cluster.capacity: {cpu: "16.00", memory: 64.00Gi} is not allowed; a cluster that holds '
        "the stack"), str(refused.value)
    assert "Cheapest fixes: a cluster.capacity of at least 55.05 CPU and 51.70Gi (a larger cluster)" in str(
        refused.value)
    large = {**stack_config("local")["cluster"], "capacity": {"cpu": 80, "memory": "128Gi"}}
    assert check("local", 50, cluster=large) == []


def test_declared_capacity_is_refused_on_aks_and_needs_both_numbers():
    with pytest.raises(ConfigError, match=r"^knative-kafka:cluster\.capacity: .* only with mode 'existing'"):
        parse(small_stack(cluster={"authorizedIpRanges": ["20.50.10.0/24"], "capacity": {"cpu": 8, "memory": "8Gi"}}),
              "test")
    with pytest.raises(ConfigError, match=r"^knative-kafka:cluster\.capacity\.memory: null is not allowed"):
        parse({**stack_config("local"), "cluster": {**stack_config("local")["cluster"], "capacity": {"cpu": 8}}},
              "local")


def test_a_vm_size_the_table_lacks_is_refused_unless_declared():
    cluster: dict[str, Any] = {"authorizedIpRanges": ["20.50.10.0/24"], "userPool": {"vmSize": "Standard_E4s_v5"}}
    with pytest.raises(ConfigError) as refused:
        capacity.plan(parse(small_stack(cluster=cluster), "test"))
    assert str(refused.value).startswith("knative-kafka:cluster.userPool.vmSize: Standard_E4s_v5 is not allowed; "
                                         "a VM size of the capacity table (Standard_D2_v5, ")
    declared = {**cluster, "userPool": {**cluster["userPool"], "capacity": {"cpu": 4, "memory": "32Gi"}}}
    p = capacity.plan(parse(small_stack(cluster=declared), "test"))
    # 6 nodes x (4000 - 140)m and x (32768 - min(5050, 8192) - 100)Mi
    assert p.pool is not None and (p.pool.cpu, p.pool.memory, p.pool.declared) == (6 * 3860, 6 * 27618, True)
    assert p.system_pool is not None and p.system_pool.vm_size == "Standard_D4ds_v5"


def test_a_pod_larger_than_one_node_is_refused_whatever_the_node_count():
    sections = functions(1, resources={"requests": {"cpu": "3900m"}, "limits": {"cpu": "4"}})
    with pytest.raises(ConfigError) as refused:
        plan("dev", **sections)
    assert str(refused.value).startswith(
        "knative-kafka:functions[0].resources.requests: {cpu: 3900m, memory: 128Mi} is not allowed; at most "
        "3860m CPU and 12188Mi memory: a replica of 'fn-0' (with the queue-proxy's 25m) must fit one node")
    sections = functions(1, resources={"requests": {"cpu": "3835m"}, "limits": {"cpu": "4"}})
    assert plan("dev", **sections).component("functions").cpu == 6 * 3860


def eventing_kafka(**settings: Any) -> Any:
    return parse(small_stack(eventingKafka=settings), "test").eventing_kafka


def test_dispatcher_pod_capacity_and_memory_are_one_setting():
    assert eventing_kafka() is None
    with pytest.raises(ConfigError, match=r"^knative-kafka:eventingKafka\.dispatcherPodCapacity: 40 is not allowed; "
                                          r"only together with dispatcherMemory, at least 1300Mi for 40 consumers"):
        eventing_kafka(dispatcherPodCapacity=40)
    with pytest.raises(ConfigError, match=r"^knative-kafka:eventingKafka\.dispatcherMemory: 1400Mi is not "
                                          r"allowed; only together with dispatcherPodCapacity"):
        eventing_kafka(dispatcherMemory="1400Mi")
    with pytest.raises(ConfigError, match=r"^knative-kafka:eventingKafka\.dispatcherMemory: 1000Mi is not "
                                          r"allowed; at least 1300Mi for dispatcherPodCapacity 40"):
        eventing_kafka(dispatcherPodCapacity=40, dispatcherMemory="1000Mi")
    assert eventing_kafka(dispatcherPodCapacity=40, dispatcherMemory="1400Mi") == capacity.DispatcherSettings(40, 1400)
    assert eventing_kafka(dispatcherPodCapacity=1000, dispatcherMemory="30100Mi") == capacity.DispatcherSettings(
        1000, 30100)
    with pytest.raises(ConfigError, match=r"^knative-kafka:eventingKafka\.dispatcherPodCapacity: 1001 is not allowed"):
        eventing_kafka(dispatcherPodCapacity=1001, dispatcherMemory="30200Mi")
    # 300 consumers at 40 a pod: 8 pods of 1000m / 1400Mi instead of 15 of 1000m / 700Mi.
    p = plan("prod", 50, eventingKafka={"dispatcherPodCapacity": 40, "dispatcherMemory": "1400Mi"})
    dispatchers = p.component("kafka-source-dispatcher")
    assert (dispatchers.pods, dispatchers.cpu, dispatchers.memory) == (8, 8000, 8 * 1400)


def transform_args(type_: str, props: dict[str, Any]) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(custom=True, type_=type_, name="x", props=props, opts=pulumi.ResourceOptions())


# As released (eventing-kafka-broker knative-v1.23.0), trimmed to what the transforms read.
KAFKA_CONTROLLER: dict[str, Any] = {
    "metadata": {"name": "kafka-controller", "namespace": "knative-eventing"},
    "spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "controller", "env": [{"name": "AUTOSCALER_REFRESH_PERIOD", "value": "100"},
                                       {"name": "POD_CAPACITY", "value": "20"},
                                       {"name": "DISPATCHERS_MIN_REPLICAS", "value": "0"}]}]}}}}
SOURCE_DISPATCHER: dict[str, Any] = {
    "metadata": {"name": "kafka-source-dispatcher", "namespace": "knative-eventing"},
    "spec": {"serviceName": "kafka-source-dispatcher", "template": {"spec": {"containers": [
        {"name": "kafka-source-dispatcher", "resources": {"requests": {"cpu": "1000m", "memory": "700Mi"},
                                                          "limits": {"cpu": "2000m", "memory": "1000Mi"}}}]}}}}


def test_pod_capacity_goes_into_the_kafka_controllers_env_and_nothing_else_changes():
    result = capacity.dispatcher_pod_capacity(40)(transform_args("kubernetes:apps/v1:Deployment", KAFKA_CONTROLLER))
    assert isinstance(result, pulumi.ResourceTransformResult)
    props: dict[str, Any] = dict(result.props)  # type: ignore[call-overload]
    [container] = props["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [{"name": "AUTOSCALER_REFRESH_PERIOD", "value": "100"},
                                {"name": "POD_CAPACITY", "value": "40"},
                                {"name": "DISPATCHERS_MIN_REPLICAS", "value": "0"}]
    assert {**props, "spec": {**props["spec"], "template": {}}} == {
        **KAFKA_CONTROLLER, "spec": {**KAFKA_CONTROLLER["spec"], "template": {}}}
    other = {**KAFKA_CONTROLLER, "metadata": {"name": "kafka-webhook-eventing", "namespace": "knative-eventing"}}
    assert capacity.dispatcher_pod_capacity(40)(transform_args("kubernetes:apps/v1:Deployment", other)) is None
    assert capacity.dispatcher_pod_capacity(40)(transform_args("kubernetes:v1:ConfigMap", KAFKA_CONTROLLER)) is None


def test_dispatcher_memory_sets_request_and_limit_never_replicas():
    result = capacity.dispatcher_memory(1400)(transform_args("kubernetes:apps/v1:StatefulSet", SOURCE_DISPATCHER))
    assert isinstance(result, pulumi.ResourceTransformResult)
    props: dict[str, Any] = dict(result.props)  # type: ignore[call-overload]
    [container] = props["spec"]["template"]["spec"]["containers"]
    # upstream's 700Mi -> 1000Mi limit, in proportion: 1400Mi -> 2000Mi; CPU as shipped
    assert container["resources"] == {"requests": {"cpu": "1000m", "memory": "1400Mi"},
                                      "limits": {"cpu": "2000m", "memory": "2000Mi"}}
    assert "replicas" not in props["spec"], "the kafka-controller's autoscaler owns the replicas"
    assert capacity.dispatcher_memory(1400)(transform_args("kubernetes:apps/v1:Deployment", SOURCE_DISPATCHER)) is None


def test_one_consumer_a_dispatcher_pod_is_the_least_and_gives_each_consumer_its_own_pod():
    with pytest.raises(ConfigError, match=r"^knative-kafka:eventingKafka\.dispatcherPodCapacity: 0 is not allowed; a "
                                          r"whole number at least 1 and at most 1000$"):
        eventing_kafka(dispatcherPodCapacity=0, dispatcherMemory="100Mi")
    with pytest.raises(ConfigError, match=r"^knative-kafka:eventingKafka\.dispatcherMemory: 129Mi is not allowed; "
                                          r"at least 130Mi for dispatcherPodCapacity 1"):
        eventing_kafka(dispatcherPodCapacity=1, dispatcherMemory="129Mi")
    assert eventing_kafka(dispatcherPodCapacity=1, dispatcherMemory="130Mi") == capacity.DispatcherSettings(1, 130)
    # A function on 6 partitions has 6 consumers: 6 dispatcher pods of 1000m (as shipped) and 130Mi each.
    p = plan("dev", 1, eventingKafka={"dispatcherPodCapacity": 1, "dispatcherMemory": "130Mi"})
    dispatchers = p.component("kafka-source-dispatcher")
    assert (dispatchers.pods, dispatchers.cpu, dispatchers.memory) == (6, 6000, 6 * 130)
    result = capacity.dispatcher_pod_capacity(1)(transform_args("kubernetes:apps/v1:Deployment", KAFKA_CONTROLLER))
    assert isinstance(result, pulumi.ResourceTransformResult)
    props: dict[str, Any] = dict(result.props)  # type: ignore[call-overload]
    [container] = props["spec"]["template"]["spec"]["containers"]
    assert {"name": "POD_CAPACITY", "value": "1"} in container["env"]


def test_the_dispatcher_transforms_are_registered_only_when_set(pulumi_mocks):
    def transforms(registry: Any) -> dict[str, int]:
        return {g.name: g.transforms for g in registry.of_type(GROUP) if g.name.startswith("eventing-kafka")}

    shipped = transforms(pulumi_mocks.run_main("dev"))
    assert shipped == {"eventing-kafka-controller": 1, "eventing-kafka-source": 1, "eventing-kafka-sink": 1}
    tuned = transforms(pulumi_mocks.run_main(
        "dev", {"eventingKafka": {"dispatcherPodCapacity": 40, "dispatcherMemory": "1400Mi"}}))
    assert tuned == {"eventing-kafka-controller": 2, "eventing-kafka-source": 2, "eventing-kafka-sink": 1}


def test_kafka_node_pools_request_what_the_plan_counts(pulumi_mocks):
    resources = {"brokers": {"requests": {"cpu": "2", "memory": "8Gi"}},
                 "controllers": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"cpu": "1"}}}
    prod = stack_config("prod")
    registry = pulumi_mocks.run_main("prod", {"kafka": {**prod["kafka"], "resources": resources}})
    pools = {p.inputs["metadata"]["name"]: p.inputs["spec"]["resources"] for p in registry.of_type(NODE_POOL)}
    # a limit left out is at least its request
    assert pools == {"brokers": {"requests": {"cpu": "2000m", "memory": "8192Mi"},
                                 "limits": {"cpu": "2000m", "memory": "8192Mi"}},
                     "controllers": {"requests": {"cpu": "500m", "memory": "2048Mi"},
                                     "limits": {"cpu": "1000m", "memory": "2048Mi"}}}
    p = plan("prod", kafka={**prod["kafka"], "resources": resources})
    assert (p.component("kafka-brokers").cpu, p.component("kafka-controllers").memory) == (3 * 2000, 3 * 2048)
    with pytest.raises(ConfigError, match=r"^knative-kafka:kafka\.resources\.brokers\.limits\.cpu: 1000m is not "
                                          r"allowed; at least requests\.cpu \(2000m\)"):
        parse(small_stack(kafka={**SMALL_KAFKA, "resources": {"brokers": {"requests": {"cpu": 2},
                                                                         "limits": {"cpu": 1}}}}), "test")


def test_the_plan_is_the_capacity_output(pulumi_mocks):
    exported = resolve(pulumi_mocks.run_main("prod").exports["capacity"])
    p = plan("prod")
    assert exported == p.output()
    assert exported["peak"] == {"pods": 29, "cpuMillicores": 4295 + 750 + 1000, "memoryMiB": 11208 + 768 + 700}
    assert exported["pool"]["nodes"] == 12 and exported["pool"]["vmSize"] == "Standard_D8ds_v5"
    assert exported["systemPool"]["cpuMillicores"] == 5 * 3860, "the system pool, for AKS's own pods"
    assert exported["headroom"] == {"cpu": round(1 - 6045 / 93840, 3), "memory": round(1 - 12676 / 331416, 3)}
    assert set(exported["components"]) == {
        "knative-serving", "kourier", "gateway", "knative-eventing", "eventing-kafka", "kafka-sink",
        "kafka-source-dispatcher", "strimzi-operator", "kafka-controllers", "kafka-brokers", "entity-operator",
        "kafka-exporter", "functions"}
    assert exported["components"]["functions"] == {"pods": 6, "cpuMillicores": 750, "memoryMiB": 768}
    assert exported["components"]["kafka-brokers"] == {"pods": 3, "cpuMillicores": 3 * 500, "memoryMiB": 3 * 2048}
    one = {"consumers": 6, "pods": 1, "cpuMillicores": 1000, "memoryMiB": 700}
    assert exported["dispatchers"] == {"podCapacity": 20, "peak": one, "idle": one}, "fixed consumers: idle is peak"
    assert exported["keda"] is None
    # Without events the function keeps its minScale (1 in prod): 125m, 128Mi.
    assert exported["idle"] == {"pods": 24, "cpuMillicores": 4295 + 125 + 1000, "memoryMiB": 11208 + 128 + 700}


def test_optional_components_are_planned_only_when_installed():
    cfg = parse(stack("dev", 1), "dev")
    without = replace(cfg, functions=tuple(replace(f, dead_letter_topic=None) for f in cfg.functions),
                      kafka=replace(cfg.kafka, exporter=None))
    names = {c.name for c in capacity.plan(without).components}
    assert {"kafka-sink", "kafka-exporter", "serving-hpa"} & names == set()
    hpa = functions(1, autoscaling={"class": "hpa", "metric": "cpu"})
    assert plan("dev", **hpa).component("serving-hpa").cpu == 30


def test_a_release_without_a_row_is_planned_with_the_newest_and_says_so():
    assert capacity.release(capacity.SERVING, "1.23.1") is capacity.SERVING["1.23"]
    assumed = capacity.release(capacity.SERVING, "1.24.0")
    assert assumed.pods == capacity.SERVING["1.23"].pods
    assert assumed.label == "knative/serving 1.23.0, assumed for 1.24.0"


def test_the_tables_hold_what_the_upstream_sources_say():
    # knative/serving knative-v1.23.0 config/core/deployments/activator.yaml (requests cpu 300m, memory 60Mi;
    # activator-hpa.yaml minReplicas 1), autoscaler.yaml (replicas 1; 100m/100Mi), controller.yaml (100m/100Mi),
    # webhook.yaml (100m/100Mi; webhook-hpa.yaml minReplicas 1)
    assert capacity.SERVING["1.23"].pods == (Pod("activator", 1, 300, 60), Pod("autoscaler", 1, 100, 100),
                                             Pod("controller", 1, 100, 100), Pod("webhook", 1, 100, 100))
    # knative/serving knative-v1.23.0 config/hpa-autoscaling/controller.yaml autoscaler-hpa 30m/40Mi
    assert capacity.SERVING_HPA["1.23"].pods == (Pod("autoscaler-hpa", 1, 30, 40),)
    # knative/serving knative-v1.23.0 pkg/deployment/config.go QueueSidecarCPURequestDefault 25m; memory only with
    # queueproxy.resource-defaults, "disabled" in config/core/configmaps/features.yaml
    assert capacity.QUEUE_PROXY["1.23"].pods == (Pod("queue-proxy", 1, 25, 0),)
    # net-kourier knative-v1.23.0 config/300-controller.yaml 200m/200Mi; config/300-gateway.yaml 200m/200Mi, HPA min 1
    assert capacity.KOURIER["1.23"].pods == (Pod("net-kourier-controller", 1, 200, 200),)
    assert capacity.GATEWAY["1.23"].pods == (Pod("3scale-kourier-gateway", 1, 200, 200),)
    # knative/eventing knative-v1.22.2 config/core/deployments/controller.yaml 100m/100Mi, webhook.yaml 100m/50Mi,
    # job-sink.yaml 125m/64Mi replicas 1, request-reply.yaml no requests, pingsource-mt-adapter.yaml replicas 0
    assert capacity.EVENTING["1.23"].pods == (
        Pod("eventing-controller", 1, 100, 100), Pod("eventing-webhook", 1, 100, 50), Pod("job-sink", 1, 125, 64),
        Pod("request-reply", 1, 0, 0), Pod("pingsource-mt-adapter", 0, 125, 64))
    # eventing-kafka-broker knative-v1.23.0 control-plane/config/eventing-kafka-broker/200-controller/
    # 500-controller.yaml 100m/100Mi (POD_CAPACITY '20'), 200-webhook/500-webhook.yaml 20m/20Mi,
    # data-plane/config/sink/500-receiver.yaml 200m/450Mi, data-plane/config/source/500-dispatcher.yaml
    # 1000m/700Mi (limit 1000Mi)
    assert capacity.EVENTING_KAFKA["1.23"].pods == (Pod("kafka-controller", 1, 100, 100),
                                                    Pod("kafka-webhook-eventing", 1, 20, 20))
    assert capacity.KAFKA_SINK["1.23"].pods == (Pod("kafka-sink-receiver", 1, 200, 450),)
    assert capacity.DISPATCHER["1.23"].pods == (Pod("kafka-source-dispatcher", 0, 1000, 700),)
    assert (capacity.DISPATCHER_POD_CAPACITY, capacity.DISPATCHER_MEMORY_LIMIT) == (20, 1000)
    # strimzi-kafka-operator 1.2.0 packaging/helm-charts/helm3/strimzi-kafka-operator/values.yaml: replicas 1,
    # requests 200m/384Mi; the entity operator gets no requests unless the Kafka sets them
    assert capacity.STRIMZI["1.2"].pods == (Pod("strimzi-cluster-operator", 1, 200, 384),)
    assert capacity.ENTITY_OPERATOR["1.2"].pods == (Pod("entity-operator", 1, 0, 0),)
    # learn.microsoft.com/azure/aks/node-resource-reservations (AKS 1.29+): CPU by cores; memory
    # min(20MB x max pods + 50MB, 25%) + 100Mi eviction; max pods 250 with Azure CNI Overlay
    assert capacity.KUBE_RESERVED_CPU == {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}
    assert [capacity.kube_reserved_memory(gi * 1024) for gi in (8, 16, 32, 64)] == [2148, 4196, 5150, 5150]
    assert [capacity.kube_reserved_cpu(m) for m in (2000, 3000, 48000, 96000)] == [100, 140, 740, 1060]
    # Dsv5/Ddsv5 series: n vCPUs, 4n GiB
    assert capacity.VM_SIZES["Standard_D4ds_v5"] == capacity.VM_SIZES["Standard_D4s_v5"] == (4000, 16384)
    assert capacity.VM_SIZES["Standard_D16ds_v5"] == (16000, 65536)
    assert sorted({cpu // 1000 for cpu, _ in capacity.VM_SIZES.values()}) == [2, 4, 8, 16, 32, 64]


def test_scripts_capacity_prints_the_plan_and_refuses_what_preview_refuses(tmp_path, capsys):
    # The script as a process once (with this Python: scripts/capacity only picks .venv's); its other answers
    # from its main(), in this process.
    dev = subprocess.run([sys.executable, str(ROOT / "scripts" / "capacity.py"), str(FIXTURES / "Pulumi.dev.yaml")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert dev.returncode == 0, dev.stderr
    assert "peak / idle                   24     4.29     5.38Gi         18    3.54" in dev.stdout
    assert "system pool: 3 x Standard_D4ds_v5" in dev.stdout
    assert "functions shaped like 'event-display' this cluster holds: 8 (6 within the 15% margin)" in dev.stdout
    assert "kafka-dual-role                1     0.50     2.00Gi          1    0.50  kafka.resources.brokers\n" \
        in dev.stdout
    assert "\nconsumers 6 at peak, 6 idle, 20 a dispatcher pod: 1 dispatcher pod at peak, 1 idle\n" in dev.stdout
    assert "\nheadroom at peak: CPU 63%, memory 85%\n" in dev.stdout
    script = load_script("capacity")

    def run(*args: str) -> tuple[int, str, str]:
        code = script.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    crowded = tmp_path / "Pulumi.crowded.yaml"
    crowded.write_text(yaml.safe_dump({"config": {f"knative-kafka:{k}": v for k, v in stack("dev", 50).items()}}))
    code, out, err = run(str(crowded))
    assert code == 1
    assert err.startswith("refused: knative-kafka:cluster.systemPool.maxCount: 3 is not allowed;")
    assert "kafka-source-dispatcher       15    15.00    10.25Gi         15   15.00" in out
    assert run("nope")[0] == 2
    code, _, err = run(str(FIXTURES / "Pulumi.prod.yaml"))
    assert code == 2 and "still has lines marked REPLACE" in err


RESTRICTED = "  knative-kafka:cluster: {authorizedIpRanges: [20.50.10.0/24]}\n"
# (stack file, what scripts/capacity says on its one line of stderr, the settings preview gets from it or None)
UNREADABLE = [
    pytest.param(b"config:\n  knative-kafka:kafka:\n    brokers: 3\n   storage: ephemeral\n",
                 "Pulumi.edited.yaml line 4, column 4: not YAML (expected <block end>, but found "
                 "'<block mapping start>')", None, id="indentation-slip"),
    pytest.param(b"config:\n  - knative-kafka:kafka\n", "Pulumi.edited.yaml: config: [\"knative-kafka:kafka\"] is not "
                 "allowed; an object of settings (knative-kafka:<key>: value)", None, id="config-as-a-list"),
    pytest.param(b"config:\n  knative-kafka:functions: [{name: caf\xe9}]\n", "Pulumi.edited.yaml: not UTF-8 text "
                 "(byte 0xe9 at offset 46)", None, id="not-utf-8"),
    pytest.param(b"config:\n  knative-kafak:functions: []\n", "knative-kafak:functions: unknown key; did you mean "
                 "knative-kafka:functions?", None, id="misspelt-namespace"),
    pytest.param(b"config:\n  knative-kafka:function: []\n", "knative-kafka:function: unknown key; allowed: "
                 "knative-kafka:versions, ", None, id="unknown-key"),
    pytest.param(b"config:\n" + RESTRICTED.encode() + b"  knative-kafka:functions: [{name: fn, topic: my-topic, env: "
                 b"{\"1\": x}}]\n", "knative-kafka:functions[0].env.1: x is not allowed; a value under an environment "
                 "variable name (letters, digits, '_'): \"1\" is not one",
                 {"functions": [{"name": "fn", "topic": "my-topic", "env": {"1": "x"}}]}, id="env-number-name"),
    # Unquoted, the key is a number, and Pulumi refuses the file before the program runs (tests/test_stack_file.py).
    pytest.param(b"config:\n" + RESTRICTED.encode() + b"  knative-kafka:functions: [{name: fn, topic: my-topic, env: "
                 b"{1: x}}]\n", "Pulumi.edited.yaml line 3, column 63: the key 1 is a number to YAML, and Pulumi takes "
                 "only text as a key (write it in quotes: \"1\")", None, id="env-number-key"),
    pytest.param(b"config:\n  knative-kafka:cluster: {kubernetesVersion: 1.30, authorizedIpRanges: [20.50.10.0/24]}\n",
                 'knative-kafka:cluster.kubernetesVersion: 1.3 is not allowed; a Kubernetes minor version such as '
                 '"1.35" (AKS patches it); YAML read a number: write it in quotes, "1.3" (YAML reads 1.30 as the '
                 'number 1.3: if you wrote 1.30, write "1.30")',
                 {"cluster": {"kubernetesVersion": 1.3, "authorizedIpRanges": ["20.50.10.0/24"]}},
                 id="unquoted-version"),
]


@pytest.mark.parametrize(("text", "message", "settings"), UNREADABLE)
def test_scripts_capacity_refuses_a_file_in_one_line_as_preview_does(pulumi_mocks, tmp_path, capsys, text, message,
                                                                     settings):
    path = tmp_path / "Pulumi.edited.yaml"
    path.write_bytes(text)
    assert load_script("capacity").main([str(path)]) == 2
    out, err = capsys.readouterr()
    assert (out, err.count("\n")) == ("", 1), err
    assert err.startswith(f"capacity: {message}"), err
    if settings is not None:                # the same file under `pulumi preview`
        with pytest.raises(ConfigError) as refused:
            pulumi_mocks.run_main("dev", settings)
        assert err == f"capacity: {refused.value}\n"


def test_scripts_capacity_warns_of_a_stack_without_functions(tmp_path, capsys):
    path = tmp_path / "Pulumi.platform.yaml"
    path.write_text(f"config:\n{RESTRICTED}  knative-kafka:functions: []\n")
    assert load_script("capacity").main([str(path)]) == 0
    assert capsys.readouterr().err.startswith("warning: knative-kafka:functions: [] deploys Knative and Kafka")


def test_scripts_capacity_without_the_requirements_names_the_command_that_installs_them():
    """Run by a Python that lacks them (no .venv yet: the wrapper falls back to python3), here one without
    site-packages."""
    result = subprocess.run([sys.executable, "-S", str(ROOT / "scripts" / "capacity.py"), "dev"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr == (f"capacity: pulumi is not installed: run `python3 -m venv .venv && .venv/bin/pip install "
                             f"-r requirements.txt` in {ROOT} (scripts/test does it too)\n")


def test_pod_capacity_replaces_the_controllers_own_setting_and_keeps_its_other_variables():
    """A kafka-controller that already sets POD_CAPACITY (upstream's 20) gets the stack's value in its place;
    one that does not, gets it added."""
    deployment = {"metadata": {"namespace": "knative-eventing", "name": "kafka-controller"},
                  "spec": {"template": {"spec": {"containers": [
                      {"name": "controller", "env": [{"name": "POD_CAPACITY", "value": "20"},
                                                     {"name": "SYSTEM_NAMESPACE", "value": "knative-eventing"}]},
                      {"name": "sidecar", "env": [{"name": "POD_CAPACITY", "value": "20"}]}]}}}}
    [transform] = capacity.controller_transforms(capacity.DispatcherSettings(40, 1400))
    result = transform(pulumi.ResourceTransformArgs(True, capacity.DEPLOYMENT, "kafka-controller", deployment,
                                                    pulumi.ResourceOptions()))
    assert isinstance(result, pulumi.ResourceTransformResult)
    props: Any = result.props
    controller, sidecar = props["spec"]["template"]["spec"]["containers"]
    assert controller["env"] == [{"name": "POD_CAPACITY", "value": "40"},
                                 {"name": "SYSTEM_NAMESPACE", "value": "knative-eventing"}]
    assert sidecar["env"] == [{"name": "POD_CAPACITY", "value": "20"}], "only the controller container"
    # a release whose controller leaves it to the default gets it added
    controller_only = {**deployment, "spec": {"template": {"spec": {"containers": [
        {"name": "controller", "env": [{"name": "SYSTEM_NAMESPACE", "value": "knative-eventing"}]}]}}}}
    result = transform(pulumi.ResourceTransformArgs(True, capacity.DEPLOYMENT, "kafka-controller", controller_only,
                                                    pulumi.ResourceOptions()))
    assert isinstance(result, pulumi.ResourceTransformResult)
    props = result.props
    assert props["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "SYSTEM_NAMESPACE", "value": "knative-eventing"}, {"name": "POD_CAPACITY", "value": "40"}]


def test_a_shortfall_names_only_what_is_short():
    p = plan("dev", 10)
    assert p.pool is not None
    exactly_the_memory = replace(p, components=(
        capacity.Component("one", 1, p.pool.cpu + 1000, p.pool.memory, "test"),))
    assert capacity.shortfall(exactly_the_memory) == "1.00 CPU"
