"""Invariants of every stack file: one provider, clean destroy, stable re-runs, narrow upgrades."""
from __future__ import annotations

import json
import os
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

import crs
from components.config import ConfigError, parse
from harness import (
    FIXTURES,
    IN_CI,
    ROOT,
    SHIPPED_STACKS,
    STACK_FILES,
    STACKS,
    USER_STACKS,
    Registry,
    is_secret,
    resolve,
    stack_config,
)

GROUP = "kubernetes:yaml/v2:ConfigGroup"
CHART = "kubernetes:helm.sh/v4:Chart"
KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"

# Each custom object and what runs its controller, webhook and finalizers. Deleting in reverse
# dependency order then removes every object while its controller still runs (UPSTREAM.md pitfalls).
CONTROLLED_BY: dict[str, list[tuple[str, str]]] = {
    "kubernetes:serving.knative.dev/v1:Service": [(GROUP, "serving-core"), (GROUP, "kourier")],
    "kubernetes:sources.knative.dev/v1:KafkaSource": [(GROUP, "eventing-kafka-controller"),
                                                       (GROUP, "eventing-kafka-source")],
    "kubernetes:eventing.knative.dev/v1alpha1:KafkaSink": [(GROUP, "eventing-kafka-controller"),
                                                            (GROUP, "eventing-kafka-sink")],
    "kubernetes:kafka.strimzi.io/v1:Kafka": [(CHART, "strimzi-kafka-operator")],
    "kubernetes:kafka.strimzi.io/v1:KafkaNodePool": [(CHART, "strimzi-kafka-operator")],
    "kubernetes:kafka.strimzi.io/v1:KafkaTopic": [(CHART, "strimzi-kafka-operator"), (KAFKA, "")],
    "kubernetes:kafka.strimzi.io/v1:KafkaUser": [(CHART, "strimzi-kafka-operator"), (KAFKA, "")],
}
# A patch of a ConfigMap waits for the release that ships it, by the ConfigMap's namespace.
PATCHED_RELEASE = {"knative-serving": [(GROUP, "serving-core")],
                   "knative-eventing": [(GROUP, "eventing-kafka-controller")]}

MANY_FUNCTIONS = {
    "topics": [{"name": "orders", "partitions": 6}, {"name": "audit", "partitions": 2}],
    "functions": [{"name": f"fn-{i}", "topic": "orders" if i % 2 else "audit", "namespace": f"team-{i % 3}",
                   "ordering": "unordered" if i % 4 == 0 else "ordered",
                   # an unordered function has no peak without maxScale (components/capacity.py)
                   "autoscaling": {"class": "hpa", "metric": "cpu"} if i == 5 else
                                  {"maxScale": 4} if i % 4 == 0 else {}}
                  for i in range(8)],
}


def test_the_project_ships_dev_prod_and_local_stacks():
    """By name: a stack file a user adds beside them is tested like them, not refused."""
    assert [name for name in SHIPPED_STACKS if name not in STACKS] == []


VARIANTS = {"many-functions": MANY_FUNCTIONS, "consumer-scaling": {"consumerScaling": {"enabled": True}}}


@pytest.fixture(params=[*USER_STACKS, *(f"dev+{variant}" for variant in VARIANTS)])
def stack(request, pulumi_mocks) -> Registry:
    name, _, variant = request.param.partition("+")
    return pulumi_mocks.run_main(name, VARIANTS[variant] if variant else None)


def test_every_kubernetes_object_uses_the_explicit_provider(stack):
    [provider] = stack.of_type("pulumi:providers:kubernetes")
    assert {r.provider_urn for r in stack.kubernetes_objects()} == {provider.urn}


def test_every_object_of_a_controller_depends_on_that_controller(stack):
    patches = stack.of_type("kubernetes:core/v1:ConfigMapPatch")
    checked = stack.custom_objects() + patches
    # Even a stack without functions has its Kafka, node pools, topics and Knative's patched settings.
    assert {r.type.rsplit(":", 1)[1] for r in checked} >= {"Kafka", "KafkaNodePool", "KafkaTopic", "ConfigMapPatch"}
    for obj in checked:
        controllers = PATCHED_RELEASE.get(obj.inputs["metadata"]["namespace"]) if obj in patches else \
            CONTROLLED_BY.get(obj.type)
        assert controllers, f"{obj.type} {obj.name} has no known controller: add it to CONTROLLED_BY or PATCHED_RELEASE"
        for typ, name in controllers:
            controller = stack.one(typ, name or None)
            assert stack.depends_on(obj, controller), f"{obj.name} does not wait for {controller.name}"


def test_custom_objects_that_later_steps_rely_on_are_awaited(stack):
    awaited = [r for r in stack.custom_objects() if r.type.rsplit(":", 1)[1] != "KafkaNodePool"]
    assert awaited
    for r in awaited:
        assert r.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready", r.name


