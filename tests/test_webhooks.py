"""Knative Serving's and eventing-kafka's admission webhooks admit every object the stacks register:
their own validation code (../shared/tools/webhooks, built from knative-v1.23.0) judges, on create and
on update, not our reading of it. tests/webhooks.py holds every test's renders to it as well; here each
stack file and each stack with every function setting away from its default is admitted object by
object, and the webhook is shown to refuse what the day-2 rules say it refuses."""
from __future__ import annotations

import copy
from typing import Any

import pytest

import day2
import webhooks
from components.upstream import Upstream
from harness import IN_CI, SHIPPED_STACKS, USER_STACKS, Harness, Registry, stack_config

SERVICE = "kubernetes:serving.knative.dev/v1:Service"
KAFKA_SOURCE = "kubernetes:sources.knative.dev/v1:KafkaSource"
KAFKA_SINK = "kubernetes:eventing.knative.dev/v1alpha1:KafkaSink"

needs_validators = pytest.mark.skipif(not webhooks.available(), reason=webhooks.MISSING)


def every_function_setting(stack: str) -> dict[str, Any]:
    """The stack's settings plus two functions that between them set every function setting away from its
    default (what the stack allows: workload identity on AKS, a load producer on an authenticated Kafka),
    and the cluster-wide autoscaler settings Knative's webhook reads with them; lag-driven consumers on."""
    settings = copy.deepcopy(stack_config(stack))
    aks = (settings.get("cluster") or {}).get("mode", "aks") == "aks"
    authenticated = (settings.get("kafka") or {}).get("authentication", "scram-sha-512") != "none"
    topic = settings["functions"][0]["topic"]
    billing: dict[str, Any] = {
        "name": "billing", "namespace": "payments", "image": "ghcr.io/contoso/billing:2.1.0", "topic": topic,
        "ordering": "unordered", "consumers": 3, "consumerGroup": "billing-v1", "initialOffset": "latest",
        "timeoutSeconds": 600,
        "autoscaling": {"class": "kpa", "metric": "concurrency", "target": 20, "targetUtilizationPercentage": 80,
                        "minScale": 0, "maxScale": 12, "initialScale": 0, "window": "2m", "scaleDownDelay": "30s"},
        "delivery": {"retry": 3, "backoffPolicy": "linear", "backoffDelay": "PT1S", "timeout": "PT60S"},
        "deadLetter": {"topic": "billing-failed"},
        "env": {"LOG_LEVEL": "debug"}, "secretEnv": {"API_TOKEN": {"secret": "billing-api", "key": "token"}},
        "port": 8081, "public": True, "containerConcurrency": 10, "readOnlyRootFilesystem": False,
        "resources": {"requests": {"cpu": "200m", "memory": "192Mi"}, "limits": {"cpu": "500m", "memory": "384Mi"}},
        "workloadIdentity": aks, "loadProducer": authenticated,
        "consumerScaling": {"minConsumers": 1, "maxConsumers": 3, "lagThreshold": 50,
                            "pollingInterval": 5, "cooldownPeriod": 120},
    }
    audit = {"name": "audit", "namespace": "payments", "topic": topic, "deadLetter": {"enabled": False},
             "autoscaling": {"class": "hpa", "metric": "memory", "target": 70, "minScale": 2, "maxScale": 6},
             "consumerScaling": {"class": "disabled"}}
    settings["functions"] = [*settings["functions"], billing, audit]
    settings["consumerScaling"] = {"enabled": True}
    settings["autoscaler"] = {**(settings.get("autoscaler") or {}), "allowZeroInitialScale": True,
                              "enableScaleToZero": True, "maxScaleUpRate": 100, "maxScaleDownRate": 4}
    return settings


EVERY_FUNCTION_SETTING = "+every-function-setting"
# Each stack file as its user wrote it, and each shipped one (as tested) with every function setting.
RENDERS = [*USER_STACKS, *(f"{stack}{EVERY_FUNCTION_SETTING}" for stack in SHIPPED_STACKS)]


def render(harness: Harness, name: str) -> Registry:
    stack = name.removesuffix(EVERY_FUNCTION_SETTING)
    return harness.run_main(stack, every_function_setting(stack) if stack != name else None)


def test_the_upstream_webhook_validators_are_here():
    """Without them every admission below is skipped (a clone without ../shared); CI fails instead."""
    if not webhooks.available():
        if IN_CI:
            pytest.fail(webhooks.MISSING)
        pytest.skip(webhooks.MISSING)
    assert webhooks.judged_types() == {SERVICE, KAFKA_SOURCE, KAFKA_SINK}
    # What they say holds for the releases they were built from: a new default release needs new validators.
    defaults = Upstream()
    assert {defaults.knative_serving, defaults.eventing_kafka} == {webhooks.VALIDATED_KNATIVE}


@needs_validators
@pytest.mark.parametrize("name", RENDERS)
def test_the_webhooks_admit_every_knative_service_kafka_source_and_kafka_sink(pulumi_mocks, name):
    registry = render(pulumi_mocks, name)
    functions = registry.of_type("knative-kafka:functions:EventFunction")
    with_dead_letters = [f for f in functions if any(r.type == KAFKA_SINK for r in registry.children_of(f))]
    # A Service and a KafkaSource per function, a KafkaSink per function with dead letters: and no other
    # Knative object the webhooks would not judge.
    knative = [r for r in registry.custom_objects() if r.type.split(":")[1].split("/")[0].endswith("knative.dev")]
    assert {r.type for r in knative} <= webhooks.judged_types()
    assert len(knative) == 2 * len(functions) + len(with_dead_letters)
    # Harness.run admitted them already (it fails a test on a denial); here each one is seen answered.
    assert webhooks.verdicts(registry) == {r.urn: "" for r in knative}


