"""Consumers that follow the lag (issue 18): eventing-kafka's alpha KEDA autoscaler for KafkaSources, the KEDA it
needs (AKS add-on, Helm chart, or present), Kafka's listener open to KEDA's operator, the idle figure of the
capacity plan, and a function reading another function's dead letters.

Every render below goes through Harness.run, so the upstream webhooks admit each KafkaSource it registers.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest

import day2
from components import capacity
from components.config import ConfigError, parse
from harness import Harness, resolve, stack_config

KAFKA_SOURCE = "kubernetes:sources.knative.dev/v1:KafkaSource"
CONFIG_MAP_PATCH = "kubernetes:core/v1:ConfigMapPatch"
CHART = "kubernetes:helm.sh/v4:Chart"
NAMESPACE = "kubernetes:core/v1:Namespace"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
KAFKA_USER = "kubernetes:kafka.strimzi.io/v1:KafkaUser"
SECRET = "kubernetes:core/v1:Secret"
ANNOTATION = "autoscaling.eventing.knative.dev/"
# kedacore/charts keda/templates/manager/deployment.yaml labels the operator's pods with both
KEDA_PEERS = [{"matchLabels": {"app": "keda-operator"}}, {"matchLabels": {"app.kubernetes.io/name": "keda-operator"}}]
RETENTION = "offsets.retention.minutes"


def settings(stack: str, scaling: dict[str, Any] | None = None, authenticated: bool | None = None,
             **function: Any) -> dict[str, Any]:
    s = copy.deepcopy(stack_config(stack))
    if scaling is not None:
        s["consumerScaling"] = scaling
    if authenticated is not None:
        s["kafka"] = {**s["kafka"], "authentication": "scram-sha-512" if authenticated else "none"}
    s["functions"][0].update(function)
    return s


def refused(s: dict[str, Any], stack: str = "dev") -> str:
    with pytest.raises(ConfigError) as e:
        parse(s, stack)
    return str(e.value)


def source_annotations(source) -> dict[str, str]:
    return {k.removeprefix(ANNOTATION): v for k, v in source.inputs["metadata"]["annotations"].items()
            if k.startswith(ANNOTATION)}


# --- settings ----------------------------------------------------------------------------------------

def test_off_by_default_and_function_settings_need_the_stack_switch():
    for stack in ("dev", "local", "prod"):
        cfg = parse(stack_config(stack), stack)
        assert cfg.consumer_scaling is None and all(f.consumer_scaling is None for f in cfg.functions)
    assert "functions[0].consumerScaling.minConsumers: 1 is not allowed; only with knative-kafka:consumerScaling" \
           ".enabled true" in refused(settings("dev", consumerScaling={"minConsumers": 1}))
    assert "consumerScaling.lagThreshold: 10 is not allowed; only with enabled: true" in refused(
        settings("dev", {"lagThreshold": 10}))


def test_a_function_scales_from_its_minimum_to_its_partitions_by_default():
    on = parse(settings("dev", {"enabled": True}), "dev")
    [f] = on.functions
    assert f.consumer_scaling is not None
    assert f.consumer_scaling.annotations() == {
        ANNOTATION + "class": "keda.autoscaling.knative.dev", ANNOTATION + "min-scale": "0",
        ANNOTATION + "max-scale": "6", ANNOTATION + "lag-threshold": "100", ANNOTATION + "polling-interval": "10",
        ANNOTATION + "cooldown-period": "30"}
    assert (f.peak_consumers, f.idle_consumers) == (6, 0)
    fewer = parse(settings("dev", {"enabled": True}, consumers=2), "dev").functions[0]
    assert fewer.peak_consumers == 2, "maxConsumers follows `consumers` when that is lower"


def test_stack_defaults_apply_where_a_function_sets_nothing_and_reach_config_kafka_autoscaler():
    cfg = parse(settings("dev", {"enabled": True, "minConsumers": 1, "lagThreshold": 20, "pollingInterval": 5,
                                 "cooldownPeriod": 120},
                         consumerScaling={"lagThreshold": 50, "maxConsumers": 4}), "dev")
    assert cfg.consumer_scaling is not None
    assert cfg.consumer_scaling.autoscaler_data() == {
        "class": "keda.autoscaling.knative.dev", "min-scale": "1", "lag-threshold": "20", "polling-interval": "5",
        "cooldown-period": "120"}
    scaling = cfg.functions[0].consumer_scaling
    assert scaling is not None
    values = {k.removeprefix(ANNOTATION): v for k, v in scaling.annotations().items()}
    assert (values["min-scale"], values["lag-threshold"], values["max-scale"], values["polling-interval"]) == (
        "1", "50", "4", "5")
    # eventing-kafka 1.23 never puts it into KEDA's trigger (keda/keda.go:75-81), so it is not offered
    assert "unknown key(s) activationLagThreshold" in refused(settings("dev", {"enabled": True,
                                                                          "activationLagThreshold": 5}))


def test_class_disabled_keeps_the_fixed_consumers_and_takes_no_other_setting():
    cfg = parse(settings("dev", {"enabled": True}, consumers=3, consumerScaling={"class": "disabled"}), "dev")
    [f] = cfg.functions
    assert f.consumer_scaling is not None
    assert f.consumer_scaling.annotations() == {ANNOTATION + "class": "disabled"}
    assert (f.peak_consumers, f.idle_consumers) == (3, 3)
    assert "consumerScaling.minConsumers: 0 is not allowed; only with class 'keda'" in refused(
        settings("dev", {"enabled": True}, consumerScaling={"class": "disabled", "minConsumers": 0}))


@pytest.mark.parametrize(("key", "value", "allowed"), [
    # int32, as eventing-kafka parses them (strconv.ParseInt(v, 10, 32))
    ("minConsumers", -1, "a whole number at least 0 and at most 2147483647"),
    ("lagThreshold", 0, "a whole number at least 1"),          # KEDA's Kafka scaler: positive
    ("lagThreshold", 2**31, "at most 2147483647"),
    ("pollingInterval", 0, "a whole number at least 1"),
    ("cooldownPeriod", -1, "a whole number at least 0"),
    ("maxConsumers", 7, "at most 6 (the partitions of topic 'my-topic')"),
    ("maxConsumers", 0, "a whole number at least 1"),
    ("minConsumers", 3, None),
])
def test_function_values_outside_what_upstream_takes_are_refused(key, value, allowed):
    function = {key: value, **({"maxConsumers": 2} if key == "minConsumers" and value == 3 else {})}
    message = refused(settings("dev", {"enabled": True}, consumerScaling=function))
    assert f"functions[0].consumerScaling.{key}: {value!r} is not allowed; " in message
    assert (allowed or "at most maxConsumers (2)") in message


def test_keda_comes_from_the_aks_add_on_or_on_an_existing_cluster_from_helm_or_is_present():
    aks = parse(settings("dev", {"enabled": True}), "dev").consumer_scaling
    local = parse(settings("local", {"enabled": True}), "local").consumer_scaling
    assert aks is not None and local is not None
    assert (aks.keda, aks.keda_namespace, local.keda, local.keda_namespace) == ("addon", "kube-system", "helm", "keda")
    assert "consumerScaling.keda: helm is not allowed; 'addon' on an AKS stack" in refused(
        settings("dev", {"enabled": True, "keda": "helm"}))
    assert "consumerScaling.keda: addon is not allowed" in refused(
        settings("local", {"enabled": True, "keda": "addon"}), "local")
    assert "consumerScaling.kedaNamespace: keda is not allowed; 'kube-system' with the AKS add-on" in refused(
        settings("dev", {"enabled": True, "kedaNamespace": "keda"}))
    assert "consumerScaling.kedaNamespace: knative-eventing is not allowed" in refused(
        settings("local", {"enabled": True, "kedaNamespace": "knative-eventing"}), "local")


# --- renders: every combination ------------------------------------------------------------------------

COMBINATIONS = [
    # stack, consumerScaling, authenticated, KEDA's namespace (None: off), chart installed
    ("dev", None, False, None, False),
    ("dev", {"enabled": True}, False, "kube-system", False),
    ("dev", {"enabled": True, "minConsumers": 1}, True, "kube-system", False),
    ("prod", {"enabled": True}, True, "kube-system", False),
    ("local", None, False, None, False),
    ("local", {"enabled": True}, False, "keda", True),
    ("local", {"enabled": True, "minConsumers": 1}, True, "keda", True),
    ("local", {"enabled": True, "keda": "present", "kedaNamespace": "autoscaling"}, False, "autoscaling", False),
]


@pytest.mark.parametrize(("stack", "scaling", "authenticated", "keda_namespace", "chart"), COMBINATIONS)
def test_each_combination_renders_keda_the_feature_flags_the_listener_and_the_annotations(
        pulumi_mocks, stack, scaling, authenticated, keda_namespace, chart):
    registry = pulumi_mocks.run_main(stack, settings(stack, scaling, authenticated))
    on = scaling is not None
    if stack != "local":
        profile = registry.one(MANAGED_CLUSTER).inputs["workloadAutoScalerProfile"]
        assert profile == {"keda": {"enabled": on}}, "switching off must switch the add-on off too"
    charts = [r for r in registry.of_type(CHART) if r.name == "keda"]
    assert bool(charts) is chart
    if chart:
        assert (charts[0].inputs["chart"], charts[0].inputs["version"], charts[0].inputs["repositoryOpts"]) == (
            "keda", "2.20.2", {"repo": "https://kedacore.github.io/charts"})
        assert registry.one(NAMESPACE, "keda").inputs["metadata"]["name"] == "keda"
    patches = {r.name: r for r in registry.of_type(CONFIG_MAP_PATCH) if r.name.startswith("config-kafka-")}
    assert set(patches) == ({"config-kafka-features", "config-kafka-autoscaler"} if on else set())
    source = registry.one(KAFKA_SOURCE)
    if on:
        assert patches["config-kafka-features"].inputs["data"] == {"controller-autoscaler-keda": "enabled"}
        assert patches["config-kafka-autoscaler"].inputs["metadata"]["namespace"] == "knative-eventing"
        assert source_annotations(source)["min-scale"] == str(scaling.get("minConsumers", 0))
        assert source_annotations(source)["max-scale"] == "6"
        # The source is written once KEDA runs and the feature is on: KEDA's objects from its first reconcile.
        for needed in [*patches.values(), *charts]:
            assert registry.depends_on(source, needed), needed.name
    else:
        assert source_annotations(source) == {"class": "disabled"}, "upstream scales a source without a class"
    kafka = registry.one(KAFKA).inputs["spec"]["kafka"]
    for listener in kafka["listeners"]:
        peers = [p for p in listener["networkPolicyPeers"] if p.get("podSelector") in KEDA_PEERS]
        assert peers == ([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": keda_namespace}},
                           "podSelector": selector} for selector in KEDA_PEERS] if on else [])
    assert kafka["config"].get(RETENTION) == (2**31 - 1 if on else None), "an idle group's offsets must not expire"
    if authenticated:
        secret_name = source.inputs["spec"]["net"]["sasl"]["type"]["secretKeyRef"]["name"]
        secret = registry.one(SECRET, secret_name)
        # What the kafka-controller parses to build KEDA's TriggerAuthentication (autoscaler/keda/keda.go,
        # security/secret.go): protocol first, then the SASL mechanism, user, password and CA.
        assert {"protocol", "sasl.mechanism", "user", "password", "ca.crt"} <= set(secret.inputs["stringData"])
        assert resolve(secret.inputs["stringData"]["protocol"]) == "SASL_SSL"
        assert resolve(secret.inputs["stringData"]["sasl.mechanism"]) == "SCRAM-SHA-512"


# --- turning scaling off, or KEDA's chart away -----------------------------------------------------------

def test_keda_chart_stays_while_keda_scales_a_function_and_goes_once_every_function_is_disabled():
    """live_changes row consumerScaling.keda: the chart would take KEDA's CRDs while ScaledObjects hold its
    finalizer."""
    on = day2.deploy("local", settings("local", {"enabled": True}))
    assert resolve(on.exports["settings"])["consumerScaling"] == {"keda": "helm", "kedaScaled": ["event-display"]}
    off = settings("local", {"enabled": False})
    with pytest.raises(ConfigError, match=r"^knative-kafka:consumerScaling\.enabled: false is not allowed; KEDA's "
                                          r"chart kept .* scales the consumers of event-display as deployed: .* "
                                          r"First set every function's consumerScaling\.class 'disabled'"):
        day2.redeploy("local", off, on)
    with pytest.raises(ConfigError, match=r"^knative-kafka:consumerScaling\.keda: present is not allowed"):
        day2.redeploy("local", settings("local", {"enabled": True, "keda": "present"}), on)
    # The procedure: kafka-controller deletes the ScaledObjects while KEDA runs, then the chart may go.
    disabled = day2.redeploy("local", settings("local", {"enabled": True}, consumerScaling={"class": "disabled"}), on)
    day2.check(disabled, day2.redeploy("local", off, disabled), may_touch={"*"})
    # Nothing to protect where KEDA is not this program's chart, or not known to be (deployed before `settings`
    # carried consumerScaling).
    aks = day2.deploy("dev", settings("dev", {"enabled": True}))
    day2.check(aks, day2.redeploy("dev", settings("dev"), aks), may_touch={"*"})
    before = resolve(on.exports["settings"])
    del before["consumerScaling"]
    Harness().run_main("local", off, deployed={"settings": before})


def test_capacity_output_shows_idle_below_peak_with_keda_counted_in_both(pulumi_mocks):
    exported = resolve(pulumi_mocks.run_main("dev", settings("dev", {"enabled": True})).exports["capacity"])
    dispatchers = exported["dispatchers"]
    assert dispatchers["peak"] == {"consumers": 6, "pods": 1, "cpuMillicores": 1000, "memoryMiB": 700}
    assert dispatchers["idle"] == {"consumers": 0, "pods": 0, "cpuMillicores": 0, "memoryMiB": 0}
    assert exported["keda"] == {"pods": 3, "cpuMillicores": 300, "memoryMiB": 300}
    assert exported["components"]["keda"] == exported["keda"]
    # Platform 2545m + KEDA 300m; peak: 6 replicas (750m) and a dispatcher (1000m); idle: neither.
    assert exported["peak"]["cpuMillicores"] == 2545 + 300 + 750 + 1000
    assert exported["idle"]["cpuMillicores"] == 2545 + 300


def test_idle_dispatchers_count_each_function_at_its_minimum_and_the_peak_still_decides():
    fifty = {"topics": [{"name": "orders", "partitions": 6}],
             "functions": [{"name": f"fn-{i}", "topic": "orders", "consumerScaling": {"minConsumers": 1}}
                           for i in range(50)]}
    cfg = parse({**stack_config("prod"), **fifty, "consumerScaling": {"enabled": True}}, "prod")
    p = capacity.plan(cfg)
    assert (p.consumers, p.idle_consumers) == (300, 50)
    assert (p.component("kafka-source-dispatcher").pods, p.idle_component("kafka-source-dispatcher").pods) == (15, 3)
    dev = {**stack_config("dev"), **fifty, "consumerScaling": {"enabled": True}}
    with pytest.raises(ConfigError, match="15 dispatcher pods for 300 consumers"):
        capacity.enforce(parse(dev, "dev"))


# --- dead letters as a source ----------------------------------------------------------------------

REPLAY = {"name": "replay", "topic": "my-topic-dlq", "deadLetter": {"enabled": False}}


def with_functions(stack: str, *functions: dict[str, Any], **sections: Any) -> dict[str, Any]:
    s = copy.deepcopy(stack_config(stack))
    s["functions"] = [*s["functions"], *functions]
    return {**s, **sections}


def test_a_function_may_read_another_functions_dead_letters(pulumi_mocks):
    cfg = parse(with_functions("dev", REPLAY), "dev")
    replay = cfg.functions[1]
    assert (replay.topic.name, replay.topic.partitions, replay.consumers) == ("my-topic-dlq", 1, 1)
    assert [t.name for t in cfg.dead_letter_topics] == ["my-topic-dlq"], "created once, by its writer"
    # Listed before their writers, a chain: each parsed once its writer's dead-letter topic is known, and kept in
    # the stack file's order.
    inspect = {"name": "inspect", "topic": "replay-failed"}
    chain = [inspect, {**REPLAY, "deadLetter": {"topic": "replay-failed"}}, stack_config("dev")["functions"][0]]
    first = parse({**stack_config("dev"), "functions": chain}, "dev")
    assert [(f.name, f.topic.name) for f in first.functions] == [
        ("inspect", "replay-failed"), ("replay", "my-topic-dlq"), ("event-display", "my-topic")]
    registry = pulumi_mocks.run_main("prod", with_functions("prod", {**REPLAY, "namespace": "event-display"}))
    source = next(r for r in registry.of_type(KAFKA_SOURCE) if r.name == "replay-source")
    assert resolve(source.inputs["spec"]["topics"]) == ["my-topic-dlq"]
    user = registry.one(KAFKA_USER, "replay-kafka-user")
    acls = resolve(user.inputs["spec"]["authorization"]["acls"])
    assert {"resource": {"type": "topic", "name": "my-topic-dlq", "patternType": "literal"},
            "operations": ["Describe", "Read"]} in acls


def test_a_function_reading_its_own_dead_letters_is_refused_directly_or_through_others():
    direct = refused(with_functions("dev", {**REPLAY, "deadLetter": {"topic": "my-topic-dlq"}}))
    assert "functions[1].deadLetter.topic: my-topic-dlq is not allowed; a dead-letter topic that does not lead " \
           "back to the topic the function reads ('my-topic-dlq'): replay (dead letters to 'my-topic-dlq')" in direct
    again = {"name": "again", "topic": "replay-failed", "deadLetter": {"topic": "my-topic-dlq"}}
    around = refused(with_functions("dev", {**REPLAY, "deadLetter": {"topic": "replay-failed"}}, again))
    assert "replay (dead letters to 'replay-failed') -> again (dead letters to 'my-topic-dlq')" in around
    unknown = refused(with_functions("dev", {**REPLAY, "topic": "nope"}))
    assert "functions[1].topic: nope is not allowed; the name of a topic declared under knative-kafka:topics " \
           "(my-topic) or the dead-letter topic of another function (my-topic-dlq)" in unknown


def idle_cpu(name: str, **sections: Any) -> tuple[int, int]:
    p = capacity.plan(parse({**stack_config(name), **sections}, name))
    return p.idle.cpu, p.idle_component("kafka-source-dispatcher").pods


def test_the_idle_figures_readme_quotes():
    """README "Capacity". Idle keeps the platform and each function's minScale (prod's event-display: 1 x 125m);
    fixed consumers keep their dispatcher (1000m); KEDA's 3 pods add 300m."""
    on = {"consumerScaling": {"enabled": True}}
    assert idle_cpu("dev") == (2545 + 1000, 1)
    assert idle_cpu("dev", **on) == (2545 + 300, 0)
    assert idle_cpu("prod") == (4295 + 125 + 1000, 1)
    assert idle_cpu("prod", **on) == (4295 + 125 + 300, 0)
    fifty = [{"name": f"fn-{i}", "topic": "orders"} for i in range(50)]
    orders = [{"name": "orders", "partitions": 6}]
    assert idle_cpu("prod", topics=orders, functions=fifty) == (4295 + 15 * 1000, 15)
    assert idle_cpu("prod", topics=orders, functions=fifty, **on) == (4295 + 300, 0)
    warm = [{**f, "consumerScaling": {"minConsumers": 1}} for f in fifty]
    assert idle_cpu("prod", topics=orders, functions=warm, **on) == (4295 + 300 + 3 * 1000, 3)