def test_independent_installs_do_not_wait_for_each_other(stack):
    serving = stack.one(GROUP, "serving-core")
    eventing = stack.one(GROUP, "eventing-core")
    operator = stack.one(CHART)
    for a, b in [(serving, eventing), (eventing, serving), (operator, serving), (operator, eventing),
                 (serving, operator), (eventing, operator)]:
        assert not stack.depends_on(a, b), f"{a.name} needlessly waits for {b.name}"


def inputs_by_urn(registry: Registry) -> dict[str, Any]:
    return {r.urn: (r.inputs, sorted(r.dependencies), r.provider) for r in registry.all()}


@pytest.mark.fresh_render
@pytest.mark.parametrize("name", USER_STACKS)
def test_evaluating_a_stack_twice_registers_identical_inputs(pulumi_mocks, name):
    first = inputs_by_urn(pulumi_mocks.run_main(name))
    second = inputs_by_urn(pulumi_mocks.run_main(name))
    assert first == second


# version setting -> new value -> names of the only resources whose inputs may change
VERSION_BUMPS = [
    ("knativeServing", "1.23.1", {"serving-core"}),
    ("kourier", "1.23.1", {"kourier"}),
    ("knativeEventing", "1.23.1", {"eventing-core"}),
    ("eventingKafka", "1.23.1", {"eventing-kafka-controller", "eventing-kafka-source", "eventing-kafka-sink"}),
    ("strimziChart", "1.2.1", {"strimzi-kafka-operator"}),
    ("strimziChartRepo", "oci://registry.example/strimzi-kafka-operator", {"strimzi-kafka-operator"}),
    ("kafka", "4.3.0", {"my-cluster"}),
]


@pytest.mark.parametrize(("key", "value", "changed"), VERSION_BUMPS, ids=[b[0] for b in VERSION_BUMPS])
def test_a_version_bump_changes_only_the_resources_of_that_version(pulumi_mocks, key, value, changed):
    before = pulumi_mocks.run_main("dev")
    versions = {**stack_config("dev").get("versions", {}), key: value}
    after = pulumi_mocks.run_main("dev", {"versions": versions})
    assert set(before.registrations) == set(after.registrations)
    differs = {r.name for r in after.all() if r.inputs != before.registrations[r.urn].inputs}
    assert differs == changed