@needs_validators
@pytest.mark.parametrize("name", RENDERS)
def test_the_webhooks_admit_a_redeploy_as_an_update_of_every_object(pulumi_mocks, name):
    """The next `pulumi up` with the same settings (reading its deployed settings back): update rules
    (immutable fields, annotations the webhook owns) hold against the object as first created."""
    first = render(pulumi_mocks, name)
    stack = name.removesuffix(EVERY_FUNCTION_SETTING)
    again = day2.redeploy(stack, every_function_setting(stack) if stack != name else stack_config(stack), first)
    assert webhooks.verdicts(again, before=first) == webhooks.verdicts(first)
    assert webhooks.denials(again, before=first) == {}


@needs_validators
@pytest.mark.parametrize("name", RENDERS)
def test_the_pods_knative_builds_for_every_function_meet_pod_security_restricted(pulumi_mocks, name):
    """Function namespaces enforce `restricted`; what is judged is the Deployment Knative's own reconcilers
    build (queue-proxy and the defaults of config-features / config-deployment included), not our template."""
    registry = render(pulumi_mocks, name)
    pods = webhooks.pod_security(registry)
    assert sorted(pods) == sorted(r.inputs["metadata"]["name"] for r in registry.of_type(SERVICE))
    assert {name: broken for name, broken in pods.items() if broken} == {}


@needs_validators
def test_every_option_reaches_the_webhooks(pulumi_mocks):
    """The render with every function setting sets them where Knative reads them, none at its default value
    (a value equal to its default would leave that branch of the webhooks unjudged)."""
    registry = render(pulumi_mocks, f"prod{EVERY_FUNCTION_SETTING}")
    billing = registry.named("billing-service").inputs["spec"]["template"]
    annotations = billing["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/initial-scale"] == "0"
    assert annotations["autoscaling.knative.dev/window"] == "2m"
    assert billing["spec"]["serviceAccountName"] == "billing"
    assert billing["spec"]["containers"][0]["ports"] == [{"containerPort": 8081}]
    assert annotations["autoscaling.knative.dev/metric"] == "concurrency"
    audit = registry.named("audit-service").inputs["spec"]["template"]["metadata"]["annotations"]
    assert audit["autoscaling.knative.dev/class"] == "hpa.autoscaling.knative.dev"
    assert audit["autoscaling.knative.dev/metric"] == "memory"
    source = registry.named("billing-source").inputs["spec"]
    assert (source["ordering"], source["initialOffset"], source["consumers"]) == ("unordered", "latest", 3)
    assert "net" in source


@needs_validators
def test_knative_refuses_initial_scale_zero_unless_the_cluster_allows_it(pulumi_mocks):
    """The webhook reads config-autoscaler as the stack patches it: without allow-zero-initial-scale the
    same Service is refused (serving pkg/apis/autoscaling/annotation_validation.go)."""
    registry = render(pulumi_mocks, f"dev{EVERY_FUNCTION_SETTING}")
    patch = next(r for r in registry.of_type("kubernetes:core/v1:ConfigMapPatch")
                 if r.inputs["metadata"]["name"] == "config-autoscaler")
    patch.inputs["data"]["allow-zero-initial-scale"] = "false"
    denied = webhooks.denials(registry)
    assert [registry.registrations[urn].name for urn in denied] == ["billing-service"]
    assert "initial-scale" in next(iter(denied.values()))


@needs_validators
# The webhooks' own messages (eventing-kafka-broker control-plane/pkg/apis: sources/v1/kafka_validation.go
# through knative.dev/pkg's CheckImmutableFields, eventing/v1alpha1/kafka_sink_validation.go).
@pytest.mark.parametrize(("immutable", "edit", "resource", "field", "message"), [
    ("KAFKA_SOURCE_IMMUTABLE", {"functions[0].consumerGroup": "event-display-v2"}, "event-display-source",
     "spec.consumerGroup", 'Immutable fields changed (-old +new): spec\n{string}:\n\t-: "knative-kafka-default-'
                           'event-display"\n\t+: "event-display-v2"'),
    ("KAFKA_SINK_IMMUTABLE", {"functions[0].deadLetter.topic": "event-display-dlq"}, "event-display-dead-letter",
     "spec.topic", "Immutable field updated: spec.topic"),
])
def test_the_webhook_refuses_the_updates_the_day2_rules_call_immutable(monkeypatch, immutable, edit, resource,
                                                                       field, message):
    """Our table of immutable fields (day2.RULES, event_function.py) against eventing-kafka's own code: the
    edit the program replaces is refused by the webhook as an update, and admitted as the planned create."""
    from components import event_function

    before = day2.deploy("dev", day2.settings("dev"))
    planned = day2.judge(before, day2.redeploy("dev", day2.settings("dev", edit), before))
    monkeypatch.setattr(event_function, immutable, ())
    unplanned = day2.judge(before, day2.redeploy("dev", day2.settings("dev", edit), before))
    [key] = [k for k in planned.by_key if k.endswith(f"/{resource}")]
    assert planned.verdicts()[key] == "replaced"
    assert planned[key].change.denial == ""
    assert unplanned.paths(key) == [field]
    assert "the admission webhook denies the update" in unplanned[key].verdict
    assert unplanned[key].change.denial.strip() == message