def test_local_stack_targets_an_existing_cluster_without_azure(pulumi_mocks):
    local = pulumi_mocks.run_main("local")
    assert [r for r in local.all() if r.type.startswith("azure-native:")] == []
    provider = local.one("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == os.path.expanduser("~/.kube/config")
    assert provider.inputs["context"] == "kind-knative"
    assert "kubeconfig" not in local.exports


def test_prod_stack_keeps_kafka_data_and_restricts_the_api_server(pulumi_mocks):
    prod = pulumi_mocks.run_main("prod")
    aks = prod.one("azure-native:containerservice:ManagedCluster").inputs
    assert aks["apiServerAccessProfile"]["authorizedIPRanges"] == ["20.50.10.0/24"]
    assert aks["sku"]["tier"] == "Standard"
    assert aks["agentPoolProfiles"][0]["availabilityZones"] == ["1", "2", "3"]
    kafka = prod.one(KAFKA)
    assert (kafka.protect, kafka.retain_on_delete) == (True, True)
    pools = prod.of_type("kubernetes:kafka.strimzi.io/v1:KafkaNodePool")
    assert sorted((p.inputs["spec"]["replicas"], tuple(p.inputs["spec"]["roles"])) for p in pools) == [
        (3, ("broker",)), (3, ("controller",))]
    for topic in prod.of_type("kubernetes:kafka.strimzi.io/v1:KafkaTopic"):
        assert topic.inputs["spec"]["replicas"] == 3
        assert topic.inputs["spec"]["config"]["min.insync.replicas"] == 2
    exported = resolve(prod.exports["functions"])["event-display"]
    assert exported["url"] == "http://event-display.event-display.svc.cluster.local"
    assert exported["commands"]["produce"] is None, "the function's KafkaUser may not write its topic"
    assert exported["commands"]["load"] is None


def test_prod_stack_authenticates_the_event_path(pulumi_mocks):
    prod = pulumi_mocks.run_main("prod")
    listeners = prod.one(KAFKA).inputs["spec"]["kafka"]["listeners"]
    assert [(listener["port"], listener["tls"], listener["authentication"]["type"]) for listener in listeners] == [
        (9093, True, "scram-sha-512")]
    source = prod.one("kubernetes:sources.knative.dev/v1:KafkaSource")
    assert source.inputs["spec"]["bootstrapServers"] == ["my-cluster-kafka-bootstrap.kafka-cluster.svc:9093"]
    assert source.inputs["spec"]["net"]["sasl"]["enable"] is True
    assert prod.one("kubernetes:kafka.strimzi.io/v1:KafkaUser").inputs["metadata"]["name"] == "event-display"
    assert "password" not in json.dumps({k: resolve(v) for k, v in prod.exports.items() if k != "kubeconfig"})


def test_credentials_reach_their_secrets_as_secret_outputs(pulumi_mocks, monkeypatch):
    """pulumi-kubernetes marks a Secret's stringData secret whatever it is given, so the registered inputs
    say nothing about the program: what is checked is what the program gives each Secret. Every password
    and key must be an Output already secret (pulumi-random's password, pulumi-tls's key), never a value
    the program made in the clear, which would also be clear in any other use of it."""
    given: dict[str, dict[str, Any]] = {}
    create = k8s.core.v1.Secret.__init__

    def recording(self: k8s.core.v1.Secret, resource_name: str, *args: Any, **kwargs: Any) -> None:
        given[resource_name] = dict(kwargs.get("string_data") or {})
        create(self, resource_name, *args, **kwargs)

    monkeypatch.setattr(k8s.core.v1.Secret, "__init__", recording)
    prod = pulumi_mocks.run_main("prod")
    assert sorted(given) == sorted(r.name for r in prod.of_type("kubernetes:core/v1:Secret"))
    credentials = {(secret, key): value for secret, data in given.items() for key, value in data.items()
                   if key in ("password", "ca.key")}
    assert len(credentials) >= 3, given
    for (secret, key), value in credentials.items():
        assert isinstance(value, pulumi.Output) and is_secret(value), f"{secret}: {key} is given in the clear"


@pytest.mark.any_stack
def test_no_stack_file_holds_a_plaintext_secret():
    for path in STACK_FILES.glob("Pulumi.*.yaml"):
        # Its settings only: Pulumi itself writes `secretsprovider:` and `encryptedkey:` beside them, no secret.
        text = json.dumps(yaml.safe_load(path.read_text()).get("config")).lower()
        assert [word for word in ("password", "token", "secret") if word in text] == [], path.name


@pytest.mark.parametrize("name", USER_STACKS)
def test_check_crs_finds_every_custom_resource_valid(name):
    """../shared/tools/check-crs, an outside view of what the program registers, run as the session starts
    (tests/crs.py). Without it the check fails in CI and, elsewhere, is reported as not run."""
    if not crs.CHECK_CRS.exists():
        why = (f"{crs.CHECK_CRS} is missing (../shared is not beside this checkout): the custom resources were "
               "not validated against the upstream CRD schemas")
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    result = crs.result(name)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 invalid, " in summary, summary
    # Kubernetes' own APIs (NetworkPolicy) have no CRD schema; pulumi-kubernetes types them instead.
    without_schema = [line.split()[2] for line in result.stdout.splitlines() if line.startswith("NO SCHEMA")]
    assert all(typ.split(":")[1].split("/")[0].endswith(".k8s.io") for typ in without_schema), without_schema


def test_project_file_is_one_the_cli_accepts():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "knative-kafka"
    assert project["runtime"]["name"] == "python"
    # The CLI types project config only as string, integer, boolean or array: an object would be refused.
    for key, declaration in (project.get("config") or {}).items():
        if isinstance(declaration, dict):
            assert declaration.get("type") in ("string", "integer", "boolean", "array"), key


def test_the_shipped_prod_file_is_refused_until_its_placeholders_are_replaced(pulumi_mocks):
    with pytest.raises(ConfigError) as refused:
        pulumi_mocks.run_main("prod", stack_config("prod", placeholders_filled=False))
    message = str(refused.value)
    assert message.startswith("knative-kafka:cluster.")
    assert "REPLACE" in (FIXTURES / "Pulumi.prod.yaml").read_text()
    assert pulumi_mocks.monitor is not None and pulumi_mocks.monitor.registrations == {}


def test_on_aks_nothing_in_the_cluster_is_applied_before_the_deployer_has_access(stack):
    waits = stack.of_type("command:local:Command")
    if not stack.of_type("azure-native:containerservice:ManagedCluster"):
        assert waits == [], "an existing cluster is used with the kubeconfig's own identity"
        return
    [wait] = waits
    for grant in stack.of_type("azure-native:authorization:RoleAssignment"):
        assert stack.depends_on(wait, grant)
    for obj in stack.kubernetes_objects():
        assert stack.depends_on(obj, wait), obj.name


def test_the_gateway_gets_a_public_address_only_when_a_function_is_public():
    for name in ("dev", "local", "prod"):
        assert parse(stack_config(name), name).gateway_service_type == "ClusterIP", name
    public = {"functions": [{"name": "api", "topic": "my-topic", "public": True}]}
    assert parse({**stack_config("dev"), **public}, "dev").gateway_service_type == "LoadBalancer"
    explicit = {"cluster": {**stack_config("dev")["cluster"], "gatewayServiceType": "NodePort"}}
    assert parse({**stack_config("dev"), **explicit}, "dev").gateway_service_type == "NodePort"
